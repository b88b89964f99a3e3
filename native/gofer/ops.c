/* The gofer's ops, below its root fd (gofer/protocol.ts says what each one
 * means). It never trusts a path. Every lookup is openat2(RESOLVE_IN_ROOT |
 * RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) from the root fd (or from a
 * directory fd so obtained), and the final *at call works on the parent fd
 * and one plain component without following it. A symlink anywhere but where
 * a walk reports it is ELOOP: the sentry resolves symlinks, the gofer only
 * ever walks plain components. Every handler returns 0/fd or -errno. */
#define _GNU_SOURCE
#include "gofer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/xattr.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif

#define RESOLVE (RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)
#define RENAME_VALID_FLAGS (RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)
/* STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID: everything stat needs, plus identity. */
#define STATX_MASK (0x7ffu | 0x800u | 0x1000u)
/* O_TMPFILE's own bit, without the O_DIRECTORY it always carries. */
#define O_TMPFILE_BIT (O_TMPFILE & ~O_DIRECTORY)
/* The flags that mean something next to O_PATH (fs/open.c's O_PATH_FLAGS). */
#define O_PATH_FLAGS (O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC)
/* The kernel's O_LARGEFILE: glibc defines O_LARGEFILE as 0 on x86_64, but
 * the kernel sets this bit on every open of a 64-bit process, and the sentry
 * passes the program's flags as the kernel has them. */
#define KERNEL_O_LARGEFILE 0100000
/* Every flag open(2) accepts on x86_64; anything else is EINVAL for openat2. */
#define O_VALID_FLAGS                                                                                        \
  (O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC | O_DIRECT | \
   KERNEL_O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH | O_TMPFILE)
/* Bits of a mode that chmod, mkdir and friends take (S_IALLUGO). */
#define PERMISSION_BITS 07777u
/* struct linux_dirent64: u64 d_ino, i64 d_off, u16 d_reclen, u8 d_type, char d_name[] */
#define DIRENT64_NAME_OFFSET 19
/* Wire bytes of one dirent besides its name (see protocol.ts). */
#define DIRENT_WIRE_OVERHEAD (8 + 8 + 1 + 4)

static int fail(void) {
  return errno > 0 ? -errno : -EIO;
}

static int result(long ret) {
  return ret < 0 ? fail() : (int)ret;
}

/* openat2(2): the only way the gofer opens anything below its root. Always O_CLOEXEC. */
static int open_at(int dirfd, const char *path, uint32_t flags, uint32_t mode, uint64_t resolve) {
  struct open_how how = {.flags = (uint32_t)(flags | O_CLOEXEC), .mode = mode, .resolve = resolve};
  return result(syscall(SYS_openat2, dirfd, path, &how, sizeof how));
}

static int stat_fd(struct gofer_server *s, int fd) {
  return result(statx(fd, "", AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MASK, &s->stx));
}

static unsigned file_type(const struct gofer_server *s) {
  return s->stx.stx_mode & S_IFMT;
}

static void close_fd(int fd) {
  if (fd >= 0) close(fd);
}

/* path[0, end) joined into s->path_buf, or "." when end is 0. */
static const char *prefix(struct gofer_server *s, const struct gofer_path *p, uint32_t end) {
  if (end == 0) return ".";
  if (end == p->count) return p->joined;
  size_t length = (size_t)p->start[end] - 1;
  memcpy(s->path_buf, p->joined, length);
  s->path_buf[length] = 0;
  return s->path_buf;
}

/* The last component (NUL-terminated: it ends the joined path). */
static const char *last_name(const struct gofer_path *p) {
  return p->joined + p->start[p->count - 1];
}

static int open_below_root(struct gofer_server *s, const struct gofer_path *p, uint32_t end, uint32_t flags,
                           uint32_t mode) {
  return open_at(s->root_fd, prefix(s, p, end), flags, mode, RESOLVE);
}

/* The object at path itself (a symlink stays a symlink), as an O_PATH fd, or -errno. */
static int open_target(struct gofer_server *s, const struct gofer_path *p) {
  return open_below_root(s, p, p->count, O_PATH | O_NOFOLLOW, 0);
}

/* The directory holding a path's last component: the root fd itself for a
 * one-component path, else a new O_PATH fd (release it with release_dir). */
static int open_parent(struct gofer_server *s, const struct gofer_path *p) {
  if (p->count <= 1) return s->root_fd;
  return open_below_root(s, p, p->count - 1, O_PATH | O_DIRECTORY, 0);
}

static void release_dir(struct gofer_server *s, int fd) {
  if (fd >= 0 && fd != s->root_fd) close(fd);
}

/* The parent fd and the last component's name: for the root itself (an
 * empty path) the name is "." in the root. */
struct parent {
  int fd;
  const char *name;
};

static int at_parent(struct gofer_server *s, const struct gofer_path *p, struct parent *out) {
  if (p->count == 0) {
    out->fd = s->root_fd;
    out->name = ".";
    return 0;
  }
  int fd = open_parent(s, p);
  if (fd < 0) return fd;
  out->fd = fd;
  out->name = last_name(p);
  return 0;
}

/* For a read-only tree: the errno an op that would create path gets (EEXIST before EROFS, as Linux). */
static int read_only_create(struct gofer_server *s, const struct gofer_path *p) {
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = result(statx(at.fd, at.name, AT_SYMLINK_NOFOLLOW, 0, &s->stx));
  release_dir(s, at.fd);
  if (r >= 0) return -EEXIST;
  return r == -ENOENT ? -EROFS : r;
}

/* For a read-only tree: an op that changes an existing path fails as lookup fails, else EROFS. */
static int read_only_change(struct gofer_server *s, const struct gofer_path *p) {
  int fd = open_target(s, p);
  if (fd < 0) return fd;
  close(fd);
  return -EROFS;
}

/* The S_IF* type of what path names, looked at (O_PATH), not opened; -1 if it cannot be. */
static int type_of(struct gofer_server *s, const struct gofer_path *p) {
  int probe = open_target(s, p);
  if (probe < 0) return -1;
  int r = stat_fd(s, probe);
  close(probe);
  return r >= 0 ? (int)file_type(s) : -1;
}

/* ------------------------------------------------------------------------ */
/* walk */

struct walk_outcome {
  int errno_value;
  uint32_t found;
  int target_length; /* of s->link_buf; 0: no symlink */
};

/* The walk's answer once component found-1 is open as fd. */
static struct walk_outcome walked_to(struct gofer_server *s, int fd, uint32_t found) {
  int r = stat_fd(s, fd);
  if (r < 0) return (struct walk_outcome){-r, found - 1, 0};
  if (file_type(s) != S_IFLNK) return (struct walk_outcome){0, found, 0};
  long length = readlinkat(fd, "", s->link_buf, sizeof s->link_buf);
  if (length < 0) return (struct walk_outcome){-fail(), found, 0};
  if (length == 0 || length > MAX_SYMLINK_TARGET_BYTES) return (struct walk_outcome){EIO, found, 0};
  return (struct walk_outcome){0, found, (int)length};
}

/* The walk's answer when path's parent exists as a directory (or is a symlink); found = -1 otherwise. */
static bool walk_parent_of_missing(struct gofer_server *s, const struct gofer_path *p, struct walk_outcome *out) {
  uint32_t n = p->count;
  if (n == 1) {
    int r = stat_fd(s, s->root_fd);
    *out = (struct walk_outcome){r < 0 ? -r : ENOENT, 0, 0};
    return true;
  }
  int parent = open_below_root(s, p, n - 1, O_PATH | O_NOFOLLOW, 0);
  if (parent < 0) return false;
  struct walk_outcome w = walked_to(s, parent, n - 1);
  close(parent);
  if (w.errno_value != 0 || w.target_length > 0) {
    *out = w;
    return true;
  }
  if (file_type(s) != S_IFDIR) return false;
  *out = (struct walk_outcome){ENOENT, n - 1, 0};
  return true;
}

/* The slow walk, one component at a time, to find where (and why) the fast path stopped. */
static struct walk_outcome walk_stepwise(struct gofer_server *s, const struct gofer_path *p) {
  uint32_t n = p->count;
  int dir = s->root_fd;
  char name[GOFER_NAME_MAX + 1];
  struct walk_outcome w = {0, n, 0};
  for (uint32_t i = 0; i < n; i++) {
    size_t end = i + 1 < n ? (size_t)p->start[i + 1] - 1 : p->length;
    size_t length = end - p->start[i];
    memcpy(name, p->joined + p->start[i], length);
    name[length] = 0;
    int fd = open_at(dir, name, O_PATH | O_NOFOLLOW, 0, RESOLVE);
    if (fd < 0) {
      /* s->stx still holds component i-1 (from the previous step), or is the
       * root's, taken now, when nothing was walked. */
      if (i == 0) stat_fd(s, s->root_fd);
      w = (struct walk_outcome){-fd, i, 0};
      break;
    }
    w = walked_to(s, fd, i + 1);
    if (w.errno_value != 0 || w.target_length > 0 || i == n - 1) {
      close(fd);
      break;
    }
    if (file_type(s) != S_IFDIR) {
      close(fd);
      w = (struct walk_outcome){ENOTDIR, i + 1, 0};
      break;
    }
    release_dir(s, dir);
    dir = fd;
  }
  /* The loop always ends on a return value: the fast path failing and the slow one not means the tree changed. */
  release_dir(s, dir);
  return w;
}

static struct walk_outcome walk(struct gofer_server *s, const struct gofer_path *p) {
  uint32_t n = p->count;
  memset(&s->stx, 0, sizeof s->stx);
  if (n == 0) {
    int r = stat_fd(s, s->root_fd);
    return (struct walk_outcome){r < 0 ? -r : 0, 0, 0};
  }
  /* Fast path: the whole path in one openat2. O_PATH|O_NOFOLLOW hands back
   * a final symlink itself even under RESOLVE_NO_SYMLINKS. */
  int fd = open_below_root(s, p, n, O_PATH | O_NOFOLLOW, 0);
  if (fd >= 0) {
    struct walk_outcome w = walked_to(s, fd, n);
    close(fd);
    return w;
  }
  if (fd == -ENOENT) {
    /* The common miss (a stat or O_CREAT of a new name): only the last
     * component is missing. One more openat2 of the parent tells. */
    struct walk_outcome w;
    if (walk_parent_of_missing(s, p, &w)) return w;
  }
  return walk_stepwise(s, p);
}

/* ------------------------------------------------------------------------ */
/* open */

/* An O_PATH open: it opens nothing (no driver, no FIFO), so it needs none of open()'s care. */
static int open_path(struct gofer_server *s, const struct gofer_path *p, uint32_t flags) {
  int fd = open_below_root(s, p, p->count, flags, 0);
  if (fd < 0) return fd;
  int r = stat_fd(s, fd);
  if (r < 0) {
    close(fd);
    return r;
  }
  return fd;
}

/* For a read-only tree, an open that may write: the errno Linux gives on a
 * read-only mount, or 0 when the open may go ahead (writing to a FIFO,
 * socket or device is no change to the tree). */
static int read_only_open(struct gofer_server *s, const struct gofer_path *p, uint32_t flags) {
  if (flags & O_TMPFILE_BIT) return -EROFS;
  int probe = open_below_root(s, p, p->count, O_PATH | O_NOFOLLOW | (flags & O_DIRECTORY), 0);
  if (probe < 0) {
    if (probe != -ENOENT || !(flags & O_CREAT) || p->count == 0) return probe;
    int parent = open_parent(s, p);
    if (parent < 0) return parent;
    release_dir(s, parent);
    return -EROFS;
  }
  int r = stat_fd(s, probe);
  close(probe);
  if (r < 0) return r;
  unsigned type = file_type(s);
  bool writes = (flags & O_ACCMODE) != O_RDONLY;
  if (type == S_IFLNK) return -ELOOP;
  if ((flags & (O_CREAT | O_EXCL)) == (O_CREAT | O_EXCL)) return -EEXIST;
  if (type == S_IFDIR) return writes || (flags & O_CREAT) ? -EISDIR : 0;
  if (type == S_IFREG) return writes || (flags & O_TRUNC) ? -EROFS : 0;
  return 0;
}

/* The gofer opens with O_NONBLOCK always (its one thread must not wait on a
 * FIFO, a tty or a lease): take it off fd again when the program's flags do
 * not ask for it. Returns fd, or -errno with fd closed. */
static int as_asked_nonblock(int fd, uint32_t flags) {
  if (flags & O_NONBLOCK) return fd;
  int status = result(fcntl(fd, F_GETFL));
  int r = status < 0 ? status : result(fcntl(fd, F_SETFL, status & ~O_NONBLOCK));
  if (r < 0) {
    close(fd);
    return r;
  }
  return fd;
}

static int op_open(struct gofer_server *s, const struct gofer_path *p, uint32_t flags, uint32_t mode) {
  /* Access mode 3 is valid: open(2) grants an fd for ioctls only, after checking read and write rights. */
  if (flags & ~(uint32_t)O_VALID_FLAGS) return -EINVAL;
  /* open(2) ignores every other flag beside O_PATH; openat2 refuses them. Be open(2). */
  if (flags & O_PATH) return open_path(s, p, flags & O_PATH_FLAGS);
  uint32_t host_flags = flags;
  if (s->read_only) {
    bool writes = (flags & O_ACCMODE) != O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_TMPFILE_BIT));
    if (writes) {
      int verdict = read_only_open(s, p, flags);
      if (verdict < 0) return verdict;
      host_flags &= ~(uint32_t)(O_CREAT | O_EXCL); /* nothing may be created */
    }
  }
  /* openat2 insists on a zero mode unless creating; open(2) ignores it. */
  bool creates = (host_flags & O_CREAT) || (host_flags & O_TMPFILE_BIT);
  uint32_t create_mode = creates ? mode & PERMISSION_BITS : 0;
  /* A FIFO opened without O_NONBLOCK waits for its other end. The gofer's
   * one thread must not wait, and even a non-blocking probe would count as
   * that other end for whoever waits already: look before opening, and
   * answer EWOULDBLOCK (the sentry has the kernel do that open). */
  if (!(flags & O_NONBLOCK) && (flags & (O_CREAT | O_TMPFILE_BIT)) != O_TMPFILE_BIT) {
    if (type_of(s, p) == S_IFIFO) return -EWOULDBLOCK;
  }
  /* O_NONBLOCK always: opening a tty or a file under a lease must not stall
   * the gofer. It is taken off again below when the sentry did not ask for
   * it. O_NOCTTY always: a tty in the tree must not become the gofer's. */
  int fd = open_below_root(s, p, p->count, host_flags | O_NOCTTY | O_NONBLOCK, create_mode);
  /* /dev/tty with no terminal of the gofer's own: ENXIO here, yet the program may have one. */
  if (fd == -ENXIO && type_of(s, p) == S_IFCHR) return -EWOULDBLOCK;
  if (fd < 0) return fd;
  int r = stat_fd(s, fd);
  /* A device's open depends on who opens it (see the open op): give it back. */
  if (r >= 0 && file_type(s) == S_IFCHR) r = -EWOULDBLOCK;
  if (r >= 0 && s->read_only && (flags & O_ACCMODE) != O_RDONLY) {
    /* The tree changed between the check and the open: still no writes to files. */
    unsigned type = file_type(s);
    if (type == S_IFREG || type == S_IFDIR) r = -EROFS;
  }
  if (r < 0) {
    close(fd);
    return r;
  }
  return as_asked_nonblock(fd, flags);
}

/* ------------------------------------------------------------------------ */
/* Changes to the tree. */

static int op_mkdir(struct gofer_server *s, const struct gofer_path *p, uint32_t mode) {
  if (p->count == 0) return -EEXIST;
  if (s->read_only) return read_only_create(s, p);
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = result(mkdirat(at.fd, at.name, mode & PERMISSION_BITS));
  release_dir(s, at.fd);
  return r;
}

static int op_mknod(struct gofer_server *s, const struct gofer_path *p, uint32_t mode, uint64_t dev) {
  switch (mode & S_IFMT) {
    case 0:
    case S_IFREG:
    case S_IFIFO:
    case S_IFSOCK:
      break;
    case S_IFDIR:
      return -EPERM; /* as mknod(2) */
    case S_IFCHR:
    case S_IFBLK:
      return -EPERM; /* device nodes reach host devices: the gofer never makes one */
    default:
      return -EINVAL; /* not a file type */
  }
  if (p->count == 0) return -EEXIST;
  if (s->read_only) return read_only_create(s, p);
  uint32_t type = (mode & S_IFMT) == 0 ? S_IFREG : mode & S_IFMT;
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = result(mknodat(at.fd, at.name, type | (mode & PERMISSION_BITS), type == S_IFREG ? 0 : (dev_t)dev));
  release_dir(s, at.fd);
  return r;
}

static int op_unlink(struct gofer_server *s, const struct gofer_path *p, uint32_t flags) {
  if (flags & ~(uint32_t)AT_REMOVEDIR) return -EINVAL;
  /* rmdir("/") and unlink("/"), as Linux answers them. */
  if (p->count == 0) return (flags & AT_REMOVEDIR) ? -EBUSY : -EISDIR;
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = s->read_only ? -EROFS : result(unlinkat(at.fd, at.name, (int)flags));
  release_dir(s, at.fd);
  return r;
}

static int op_rename(struct gofer_server *s, const struct gofer_path *from, const struct gofer_path *to,
                     uint32_t flags) {
  if (flags & ~(uint32_t)RENAME_VALID_FLAGS) return -EINVAL;
  if ((flags & RENAME_EXCHANGE) && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))) return -EINVAL;
  if (from->count == 0 || to->count == 0) return -EBUSY;
  struct parent old_at, new_at;
  int r = at_parent(s, from, &old_at);
  if (r < 0) return r;
  r = at_parent(s, to, &new_at);
  if (r >= 0) {
    r = s->read_only ? -EROFS
                     : result(syscall(SYS_renameat2, old_at.fd, old_at.name, new_at.fd, new_at.name, flags));
    release_dir(s, new_at.fd);
  }
  release_dir(s, old_at.fd);
  return r;
}

static int op_symlink(struct gofer_server *s, const char *target, const struct gofer_path *p) {
  if (p->count == 0) return -EEXIST;
  if (s->read_only) return read_only_create(s, p);
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = result(symlinkat(target, at.fd, at.name));
  release_dir(s, at.fd);
  return r;
}

static int op_link(struct gofer_server *s, const struct gofer_path *from, const struct gofer_path *to) {
  if (from->count == 0) return -EPERM; /* a hard link to a directory */
  if (to->count == 0) return -EEXIST;
  struct parent old_at, new_at;
  int r = at_parent(s, from, &old_at);
  if (r < 0) return r;
  r = at_parent(s, to, &new_at);
  if (r >= 0) {
    if (!s->read_only) {
      r = result(linkat(old_at.fd, old_at.name, new_at.fd, new_at.name, 0)); /* 0: never follow oldPath */
    } else {
      r = result(statx(old_at.fd, old_at.name, AT_SYMLINK_NOFOLLOW, 0, &s->stx));
      if (r >= 0) {
        r = result(statx(new_at.fd, new_at.name, AT_SYMLINK_NOFOLLOW, 0, &s->stx));
        r = r >= 0 ? -EEXIST : r == -ENOENT ? -EROFS : r;
      }
    }
    release_dir(s, new_at.fd);
  }
  release_dir(s, old_at.fd);
  return r;
}

/* fchmodat2(AT_SYMLINK_NOFOLLOW) (Linux 6.6+): EOPNOTSUPP on a symlink. On an
 * older kernel the same by hand: the name opened O_PATH below the parent, and
 * chmodded through /proc/self/fd (which then needs /proc in the gofer's
 * mount namespace). */
static int chmod_nofollow(struct gofer_server *s, int dirfd, const char *name, uint32_t mode) {
  int r = result(syscall(SYS_fchmodat2, dirfd, name, mode, AT_SYMLINK_NOFOLLOW));
  if (r != -ENOSYS) return r;
  int fd = open_at(dirfd, name, O_PATH | O_NOFOLLOW, 0, RESOLVE);
  if (fd < 0) return fd;
  r = stat_fd(s, fd);
  if (r >= 0 && file_type(s) == S_IFLNK) r = -EOPNOTSUPP;
  if (r >= 0) {
    char proc_path[64];
    snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
    r = result(fchmodat(AT_FDCWD, proc_path, mode, 0));
  }
  close(fd);
  return r;
}

static int op_chmod(struct gofer_server *s, const struct gofer_path *p, uint32_t mode) {
  if (s->read_only) return read_only_change(s, p);
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = chmod_nofollow(s, at.fd, at.name, mode & PERMISSION_BITS);
  release_dir(s, at.fd);
  return r;
}

static int op_chown(struct gofer_server *s, const struct gofer_path *p, uint32_t uid, uint32_t gid) {
  if (s->read_only) return read_only_change(s, p);
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = result(fchownat(at.fd, at.name, uid, gid, AT_SYMLINK_NOFOLLOW));
  release_dir(s, at.fd);
  return r;
}

static int op_utimes(struct gofer_server *s, const struct gofer_path *p, const struct gofer_timespec *atime,
                     const struct gofer_timespec *mtime) {
  if (s->read_only) return read_only_change(s, p);
  struct timespec times[2] = {{atime->sec, atime->nsec}, {mtime->sec, mtime->nsec}};
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = result(syscall(SYS_utimensat, at.fd, at.name, times, AT_SYMLINK_NOFOLLOW));
  release_dir(s, at.fd);
  return r;
}

/* ------------------------------------------------------------------------ */
/* The fd ops: changes to the file a program's fd names (the sentry's copy
 * of it came with the request). The sentry must not make them itself: it is
 * the host's root, and no kernel check would stand between a program and
 * any file it can open, even O_PATH. Here the identity held is the task's,
 * so the kernel checks ownership, CAP_FOWNER / CAP_CHOWN over the inode's
 * ids, and the fd's own mount (EROFS), exactly as for the program's own
 * call. The gofer's --read-only is not applied: the fd need not be of the
 * tree, and a read-only tree's mounts are read-only on the host already. */

/* fchmodat2/fchownat/utimensat's AT_ flags on an fd, or -EINVAL. */
#define FD_OP_FLAGS (AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)

static int op_chmod_fd(struct gofer_server *s, int fd, uint32_t mode, uint32_t flags) {
  if (fd < 0) return -EBADF;
  if ((flags & ~(uint32_t)FD_OP_FLAGS) || !(flags & AT_EMPTY_PATH)) return -EINVAL;
  int r = result(syscall(SYS_fchmodat2, fd, "", mode & PERMISSION_BITS, flags));
  if (r != -ENOSYS) return r;
  /* Before Linux 6.6: through /proc/self/fd, which reaches an O_PATH fd's
   * object without following it further (a symlink's chmod is EOPNOTSUPP
   * with AT_SYMLINK_NOFOLLOW, as fchmodat2 says). */
  r = stat_fd(s, fd);
  if (r < 0) return r;
  if (file_type(s) == S_IFLNK && (flags & AT_SYMLINK_NOFOLLOW)) return -EOPNOTSUPP;
  char proc_path[64];
  snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
  return result(fchmodat(AT_FDCWD, proc_path, mode & PERMISSION_BITS, 0));
}

static int op_chown_fd(int fd, uint32_t uid, uint32_t gid, uint32_t flags) {
  if (fd < 0) return -EBADF;
  if ((flags & ~(uint32_t)FD_OP_FLAGS) || !(flags & AT_EMPTY_PATH)) return -EINVAL;
  return result(fchownat(fd, "", uid, gid, (int)flags));
}

static int op_utimes_fd(int fd, const struct gofer_timespec *atime, const struct gofer_timespec *mtime,
                        uint32_t flags) {
  if (fd < 0) return -EBADF;
  if (flags & ~(uint32_t)FD_OP_FLAGS) return -EINVAL;
  if (flags != 0 && !(flags & AT_EMPTY_PATH)) return -EINVAL;
  struct timespec times[2] = {{atime->sec, atime->nsec}, {mtime->sec, mtime->nsec}};
  /* flags 0: futimens, the fd's own file with no name (an O_PATH fd is EBADF). */
  return result(syscall(SYS_utimensat, fd, flags == 0 ? NULL : "", times, flags));
}

/* A program's open of /proc/<pid>/fd/N naming something with no name in the
 * tree (a pipe, a deleted file, a memfd): a new open of that object, made
 * here through our own /proc/self/fd/<fd> so that the kernel checks the
 * inode's permission bits against the identity, as it would the program's
 * open. The name is one component of digits below our /proc/self/fd, and
 * the magic link it is followed to where the fd points (so no RESOLVE_ flag:
 * every one of them refuses a magic link). */
static int op_reopen_fd(struct gofer_server *s, int fd, uint32_t flags) {
  if (fd < 0) return -EBADF;
  /* Only an open of the object itself: nothing created, nothing but opened. */
  if ((flags & ~(uint32_t)O_VALID_FLAGS) || (flags & (O_CREAT | O_TMPFILE_BIT | O_PATH))) return -EINVAL;
  if (s->proc_fd_dir < 0) return s->proc_fd_dir;
  int r = stat_fd(s, fd);
  if (r < 0) return r;
  /* A device's open depends on who opens it (see the open op). */
  unsigned type = file_type(s);
  if (type == S_IFCHR || type == S_IFBLK) return -EWOULDBLOCK;
  char name[16];
  snprintf(name, sizeof name, "%d", fd);
  /* O_NONBLOCK always: a FIFO's open must not wait in the gofer's one
   * thread (with no partner the read end opens, the write end is ENXIO), nor
   * a file under a lease. Taken off again when not asked for. */
  int reopened = open_at(s->proc_fd_dir, name, flags | O_NOCTTY | O_NONBLOCK, 0, 0);
  return reopened < 0 ? reopened : as_asked_nonblock(reopened, flags);
}

/* With the identity held: the kernel's own check (DAC, ACLs, capabilities, read-only mounts). */
static int op_access(struct gofer_server *s, const struct gofer_path *p, uint32_t mode) {
  if (mode & ~(uint32_t)(R_OK | W_OK | X_OK)) return -EINVAL;
  if (s->read_only && (mode & W_OK)) return read_only_change(s, p);
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = result(syscall(SYS_faccessat2, at.fd, at.name, mode, AT_EACCESS | AT_SYMLINK_NOFOLLOW));
  release_dir(s, at.fd);
  return r;
}

static int op_truncate(struct gofer_server *s, const struct gofer_path *p, int64_t length) {
  if (length < 0) return -EINVAL;
  /* Look first (O_PATH opens nothing): opening a device or FIFO for writing
   * has effects of its own, and truncate(2) refuses them anyway. */
  int probe = open_target(s, p);
  if (probe < 0) return probe;
  int r = stat_fd(s, probe);
  close(probe);
  if (r < 0) return r;
  unsigned type = file_type(s);
  if (type == S_IFDIR) return -EISDIR;
  if (type == S_IFLNK) return -ELOOP;
  if (type != S_IFREG) return -EINVAL;
  if (s->read_only) return -EROFS;
  int fd = open_below_root(s, p, p->count, O_WRONLY | O_NONBLOCK | O_NOCTTY, 0);
  if (fd < 0) return fd;
  r = stat_fd(s, fd);
  if (r >= 0 && file_type(s) != S_IFREG) r = -EINVAL; /* swapped since the look */
  if (r >= 0) r = result(ftruncate(fd, length));
  close(fd);
  return r;
}

static int op_statfs(struct gofer_server *s, const struct gofer_path *p) {
  int fd = open_target(s, p);
  if (fd < 0) return fd;
  struct statfs st;
  _Static_assert(sizeof st == WIRE_STATFS_BYTES, "struct statfs is 120 bytes on x86_64");
  int r = result(fstatfs(fd, &st));
  close(fd);
  if (r >= 0) memcpy(s->statfs_buf, &st, sizeof st);
  return r;
}

/* One page of entries after the cookie offset, encoded into w: 0 or -errno. */
static int op_getdents(struct gofer_server *s, const struct gofer_path *p, int64_t offset, struct wire_writer *w) {
  int fd = open_below_root(s, p, p->count, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0);
  if (fd < 0) return fd;
  int r = 0;
  if (offset != 0 && lseek(fd, offset, SEEK_SET) < 0) r = fail();
  size_t count_at = w->pos;
  wire_u32(w, 0);
  uint32_t count = 0;
  size_t used = 0;
  bool eof = false, full = false;
  while (r == 0 && !eof && !full) {
    long n = syscall(SYS_getdents64, fd, s->dirent_buf, sizeof s->dirent_buf);
    if (n < 0) {
      r = fail();
      break;
    }
    if (n == 0) {
      eof = true;
      break;
    }
    for (long at = 0; at < n;) {
      const uint8_t *d = s->dirent_buf + at;
      uint16_t reclen;
      memcpy(&reclen, d + 16, 2);
      if (reclen <= DIRENT64_NAME_OFFSET || at + reclen > n) { /* never from a sane kernel */
        r = -EIO;
        break;
      }
      const uint8_t *name = d + DIRENT64_NAME_OFFSET;
      size_t name_length = strnlen((const char *)name, reclen - DIRENT64_NAME_OFFSET);
      if (name_length == 0 || name_length > GOFER_NAME_MAX) {
        r = -EIO;
        break;
      }
      size_t size = DIRENT_WIRE_OVERHEAD + name_length;
      if (used + size > DIRENTS_PAGE_BYTES) {
        full = true;
        break;
      }
      used += size;
      uint64_t ino, off;
      memcpy(&ino, d, 8);
      memcpy(&off, d + 8, 8);
      wire_u64(w, ino);
      wire_u64(w, off);
      wire_u8(w, d[18]);
      wire_string(w, name, (uint32_t)name_length);
      count++;
      at += reclen;
    }
  }
  close(fd);
  if (r < 0) return r;
  wire_u32(w, eof ? 1 : 0);
  if (!w->overflow) {
    uint8_t *c = w->buf + count_at;
    c[0] = (uint8_t)count;
    c[1] = (uint8_t)(count >> 8);
    c[2] = (uint8_t)(count >> 16);
    c[3] = (uint8_t)(count >> 24);
  }
  return 0;
}

/* A symlink's target into s->link_buf: its length, or -errno. */
static int op_readlink(struct gofer_server *s, const struct gofer_path *p) {
  if (p->count == 0) return -EINVAL;
  struct parent at;
  int r = at_parent(s, p, &at);
  if (r < 0) return r;
  r = result(readlinkat(at.fd, at.name, s->link_buf, sizeof s->link_buf));
  release_dir(s, at.fd);
  if (r < 0) return r;
  if (r == 0 || r > MAX_SYMLINK_TARGET_BYTES) return -EIO;
  return r;
}

/* ------------------------------------------------------------------------ */
/* Extended attributes, on the object itself (a final symlink is not
 * followed). The gofer names an O_PATH fd it holds as /proc/self/fd/N (O_PATH
 * fds refuse the f*xattr calls): the kernel jumps straight to that object,
 * so no name is looked up again. */

enum xattr_call { XATTR_GET, XATTR_LIST, XATTR_SET, XATTR_REMOVE };

static int with_object(struct gofer_server *s, const struct gofer_path *p, enum xattr_call call, const char *name,
                       const uint8_t *value, uint32_t value_length, uint32_t flags) {
  int fd = open_target(s, p);
  if (fd < 0) return fd;
  char proc_path[64];
  snprintf(proc_path, sizeof proc_path, "/proc/self/fd/%d", fd);
  long r = -1;
  switch (call) {
    case XATTR_GET:
      r = getxattr(proc_path, name, s->xattr_buf, sizeof s->xattr_buf);
      break;
    case XATTR_LIST:
      r = listxattr(proc_path, (char *)s->xattr_buf, sizeof s->xattr_buf);
      break;
    case XATTR_SET:
      r = setxattr(proc_path, name, value, value_length, (int)flags);
      break;
    case XATTR_REMOVE:
      r = removexattr(proc_path, name);
      break;
  }
  int ret = result(r);
  close(fd);
  return ret;
}

static int op_setxattr(struct gofer_server *s, const struct gofer_request *q) {
  if (q->flags & ~(uint32_t)(XATTR_CREATE | XATTR_REPLACE)) return -EINVAL;
  if (s->read_only) return read_only_change(s, &q->path);
  return with_object(s, &q->path, XATTR_SET, q->xname, q->value, q->value_length, q->flags);
}

static int op_removexattr(struct gofer_server *s, const struct gofer_request *q) {
  if (s->read_only) return read_only_change(s, &q->path);
  return with_object(s, &q->path, XATTR_REMOVE, q->xname, NULL, 0, 0);
}

/* ------------------------------------------------------------------------ */
/* Sockets. */

/* bind(2) of a program's socket below the root: the parent is opened with
 * the usual RESOLVE_IN_ROOT discipline and the socket bound at
 * /proc/self/fd/<parent>/<name>, so only that directory can receive it (the
 * magic link is the directory the gofer holds; the last component is
 * created, never followed: an existing name, symlink or not, is EADDRINUSE).
 * The inode takes the identity's owner, and the socket's own permission bits
 * (the gofer's umask is 0; the sentry set them). The address into
 * s->link_buf: its length, or -errno. */
static int op_bind_socket(struct gofer_server *s, int sock, const struct gofer_path *p) {
  if (sock < 0) return -EBADF;
  if (p->count == 0) return -EADDRINUSE;
  if (s->read_only) {
    int r = read_only_create(s, p);
    return r == -EEXIST ? -EADDRINUSE : r;
  }
  int dirfd = open_parent(s, p);
  if (dirfd < 0) return dirfd;
  struct sockaddr_un addr = {.sun_family = AF_UNIX};
  int length = snprintf(addr.sun_path, sizeof addr.sun_path, "/proc/self/fd/%d/%s", dirfd, last_name(p));
  int r;
  /* sun_path holds 108 bytes with its NUL. */
  if (length < 0 || length > 107) {
    r = -ENAMETOOLONG;
  } else {
    r = result(bind(sock, (struct sockaddr *)&addr, (socklen_t)(offsetof(struct sockaddr_un, sun_path) + length + 1)));
    if (r >= 0) {
      memcpy(s->link_buf, addr.sun_path, (size_t)length);
      r = length;
    }
  }
  release_dir(s, dirfd);
  return r;
}

/* connect(2)'s lookup of a socket path: the inode, checked for type and write permission as the identity. */
static int op_socket_target(struct gofer_server *s, const struct gofer_path *p) {
  int fd = open_target(s, p);
  if (fd < 0) return fd;
  int r = stat_fd(s, fd);
  if (r >= 0 && file_type(s) != S_IFSOCK) r = -ECONNREFUSED;
  if (r >= 0) r = result(syscall(SYS_faccessat2, fd, "", W_OK, AT_EACCESS | AT_EMPTY_PATH));
  if (r < 0) {
    close(fd);
    return r;
  }
  return fd;
}

/* ------------------------------------------------------------------------ */

static size_t status_reply(uint8_t *out, size_t cap, const struct gofer_request *q, int r) {
  struct wire_writer w;
  wire_begin_reply(&w, out, cap, q->op, q->id, r < 0 ? -r : 0);
  return w.pos;
}

static size_t reply_errno(uint8_t *out, size_t cap, const struct gofer_request *q, int r) {
  return wire_error_reply(out, cap, q->op, q->id, -r);
}

static size_t handle(struct gofer_server *s, const struct gofer_request *q, uint8_t *out, size_t cap, int *fd_out,
                     struct wire_writer *w) {
  int r;
  if (q->op == OP_CREDS) {
    r = identity_assume(&s->identity, q->uid, q->gid, q->ngroups, q->groups, q->dev);
    /* Half an identity is no identity: serve no one until a whole one is taken. */
    s->identity_lost = r < 0;
    return status_reply(out, cap, q, r);
  }
  if (s->identity_lost) return wire_error_reply(out, cap, q->op, q->id, EACCES);
  switch (q->op) {
    case OP_WALK: {
      struct walk_outcome o = walk(s, &q->path);
      wire_begin_reply(w, out, cap, q->op, q->id, o.errno_value);
      wire_u32(w, o.found);
      wire_raw(w, &s->stx, WIRE_STATX_BYTES);
      wire_string(w, s->link_buf, (uint32_t)o.target_length);
      return w->pos;
    }
    case OP_OPEN:
      r = op_open(s, &q->path, q->flags, q->mode);
      if (r < 0) return reply_errno(out, cap, q, r);
      *fd_out = r;
      wire_begin_reply(w, out, cap, q->op, q->id, 0);
      wire_raw(w, &s->stx, WIRE_STATX_BYTES);
      return w->pos;
    case OP_MKDIR:
      return status_reply(out, cap, q, op_mkdir(s, &q->path, q->mode));
    case OP_MKNOD:
      return status_reply(out, cap, q, op_mknod(s, &q->path, q->mode, q->dev));
    case OP_UNLINK:
      return status_reply(out, cap, q, op_unlink(s, &q->path, q->flags));
    case OP_RENAME:
      return status_reply(out, cap, q, op_rename(s, &q->path, &q->path2, q->flags));
    case OP_SYMLINK:
      return status_reply(out, cap, q, op_symlink(s, q->target, &q->path));
    case OP_LINK:
      return status_reply(out, cap, q, op_link(s, &q->path, &q->path2));
    case OP_CHMOD:
      return status_reply(out, cap, q, op_chmod(s, &q->path, q->mode));
    case OP_CHOWN:
      return status_reply(out, cap, q, op_chown(s, &q->path, q->uid, q->gid));
    case OP_UTIMES:
      return status_reply(out, cap, q, op_utimes(s, &q->path, &q->atime, &q->mtime));
    case OP_TRUNCATE:
      return status_reply(out, cap, q, op_truncate(s, &q->path, q->length));
    case OP_ACCESS:
      return status_reply(out, cap, q, op_access(s, &q->path, q->mode));
    case OP_STATFS:
      r = op_statfs(s, &q->path);
      if (r < 0) return reply_errno(out, cap, q, r);
      wire_begin_reply(w, out, cap, q->op, q->id, 0);
      wire_raw(w, s->statfs_buf, WIRE_STATFS_BYTES);
      return w->pos;
    case OP_GETDENTS:
      wire_begin_reply(w, out, cap, q->op, q->id, 0);
      r = op_getdents(s, &q->path, q->offset, w);
      if (r < 0) return reply_errno(out, cap, q, r);
      return w->pos;
    case OP_READLINK:
      r = op_readlink(s, &q->path);
      if (r < 0) return reply_errno(out, cap, q, r);
      wire_begin_reply(w, out, cap, q->op, q->id, 0);
      wire_string(w, s->link_buf, (uint32_t)r);
      return w->pos;
    case OP_GETXATTR:
    case OP_LISTXATTR:
      r = with_object(s, &q->path, q->op == OP_GETXATTR ? XATTR_GET : XATTR_LIST, q->xname, NULL, 0, 0);
      if (r < 0) return reply_errno(out, cap, q, r);
      wire_begin_reply(w, out, cap, q->op, q->id, 0);
      wire_string(w, s->xattr_buf, (uint32_t)r);
      return w->pos;
    case OP_SETXATTR:
      return status_reply(out, cap, q, op_setxattr(s, q));
    case OP_REMOVEXATTR:
      return status_reply(out, cap, q, op_removexattr(s, q));
    case OP_BIND_SOCKET:
      r = op_bind_socket(s, s->request_fd, &q->path);
      if (r < 0) return reply_errno(out, cap, q, r);
      wire_begin_reply(w, out, cap, q->op, q->id, 0);
      wire_string(w, s->link_buf, (uint32_t)r);
      return w->pos;
    case OP_CHMOD_FD:
      return status_reply(out, cap, q, op_chmod_fd(s, s->request_fd, q->mode, q->flags));
    case OP_CHOWN_FD:
      return status_reply(out, cap, q, op_chown_fd(s->request_fd, q->uid, q->gid, q->flags));
    case OP_UTIMES_FD:
      return status_reply(out, cap, q, op_utimes_fd(s->request_fd, &q->atime, &q->mtime, q->flags));
    case OP_REOPEN_FD:
      r = op_reopen_fd(s, s->request_fd, q->flags);
      if (r < 0) return reply_errno(out, cap, q, r);
      *fd_out = r;
      return status_reply(out, cap, q, 0);
    case OP_SOCKET_TARGET:
      r = op_socket_target(s, &q->path);
      if (r < 0) return reply_errno(out, cap, q, r);
      *fd_out = r;
      return status_reply(out, cap, q, 0);
  }
  return wire_error_reply(out, cap, q->op, q->id, EINVAL);
}

size_t gofer_handle(struct gofer_server *s, const struct gofer_request *q, uint8_t *out, size_t cap, int *fd_out) {
  struct wire_writer w = {out, 0, cap, false};
  *fd_out = -1;
  size_t length = handle(s, q, out, cap, fd_out, &w);
  if (w.overflow) {
    /* A result that does not fit the message (never expected): the op is EIO, the gofer goes on. */
    close_fd(*fd_out);
    *fd_out = -1;
    return wire_error_reply(out, cap, q->op, q->id, EIO);
  }
  return length;
}

_Static_assert(sizeof(struct statx) == WIRE_STATX_BYTES, "struct statx is 256 bytes");
