/* The sandbox root's extra mounts (`--bind`, `--tmpfs`, `--mqueue`) and the bound root
 * of `--overlay none` (read-only) and `--overlay direct` (read-write), in the
 * gofer's private mount namespace.
 *
 * Every target is looked up below the sandbox root with openat2
 * RESOLVE_IN_ROOT and mounted on through its fd (move_mount), never by a
 * path string: a symlink in an untrusted --rootfs must not turn `--bind
 * SRC:/data` into a mount on the host's /etc (the runc CVE-2021-30465 class).
 * The new mount API also makes a read-only bind read-only before it is
 * attached, with AT_RECURSIVE for its submounts: there is no moment where it
 * is writable, and no submount stays writable.
 */
#define _GNU_SOURCE
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

static int open_in_root(int root, const char *rel, int flags) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (unsigned long long)(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return (int)syscall(SYS_openat2, root, rel[0] ? rel : ".", &how, sizeof how);
}

/* Creates the last component of rel (a directory, or an empty file) in its
 * parent, both looked up below the root. An existing one is fine: whatever
 * it is, the caller checks its type. */
static void create_in_root(int root, char *rel, int dir) {
  char *slash = strrchr(rel, '/');
  const char *name = rel;
  int parent;
  if (slash) {
    *slash = 0;
    parent = open_in_root(root, rel, O_PATH | O_DIRECTORY);
    *slash = '/';
    name = slash + 1;
  } else {
    parent = open_in_root(root, "", O_PATH | O_DIRECTORY);
  }
  if (parent < 0) die_errno("open the parent of /%s", rel);
  int r;
  if (dir) {
    r = mkdirat(parent, name, 0755);
  } else {
    r = openat(parent, name, O_CREAT | O_EXCL | O_WRONLY | O_NOFOLLOW | O_CLOEXEC, 0644);
    if (r >= 0) close(r);
  }
  if (r < 0 && errno != EEXIST) die_errno("create /%s", rel);
  close(parent);
}

/* An O_PATH fd of dst below the root, made first (with its missing parents)
 * when it does not exist and the root is writable. */
static int target_fd(int root, const char *dst, int want_dir, int may_create, const char *what) {
  if (dst[0] != '/') die("%s: %s is not an absolute path", what, dst);
  char rel[4096];
  while (*dst == '/') dst++;
  if ((size_t)snprintf(rel, sizeof rel, "%s", dst) >= sizeof rel) die("%s: path too long", what);
  for (size_t n = strlen(rel); n > 0 && rel[n - 1] == '/'; n--) rel[n - 1] = 0;
  if (!rel[0]) die("%s: cannot mount over the sandbox's root", what);

  int fd = open_in_root(root, rel, O_PATH);
  if (fd < 0) {
    if (errno != ENOENT) die_errno("%s: /%s", what, rel);
    if (!may_create) die("%s: /%s does not exist in the sandbox, and with --overlay none its root is read-only", what, rel);
    /* Each prefix in turn, so that a symlink on the way resolves below the root. */
    for (char *p = rel;;) {
      char *slash = strchr(p, '/');
      if (slash) *slash = 0;
      int probe = open_in_root(root, rel, O_PATH);
      if (probe < 0 && errno == ENOENT) {
        create_in_root(root, rel, slash != NULL || want_dir);
        probe = open_in_root(root, rel, O_PATH);
        /* Still missing: it is a symlink to nothing. Not followed to make its target. */
        if (probe < 0 && errno == ENOENT) die("%s: /%s is a symlink whose target does not exist in the sandbox", what, rel);
      }
      if (probe < 0) die_errno("%s: /%s", what, rel);
      close(probe);
      if (!slash) break;
      *slash = '/';
      p = slash + 1;
    }
    fd = open_in_root(root, rel, O_PATH);
    if (fd < 0) die_errno("%s: /%s", what, rel);
  }
  struct stat st;
  if (fstat(fd, &st) < 0) die_errno("%s: stat /%s", what, rel);
  if (want_dir && !S_ISDIR(st.st_mode)) die("%s: /%s is not a directory in the sandbox", what, rel);
  if (!want_dir && S_ISDIR(st.st_mode)) die("%s: /%s is a directory in the sandbox, the source a file", what, rel);
  return fd;
}

static void attach(int tree, int target, const char *what) {
  if (move_mount(tree, "", target, "", MOVE_MOUNT_F_EMPTY_PATH | MOVE_MOUNT_T_EMPTY_PATH) < 0) die_errno("%s: move_mount", what);
  close(tree);
  close(target);
}

static void make_read_only(int tree, unsigned int recursive, const char *what) {
  struct mount_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.attr_set = MOUNT_ATTR_RDONLY;
  if (mount_setattr(tree, "", AT_EMPTY_PATH | recursive, &attr, sizeof attr) < 0) die_errno("%s: make it read-only", what);
}

void bind_root(const char *lower, const char *merged, int read_only) {
  /* Not recursive: the overlay's lower layer shows only the root's own
   * filesystem too, and the sandbox gets its own /proc, /dev and /sys. */
  const char *what = read_only ? "--overlay none" : "--overlay direct";
  int tree = open_tree(AT_FDCWD, lower, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC);
  if (tree < 0) die_errno("%s: bind %s", what, lower);
  if (read_only) make_read_only(tree, 0, what);
  if (move_mount(tree, "", AT_FDCWD, merged, MOVE_MOUNT_F_EMPTY_PATH) < 0) die_errno("%s: mount the root on %s", what, merged);
  close(tree);
}

static void bind_mount(int root, const struct mount_req *m, int may_create) {
  char what[4200];
  snprintf(what, sizeof what, "--bind %s:%s", m->src, m->dst);
  /* Recursive, as Docker's binds are: what is mounted below SRC on the host shows too. */
  int tree = open_tree(AT_FDCWD, m->src, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
  if (tree < 0) die_errno("%s: open %s", what, m->src);
  struct stat st;
  if (fstat(tree, &st) < 0) die_errno("%s: stat %s", what, m->src);
  if (m->read_only) make_read_only(tree, AT_RECURSIVE, what);
  attach(tree, target_fd(root, m->dst, S_ISDIR(st.st_mode), may_create, what), what);
}

/* opts: "key=value,..." with size and mode only (the TypeScript side wrote
 * them from a checked spec; anything else is refused here too). */
static void tmpfs_mount(int root, const struct mount_req *m, int may_create) {
  char what[4200], opts[256];
  snprintf(what, sizeof what, "--tmpfs %s", m->dst);
  if ((size_t)snprintf(opts, sizeof opts, "%s", m->opts) >= sizeof opts) die("%s: options too long", what);
  int fsfd = fsopen("tmpfs", FSOPEN_CLOEXEC);
  if (fsfd < 0) die_errno("%s: fsopen", what);
  if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "tsvisor-tmpfs", 0) < 0) die_errno("%s: source", what);
  char *save = NULL;
  for (char *kv = strtok_r(opts, ",", &save); kv; kv = strtok_r(NULL, ",", &save)) {
    char *eq = strchr(kv, '=');
    if (!eq) die("%s: bad option %s", what, kv);
    *eq = 0;
    if (strcmp(kv, "size") != 0 && strcmp(kv, "mode") != 0) die("%s: unknown option %s", what, kv);
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, kv, eq + 1, 0) < 0) die_errno("%s: %s=%s", what, kv, eq + 1);
  }
  if (sandbox_root_uid >= 0) {
    char id[24];
    snprintf(id, sizeof id, "%ld", sandbox_root_uid);
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, "uid", id, 0) < 0) die_errno("%s: uid=%s", what, id);
    snprintf(id, sizeof id, "%ld", sandbox_root_gid);
    if (fsconfig(fsfd, FSCONFIG_SET_STRING, "gid", id, 0) < 0) die_errno("%s: gid=%s", what, id);
  }
  if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) die_errno("%s: create", what);
  int mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV);
  if (mnt < 0) die_errno("%s: fsmount", what);
  close(fsfd);
  attach(mnt, target_fd(root, m->dst, 1, may_create, what), what);
}

/* Made even in a read-only root: its usual place, /dev/mqueue, is in the
 * sandbox's own /dev (a tmpfs); elsewhere in such a root mkdir says EROFS. */
static void mqueue_dir(int root, const struct mount_req *m) {
  char what[4200];
  snprintf(what, sizeof what, "--mqueue %s", m->dst);
  close(target_fd(root, m->dst, 1, 1, what));
}

void apply_mounts(const char *merged, const struct mount_req *mounts, int n, int may_create) {
  if (n == 0) return;
  int root = open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) die_errno("open %s", merged);
  /* In the order given: a later mount may go inside an earlier one. */
  for (int i = 0; i < n; i++) {
    if (mounts[i].kind == MOUNT_BIND) bind_mount(root, &mounts[i], may_create);
    else if (mounts[i].kind == MOUNT_TMPFS) tmpfs_mount(root, &mounts[i], may_create);
    else mqueue_dir(root, &mounts[i]);
  }
  close(root);
}

void mount_mqueue(const char *merged, const char *dst) {
  char what[4200];
  snprintf(what, sizeof what, "--mqueue %s", dst);
  int root = open(merged, O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (root < 0) die_errno("%s: open %s", what, merged);
  /* fsopen takes the ipc namespace the caller is in now. */
  int fsfd = fsopen("mqueue", FSOPEN_CLOEXEC);
  if (fsfd < 0) die_errno("%s: fsopen", what);
  if (fsconfig(fsfd, FSCONFIG_SET_STRING, "source", "mqueue", 0) < 0) die_errno("%s: source", what);
  if (fsconfig(fsfd, FSCONFIG_CMD_CREATE, NULL, NULL, 0) < 0) die_errno("%s: create", what);
  int mnt = fsmount(fsfd, FSMOUNT_CLOEXEC, MOUNT_ATTR_NOSUID | MOUNT_ATTR_NODEV | MOUNT_ATTR_NOEXEC);
  if (mnt < 0) die_errno("%s: fsmount", what);
  close(fsfd);
  attach(mnt, target_fd(root, dst, 1, 0, what), what);
  close(root);
}
