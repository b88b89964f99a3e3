/* `gofer` mode: build the sandbox's root tree in a private mount namespace and
 * exec the gofer into it. Nothing here is visible on the host; the tree goes
 * away with the last process of the namespace (the gofer and the sandbox).
 *
 * STATE/layer   --overlay memory: a tmpfs holding the overlay's upper and
 *               work dirs (throwaway)
 * STATE/merged  memory: overlay, lower = --lower (read-only), upper in STATE/layer
 *               dir: the same, upper and work in --upper-dir (a host folder
 *               tsvisor made and removes: the writes use disk, not memory)
 *               none: --lower bound read-only (writes are EROFS)
 *               direct: --lower bound read-write, no overlay: the writes
 *               land in --lower itself, as a runc container's do
 * merged/tmp    a fresh tmpfs (direct: the root's own /tmp, as runc leaves it)
 * merged/dev    a tmpfs with null, zero, full, random, urandom, tty bound from
 *               the host, the fd/stdin/stdout/stderr links, a devpts of its
 *               own at pts (ptmx -> pts/ptmx) and at console the caller's terminal
 *               (--tty) or, with --console-pty, the sandbox's own first pty
 * merged/sys    a small read-only tmpfs: CPU counts, an empty cgroup tmpfs
 *               and empty class folders
 * then the --bind and --tmpfs mounts (mounts.c), in the order given, and the
 * places of the --mqueue ones.
 */
#define _GNU_SOURCE
#include "launcher.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* dst = a + "/" + b, or die: a truncated path would mount in the wrong place. */
static void join(char *dst, size_t cap, const char *a, const char *b) {
  if ((size_t)snprintf(dst, cap, "%s/%s", a, b) >= cap) die("path too long: %s/%s", a, b);
}

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) < 0) die_errno("mount %s on %s", type ? type : (src ? src : "(bind)"), dst);
}

long sandbox_root_uid = -1, sandbox_root_gid = -1;

/* A tmpfs of ours, owned by the sandbox's root when its ids are mapped. */
static void mount_tmpfs(const char *name, const char *dst, unsigned long flags, const char *opts) {
  char data[256];
  if (sandbox_root_uid < 0) snprintf(data, sizeof data, "%s", opts);
  else snprintf(data, sizeof data, "%s,uid=%ld,gid=%ld", opts, sandbox_root_uid, sandbox_root_gid);
  mount_or_die(name, dst, "tmpfs", flags, data);
}

/* What we create in those (symlinks) belongs to the sandbox's root too. */
static void own_by_sandbox_root(const char *path) {
  if (sandbox_root_uid >= 0 && lchown(path, (uid_t)sandbox_root_uid, (gid_t)sandbox_root_gid) < 0) die_errno("chown %s", path);
}

static void bind_device(const char *dev_dir, const char *name) {
  char host[256], target[4096];
  join(host, sizeof host, "/dev", name);
  join(target, sizeof target, dev_dir, name);
  struct stat st;
  if (stat(host, &st) < 0) return; /* the host lacks it (a tty-less run has no /dev/tty user): skip */
  int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) die_errno("create %s", target);
  close(fd);
  mount_or_die(host, target, NULL, MS_BIND, NULL);
  mount_or_die(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC, NULL);
}

/* The program's terminal, when its stdio is one. /dev/pts is the sandbox's
 * own devpts, where the host's pty cannot appear, so it goes at /dev/console,
 * as runc puts a container's terminal: ttyname() finds it there when it does
 * not find the name /proc gives. */
static void bind_terminal(const char *dev_dir, const char *tty) {
  struct stat st;
  if (strncmp(tty, "/dev/pts/", 9) != 0 || strchr(tty + 9, '/') || stat(tty, &st) < 0 || !S_ISCHR(st.st_mode))
    die("--tty %s: not a terminal under /dev/pts", tty);
  char target[4096];
  join(target, sizeof target, dev_dir, "console");
  int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0620);
  if (fd < 0) die_errno("create %s", target);
  close(fd);
  mount_or_die(tty, target, NULL, MS_BIND, NULL);
}

static void make_dev(const char *merged, char *const *ttys, int nttys, int console_pty_fd) {
  char dev[4096], path[4096];
  join(dev, sizeof dev, merged, "dev");
  mkdir_p(dev, 0755);
  mount_tmpfs("tsvisor-dev", dev, MS_NOSUID | MS_NOEXEC, "mode=755,size=64k");
  static const char *devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) bind_device(dev, devices[i]);
  static const char *links[][2] = {
      {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
      {"stderr", "/proc/self/fd/2"}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    join(path, sizeof path, dev, links[i][0]);
    if (symlink(links[i][1], path) < 0) die_errno("symlink %s", path);
    own_by_sandbox_root(path);
  }
  join(path, sizeof path, dev, "shm");
  mkdir_p(path, 01777);
  mount_tmpfs("tsvisor-shm", path, MS_NOSUID | MS_NODEV, "mode=1777");
  /* A devpts instance of the sandbox's own, as containers have: openpty()
   * and friends get real ptys numbered from 0, and see none of the host's. */
  join(path, sizeof path, dev, "pts");
  mkdir_p(path, 0755);
  mount_or_die("devpts", path, "devpts", MS_NOSUID | MS_NOEXEC, "newinstance,ptmxmode=0666,mode=0620,gid=5");
  own_by_sandbox_root(path);
  join(path, sizeof path, dev, "ptmx");
  if (symlink("pts/ptmx", path) < 0) die_errno("symlink %s", path);
  own_by_sandbox_root(path);
  /* One console: the terminals of stdin, stdout and stderr are nearly always
   * one; others keep working as ttys, only without a name to find. */
  if (console_pty_fd >= 0) make_console_pty(dev, console_pty_fd);
  else if (nttys > 0) bind_terminal(dev, ttys[0]);
}

/* Copies a small host file (a sysfs attribute) into the sandbox's /sys. */
static void copy_small_file(const char *from, const char *to) {
  char buf[4096];
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return; /* the host lacks it: so does the sandbox */
  ssize_t n = read(in, buf, sizeof buf);
  close(in);
  if (n < 0) return;
  int out = open(to, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0444);
  if (out < 0) die_errno("create %s", to);
  if (write(out, buf, (size_t)n) != n) die_errno("write %s", to);
  close(out);
}

/* cpuN folders (empty) for each of the host's: older libcs count them for
 * get_nprocs_conf(), as `nproc --all` does. */
static void make_cpu_dirs(const char *cpu) {
  DIR *d = opendir("/sys/devices/system/cpu");
  if (!d) return;
  char path[4096];
  for (struct dirent *e; (e = readdir(d));) {
    const char *n = e->d_name;
    if (strncmp(n, "cpu", 3) != 0 || !n[3] || strspn(n + 3, "0123456789") != strlen(n + 3)) continue;
    join(path, sizeof path, cpu, n);
    mkdir_p(path, 0755);
  }
  closedir(d);
}

/* A minimal, read-only /sys: what programs read to size themselves (the
 * CPUs online, possible and present), an empty cgroup tmpfs (what a cgroup
 * v1 container shows before controllers are mounted: programs that look
 * find no controller and no limit, and nothing of the host's tree), and
 * empty class folders. */
static void make_sys(const char *merged) {
  char sys[4096], cpu[4096], path[4096], host[4096];
  join(sys, sizeof sys, merged, "sys");
  mkdir_p(sys, 0555);
  mount_or_die("tsvisor-sys", sys, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=555,size=64k");
  join(cpu, sizeof cpu, sys, "devices/system/cpu");
  mkdir_p(cpu, 0755);
  static const char *cpu_files[] = {"online", "possible", "present", "kernel_max"};
  for (size_t i = 0; i < sizeof cpu_files / sizeof *cpu_files; i++) {
    join(host, sizeof host, "/sys/devices/system/cpu", cpu_files[i]);
    join(path, sizeof path, cpu, cpu_files[i]);
    copy_small_file(host, path);
  }
  make_cpu_dirs(cpu);
  static const char *dirs[] = {"fs/cgroup", "class", "kernel", "bus", "dev"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    join(path, sizeof path, sys, dirs[i]);
    mkdir_p(path, 0755);
  }
  join(path, sizeof path, sys, "fs/cgroup");
  mount_or_die("cgroup", path, "tmpfs", MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=755,size=4k");
  mount_or_die(NULL, sys, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=555");
}

enum overlay_mode { OVERLAY_MEMORY, OVERLAY_DIR, OVERLAY_NONE, OVERLAY_DIRECT };

#define MAX_MOUNTS 128

struct gofer_opts {
  const char *lower, *state, *upper_dir;
  enum overlay_mode overlay;
  int ready_fd;
  int console_pty_fd;
  char *ttys[3];
  int nttys;
  struct mount_req mounts[MAX_MOUNTS];
  int nmounts;
  /* --uid-map / --gid-map as uid_map text, and the fd the command gets their namespace at. */
  char uid_map[ID_MAP_TEXT], gid_map[ID_MAP_TEXT];
  int userns_fd;
  char **argv;
};

static void parse(int argc, char **argv, struct gofer_opts *o) {
  memset(o, 0, sizeof *o);
  o->ready_fd = -1;
  o->console_pty_fd = -1;
  o->userns_fd = -1;
  int i = 1;
  for (; i < argc; i++) {
    const char *opt = argv[i];
    if (strcmp(opt, "--") == 0) { i++; break; }
    /* How many values the option takes: --bind SRC DST rw|ro, --tmpfs DST OPTS. */
    int need = strcmp(opt, "--bind") == 0 ? 3 : strcmp(opt, "--tmpfs") == 0 ? 2 : 1;
    if (i + need >= argc) die("option %s needs %d value%s", opt, need, need > 1 ? "s" : "");
    char **v = argv + i + 1;
    i += need;
    if (strcmp(opt, "--lower") == 0) o->lower = v[0];
    else if (strcmp(opt, "--state") == 0) o->state = v[0];
    else if (strcmp(opt, "--upper-dir") == 0) o->upper_dir = v[0];
    else if (strcmp(opt, "--ready-fd") == 0) o->ready_fd = atoi(v[0]);
    else if (strcmp(opt, "--uid-map") == 0) parse_id_map(opt, v[0], o->uid_map);
    else if (strcmp(opt, "--gid-map") == 0) parse_id_map(opt, v[0], o->gid_map);
    else if (strcmp(opt, "--userns-fd") == 0) o->userns_fd = fd_option(opt, v[0], 3);
    else if (strcmp(opt, "--root-owner") == 0) {
      char *end;
      unsigned long uid = strtoul(v[0], &end, 10), gid = 0;
      int ok = *v[0] >= '0' && *v[0] <= '9' && *end == ':' && end[1] >= '0' && end[1] <= '9';
      if (ok) gid = strtoul(end + 1, &end, 10);
      if (!ok || *end || uid > 0xfffffffeUL || gid > 0xfffffffeUL) die("--root-owner %s: expected UID:GID", v[0]);
      sandbox_root_uid = (long)uid, sandbox_root_gid = (long)gid;
    }
    else if (strcmp(opt, "--console-pty") == 0) o->console_pty_fd = fd_option(opt, v[0], 0);
    else if (strcmp(opt, "--overlay") == 0) {
      if (strcmp(v[0], "memory") == 0) o->overlay = OVERLAY_MEMORY;
      else if (strcmp(v[0], "dir") == 0) o->overlay = OVERLAY_DIR;
      else if (strcmp(v[0], "none") == 0) o->overlay = OVERLAY_NONE;
      else if (strcmp(v[0], "direct") == 0) o->overlay = OVERLAY_DIRECT;
      else die("--overlay must be memory, dir, none or direct, not %s", v[0]);
    } else if (strcmp(opt, "--tty") == 0) {
      if (o->nttys == 3) die("at most three --tty");
      o->ttys[o->nttys++] = v[0];
    } else if (strcmp(opt, "--bind") == 0 || strcmp(opt, "--tmpfs") == 0 || strcmp(opt, "--mqueue") == 0) {
      if (o->nmounts == MAX_MOUNTS) die("at most %d --bind, --tmpfs and --mqueue", MAX_MOUNTS);
      struct mount_req *m = &o->mounts[o->nmounts++];
      if (opt[2] == 'b') {
        if (strcmp(v[2], "rw") != 0 && strcmp(v[2], "ro") != 0) die("--bind %s %s: rw or ro, not %s", v[0], v[1], v[2]);
        *m = (struct mount_req){.kind = MOUNT_BIND, .src = v[0], .dst = v[1], .read_only = v[2][1] == 'o'};
      } else if (opt[2] == 't') {
        *m = (struct mount_req){.kind = MOUNT_TMPFS, .dst = v[0], .opts = v[1]};
      } else {
        /* Only the place here: the app launcher mounts it in the sandbox's ipc namespace. */
        *m = (struct mount_req){.kind = MOUNT_MQUEUE_DIR, .dst = v[0]};
      }
    } else die("unknown option %s", opt);
  }
  if (!o->lower || !o->state || i >= argc)
    die("usage: gofer --lower DIR --state DIR [--overlay memory|dir|none|direct] [--upper-dir DIR] [--ready-fd N] "
        "[--tty /dev/pts/N]... [--console-pty FD] [--root-owner UID:GID] [--uid-map MAP --gid-map MAP --userns-fd N] "
        "[--bind SRC DST rw|ro]... [--tmpfs DST OPTS]... [--mqueue DST]... -- CMD...");
  if ((o->overlay == OVERLAY_DIR) != (o->upper_dir != NULL)) die("--upper-dir goes with --overlay dir, and only with it");
  if (o->console_pty_fd >= 0 && o->nttys > 0) die("--console-pty and --tty both name /dev/console: give one");
  if (!o->uid_map[0] != !o->gid_map[0] || !o->uid_map[0] != (o->userns_fd < 0))
    die("--uid-map, --gid-map and --userns-fd go together");
  if (o->userns_fd >= 0 && (o->userns_fd == o->ready_fd || o->userns_fd == o->console_pty_fd))
    die("--userns-fd %d is already another option's fd", o->userns_fd);
  o->argv = argv + i;
}

/* The overlay's upper and work dirs in layer (a tmpfs, or the host folder of
 * --overlay dir), and the overlay of lower under them at merged. */
static void mount_overlay(const char *lower, const char *layer, const char *merged) {
  char upper[4096], work[4096], opts[12288];
  join(upper, sizeof upper, layer, "upper");
  join(work, sizeof work, layer, "work");
  mkdir_p(upper, 0755);
  mkdir_p(work, 0700);
  /* The root's own mode and owner show through from the lower layer. */
  struct stat lst;
  if (stat(lower, &lst) < 0) die_errno("stat %s", lower);
  chmod(upper, lst.st_mode & 07777);
  if (chown(upper, lst.st_uid, lst.st_gid) < 0) die_errno("chown %s", upper);
  /* index=on: a file with several names in the lower layer is copied up once
   * and keeps all its names (without it each name gets its own copy, and a
   * write through one hard link is not seen through the others). */
  if (snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s,index=on", lower, upper, work) >= (int)sizeof opts)
    die("overlay options too long");
  if (mount("tsvisor-root", merged, "overlay", 0, opts) == 0) return;
  /* A lower layer that cannot give file handles refuses the index: do without. */
  opts[strlen(opts) - strlen(",index=on")] = 0;
  mount_or_die("tsvisor-root", merged, "overlay", 0, opts);
}

/* A mount point right below the root; a read-only root must have it already. */
static void mount_point(const char *merged, const char *name, mode_t mode) {
  char path[4096];
  join(path, sizeof path, merged, name);
  if (mkdir(path, mode) == 0 || errno == EEXIST) return;
  if (errno == EROFS) die("the root has no /%s, which the sandbox needs as a mount point (with --overlay none the root is read-only)", name);
  die_errno("mkdir %s", path);
}

int gofer_root_main(int argc, char **argv) {
  struct gofer_opts o;
  parse(argc, argv, &o);

  die_with_parent();
  if (unshare(CLONE_NEWNS) < 0) die_errno("unshare(CLONE_NEWNS)");
  /* Nothing we mount may reach the host, and host mount events need not reach us. */
  mount_or_die(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);

  char layer[4096], merged[4096], tmp[4096];
  join(merged, sizeof merged, o.state, "merged");
  mkdir_p(merged, 0755);
  struct stat lst;
  if (stat(o.lower, &lst) < 0) die_errno("stat %s", o.lower);
  if (!S_ISDIR(lst.st_mode)) die("%s is not a directory", o.lower);
  if (o.overlay == OVERLAY_MEMORY) {
    join(layer, sizeof layer, o.state, "layer");
    mkdir_p(layer, 0700);
    mount_or_die("tsvisor-layer", layer, "tmpfs", MS_NOSUID, "mode=700");
    mount_overlay(o.lower, layer, merged);
  } else if (o.overlay == OVERLAY_DIR) {
    mount_overlay(o.lower, o.upper_dir, merged);
  } else {
    bind_root(o.lower, merged, o.overlay == OVERLAY_NONE);
  }

  /* A root written in place keeps its own /tmp: what the program leaves there
   * is in the rootfs afterwards, as with runc (the spec's mounts may put a tmpfs there). */
  if (o.overlay != OVERLAY_DIRECT) {
    mount_point(merged, "tmp", 01777);
    join(tmp, sizeof tmp, merged, "tmp");
    mount_tmpfs("tsvisor-tmp", tmp, MS_NOSUID | MS_NODEV, "mode=1777");
  }
  mount_point(merged, "dev", 0755);
  mount_point(merged, "sys", 0555);
  mount_point(merged, "proc", 0555);
  make_dev(merged, o.ttys, o.nttys, o.console_pty_fd);
  make_sys(merged);
  apply_mounts(merged, o.mounts, o.nmounts, o.overlay != OVERLAY_NONE);

  /* A mapped sandbox's gofer serves from a user namespace with the
   * sandbox's maps (userns.c): it gets it at --userns-fd and enters it once
   * it holds its root. Made after the mounts: they are the host root's. */
  if (o.userns_fd >= 0) {
    int fd = make_user_namespace(o.uid_map, o.gid_map);
    if (fd == o.userns_fd) {
      if (fcntl(fd, F_SETFD, 0) < 0) die_errno("fcntl");
    } else {
      if (dup2(fd, o.userns_fd) < 0) die_errno("dup2 the gofer's user namespace to fd %d", o.userns_fd);
      close(fd);
    }
  }

  /* The tree is ready: the sandbox may start while the gofer itself boots. */
  if (o.ready_fd >= 0) {
    if (write(o.ready_fd, "r", 1) != 1) die_errno("signal readiness");
    close(o.ready_fd);
  }
  /* With a terminal of the sandbox's own, the gofer leaves our session and so
   * has no controlling terminal: it opens /dev/tty for the sandbox, and that
   * must never reach the host's terminal (its input, TIOCSTI) past the relay. */
  if (o.console_pty_fd >= 0 && setsid() < 0) die_errno("setsid");
  execvp(o.argv[0], o.argv);
  die_errno("exec %s", o.argv[0]);
}
