/*
 * Shared helpers for the differential syscall programs in this folder.
 *
 * Each program runs in a fresh, empty working directory, once natively and
 * once under `tsvisor do`, and test/fs-differential.test.ts requires the two
 * outputs to be identical. So every line printed here must be deterministic:
 * return values, errno names (not strerror text), modes, sizes, link counts,
 * owners; never inode numbers, times of day, device numbers or host paths.
 *
 * One check is one line: CHECK("mkdir exists", mkdir("d", 0755)) prints
 * "mkdir exists = -1 EEXIST" (or "= 0"). A program never stops at the first
 * failure: it prints every check and goes on.
 */
#ifndef TSVISOR_DIFF_CHECK_H
#define TSVISOR_DIFF_CHECK_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif
#ifndef SYS_faccessat2
#define SYS_faccessat2 439
#endif
#ifndef SYS_openat2
#define SYS_openat2 437
#endif

#ifndef SYS_close_range
#define SYS_close_range 436
#endif

/** fds inherited from whoever started the program would show in /proc/self/fd and shift fd numbers. */
__attribute__((constructor)) static void close_inherited_fds(void) { syscall(SYS_close_range, 3, ~0U, 0); }

/** A bad pointer: EFAULT wherever the kernel reads or writes through it
 * (hidden from the compiler, which would otherwise refuse some calls). */
static __attribute__((unused)) void *bad_pointer(void) {
  void *volatile p = (void *)1;
  return p;
}
#define BADPTR (bad_pointer())

static __attribute__((unused)) const char *errname(int e) {
  switch (e) {
#define E_(x) case x: return #x;
    E_(EPERM) E_(ENOENT) E_(ESRCH) E_(EINTR) E_(EIO) E_(ENXIO) E_(E2BIG) E_(ENOEXEC) E_(EBADF) E_(ECHILD)
    E_(EAGAIN) E_(ENOMEM) E_(EACCES) E_(EFAULT) E_(ENOTBLK) E_(EBUSY) E_(EEXIST) E_(EXDEV) E_(ENODEV)
    E_(ENOTDIR) E_(EISDIR) E_(EINVAL) E_(ENFILE) E_(EMFILE) E_(ENOTTY) E_(ETXTBSY) E_(EFBIG) E_(ENOSPC)
    E_(ESPIPE) E_(EROFS) E_(EMLINK) E_(EPIPE) E_(EDOM) E_(ERANGE) E_(EDEADLK) E_(ENAMETOOLONG) E_(ENOLCK)
    E_(ENOSYS) E_(ENOTEMPTY) E_(ELOOP) E_(ENOMSG) E_(ENODATA) E_(EOVERFLOW) E_(EBADFD) E_(ENOTSOCK)
    E_(EOPNOTSUPP) E_(EADDRINUSE) E_(ENOTCONN) E_(ETIMEDOUT) E_(ESTALE) E_(EDQUOT) E_(ECANCELED)
    E_(EOWNERDEAD) E_(EUSERS) E_(EILSEQ) E_(ENOTUNIQ) E_(EMSGSIZE) E_(ENOBUFS) E_(EPROTO)
    E_(EAFNOSUPPORT) E_(EPROTONOSUPPORT) E_(ESOCKTNOSUPPORT) E_(EPROTOTYPE) E_(ENOPROTOOPT) E_(ECONNREFUSED)
    E_(EADDRNOTAVAIL) E_(EDESTADDRREQ) E_(EISCONN) E_(EINPROGRESS) E_(EALREADY) E_(ECONNRESET) E_(ENETUNREACH)
#undef E_
    default: {
      static char buf[32];
      snprintf(buf, sizeof buf, "E#%d", e);
      return buf;
    }
  }
}

static __attribute__((unused)) void report(const char *label, long r, int e) {
  if (r < 0) printf("%s = %ld %s\n", label, r, errname(e));
  else printf("%s = %ld\n", label, r);
  fflush(stdout);
}

static __attribute__((unused)) void report_ok(const char *label, long r, int e) {
  if (r < 0) printf("%s = %ld %s\n", label, r, errname(e));
  else printf("%s = ok\n", label);
  fflush(stdout);
}

/** label = value, or label = -1 ERRNO. */
#define CHECK(label, expr) do { errno = 0; long r_ = (long)(expr); int e_ = errno; report((label), r_, e_); } while (0)
/** label = ok for any value >= 0 (an fd, a size that may vary), else -1 ERRNO. */
#define CHECK_OK(label, expr) do { errno = 0; long r_ = (long)(expr); int e_ = errno; report_ok((label), r_, e_); } while (0)

/** A free-form deterministic line. */
static __attribute__((unused)) void say(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vprintf(fmt, ap);
  va_end(ap);
  putchar('\n');
  fflush(stdout);
}

static __attribute__((unused)) const char *type_name(mode_t m) {
  switch (m & S_IFMT) {
    case S_IFREG: return "reg";
    case S_IFDIR: return "dir";
    case S_IFLNK: return "lnk";
    case S_IFCHR: return "chr";
    case S_IFBLK: return "blk";
    case S_IFIFO: return "fifo";
    case S_IFSOCK: return "sock";
    default: return "?";
  }
}

/**
 * The parts of a struct stat that are the same across runs. A directory's
 * size is its filesystem's own measure (4096 on ext4, a count of entries on
 * tmpfs), so it is left out.
 */
static __attribute__((unused)) void say_stat(const char *label, const struct stat *st) {
  if (S_ISDIR(st->st_mode))
    say("%s: dir mode=%04o nlink=%lu uid=%u gid=%u", label, (unsigned)(st->st_mode & 07777),
        (unsigned long)st->st_nlink, (unsigned)st->st_uid, (unsigned)st->st_gid);
  else
    say("%s: %s mode=%04o size=%lld nlink=%lu uid=%u gid=%u", label, type_name(st->st_mode),
        (unsigned)(st->st_mode & 07777), (long long)st->st_size, (unsigned long)st->st_nlink,
        (unsigned)st->st_uid, (unsigned)st->st_gid);
}

/**
 * For directories that come from the host's tree (the work directory, /):
 * in the sandbox they are overlayfs directories merged with the host's, whose
 * link count overlayfs reports as 1, so only type, mode and owner are shown.
 */
static __attribute__((unused)) void say_stat_brief(const char *label, const struct stat *st) {
  say("%s: %s mode=%04o uid=%u gid=%u", label, type_name(st->st_mode), (unsigned)(st->st_mode & 07777),
      (unsigned)st->st_uid, (unsigned)st->st_gid);
}

/** lstat (follow=0) or stat (follow=1) a path and print what matters, or the errno. */
static __attribute__((unused)) void show(const char *label, const char *path, int follow) {
  struct stat st;
  int r = follow ? stat(path, &st) : lstat(path, &st);
  if (r < 0) report(label, r, errno);
  else say_stat(label, &st);
}

/** Creates (truncating) a file holding text; aborts the program if it cannot. */
static __attribute__((unused)) void put_file(const char *path, const char *text, mode_t mode) {
  int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, mode);
  if (fd < 0 || write(fd, text, strlen(text)) != (ssize_t)strlen(text)) {
    printf("setup: cannot write %s: %s\n", path, errname(errno));
    exit(2);
  }
  fchmod(fd, mode);
  close(fd);
}

/** Reads a small file whole into a static buffer ("<errno>" when it cannot). */
static __attribute__((unused)) const char *get_file(const char *path) {
  static char buf[4096];
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    snprintf(buf, sizeof buf, "<%s>", errname(errno));
    return buf;
  }
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  buf[n < 0 ? 0 : n] = 0;
  return buf;
}

/** A name of n bytes ('n' repeated). */
static __attribute__((unused)) const char *long_name(size_t n) {
  static char buf[1024];
  if (n >= sizeof buf) n = sizeof buf - 1;
  memset(buf, 'n', n);
  buf[n] = 0;
  return buf;
}

/** A path longer than PATH_MAX made of short components ("a/a/a/..."). */
static __attribute__((unused)) const char *long_path(void) {
  static char buf[PATH_MAX + 64];
  size_t i = 0;
  while (i < PATH_MAX + 10) {
    buf[i++] = 'a';
    buf[i++] = '/';
  }
  buf[i] = 0;
  return buf;
}

/** Exit status of a child in words (for checks made in a forked child). */
static __attribute__((unused)) void say_wait(const char *label, pid_t pid) {
  int st = 0;
  if (waitpid(pid, &st, 0) < 0) report(label, -1, errno);
  else if (WIFEXITED(st)) say("%s: exit %d", label, WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) say("%s: signal %d", label, WTERMSIG(st));
  else say("%s: status %d", label, st);
}

#endif
