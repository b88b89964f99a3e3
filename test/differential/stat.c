/* stat, lstat, fstat, newfstatat, statx, statfs, fstatfs and their errors. */
#include "check.h"
#include <sys/statfs.h>
#include <sys/vfs.h>

static void show_statx(const char *label, int dirfd, const char *path, int flags, unsigned mask) {
  struct statx sx;
  memset(&sx, 0, sizeof sx);
  long r = syscall(SYS_statx, dirfd, path, flags, mask, &sx);
  if (r < 0) {
    report(label, r, errno);
    return;
  }
  /* The filesystem may report more than was asked (ext4 adds btime only when
   * asked, and leaves out mtime and ctime when not): show only the asked part. */
  unsigned asked = mask ? mask : STATX_TYPE | STATX_MODE;
  say("%s: %s mode=%04o size=%llu nlink=%u uid=%u gid=%u asked=%s", label, type_name(sx.stx_mode),
      sx.stx_mode & 07777, S_ISDIR(sx.stx_mode) ? 0ULL : (unsigned long long)sx.stx_size, sx.stx_nlink,
      sx.stx_uid, sx.stx_gid, (sx.stx_mask & asked) == asked ? "all" : "partial");
}

int main(void) {
  struct stat st;
  umask(022);
  put_file("f", "hello", 0644);
  mkdir("d", 0755);
  mkdir("d/sub", 0700);
  symlink("f", "lf");
  symlink("d", "ld");
  symlink("missing", "dangling");
  symlink("loop1", "loop2");
  symlink("loop2", "loop1");
  link("f", "hard");

  show("stat f", "f", 1);
  show("lstat f", "f", 0);
  show("stat d", "d", 1);
  show("stat lf", "lf", 1);
  show("lstat lf", "lf", 0);
  show("lstat ld", "ld", 0);
  show("stat ld/", "ld/", 1);
  show("lstat ld/", "ld/", 0);
  show("stat dangling", "dangling", 1);
  show("lstat dangling", "dangling", 0);
  show("stat loop1", "loop1", 1);
  show("lstat loop1", "loop1", 0);
  show("stat missing", "missing", 1);
  show("stat f/", "f/", 1);
  show("stat f/x", "f/x", 1);
  show("stat d/sub/..", "d/sub/..", 1);
  CHECK("stat .", stat(".", &st));
  say_stat_brief("stat .", &st);
  show("stat hard", "hard", 1);
  CHECK("stat /", stat("/", &st));
  say_stat_brief("stat /", &st);
  CHECK("stat empty", stat("", &st));
  CHECK("stat badptr path", stat(BADPTR, &st));
  CHECK("stat badptr buf", stat("f", BADPTR));
  CHECK("lstat badptr buf", lstat("f", BADPTR));
  CHECK("stat name256", stat(long_name(256), &st));
  CHECK("stat name255", stat(long_name(255), &st));
  CHECK("stat pathmax", stat(long_path(), &st));

  int fd = open("f", O_RDONLY);
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  int pfd = open("lf", O_PATH | O_NOFOLLOW);
  CHECK("fstat f", fstat(fd, &st));
  say_stat("fstat f", &st);
  CHECK("fstat badfd", fstat(999, &st));
  CHECK("fstat -1", fstat(-1, &st));
  CHECK("fstat badptr", fstat(fd, BADPTR));
  CHECK("fstat O_PATH symlink", fstat(pfd, &st));
  say_stat("fstat O_PATH symlink", &st);

  /* newfstatat */
  CHECK("fstatat dirfd sub", fstatat(dfd, "sub", &st, 0));
  say_stat("fstatat dirfd sub", &st);
  CHECK("fstatat AT_FDCWD lf nofollow", fstatat(AT_FDCWD, "lf", &st, AT_SYMLINK_NOFOLLOW));
  say_stat("fstatat AT_FDCWD lf nofollow", &st);
  CHECK("fstatat AT_EMPTY_PATH fd", fstatat(fd, "", &st, AT_EMPTY_PATH));
  say_stat("fstatat AT_EMPTY_PATH fd", &st);
  CHECK("fstatat AT_EMPTY_PATH O_PATH symlink", fstatat(pfd, "", &st, AT_EMPTY_PATH));
  say_stat("fstatat AT_EMPTY_PATH O_PATH symlink", &st);
  CHECK("fstatat AT_EMPTY_PATH AT_FDCWD", fstatat(AT_FDCWD, "", &st, AT_EMPTY_PATH));
  say_stat_brief("fstatat AT_EMPTY_PATH AT_FDCWD", &st);
  CHECK("fstatat empty no flag", fstatat(fd, "", &st, 0));
  CHECK("fstatat bad flags", fstatat(AT_FDCWD, "f", &st, 0x40000));
  CHECK("fstatat badfd rel", fstatat(999, "f", &st, 0));
  CHECK("fstatat badfd abs", fstatat(999, "/", &st, 0));
  CHECK("fstatat file dirfd", fstatat(fd, "x", &st, 0));
  CHECK("fstatat AT_EMPTY_PATH badfd", fstatat(999, "", &st, AT_EMPTY_PATH));
  CHECK("fstatat raw NULL path AT_EMPTY_PATH", syscall(SYS_newfstatat, fd, NULL, &st, AT_EMPTY_PATH));
  CHECK("fstatat raw NULL path", syscall(SYS_newfstatat, fd, NULL, &st, 0));

  /* statx */
  show_statx("statx f", AT_FDCWD, "f", 0, STATX_BASIC_STATS);
  show_statx("statx lf", AT_FDCWD, "lf", 0, STATX_BASIC_STATS);
  show_statx("statx lf nofollow", AT_FDCWD, "lf", AT_SYMLINK_NOFOLLOW, STATX_BASIC_STATS);
  show_statx("statx d dirfd sub", dfd, "sub", 0, STATX_BASIC_STATS);
  show_statx("statx empty fd", fd, "", AT_EMPTY_PATH, STATX_BASIC_STATS);
  struct statx sx;
  CHECK("statx empty cwd", syscall(SYS_statx, AT_FDCWD, "", AT_EMPTY_PATH, STATX_BASIC_STATS, &sx));
  show_statx("statx mask 0", AT_FDCWD, "f", 0, 0);
  show_statx("statx empty no flag", fd, "", 0, STATX_BASIC_STATS);
  show_statx("statx bad flags", AT_FDCWD, "f", 0x40000, STATX_BASIC_STATS);
  show_statx("statx sync both", AT_FDCWD, "f", AT_STATX_FORCE_SYNC | AT_STATX_DONT_SYNC, STATX_BASIC_STATS);
  show_statx("statx reserved mask", AT_FDCWD, "f", 0, 0x80000000u);
  show_statx("statx missing", AT_FDCWD, "missing", 0, STATX_BASIC_STATS);
  show_statx("statx loop", AT_FDCWD, "loop1", 0, STATX_BASIC_STATS);
  show_statx("statx badfd", 999, "f", 0, STATX_BASIC_STATS);
  show_statx("statx name256", AT_FDCWD, long_name(256), 0, STATX_BASIC_STATS);
  CHECK("statx badptr buf", syscall(SYS_statx, AT_FDCWD, "f", 0, STATX_BASIC_STATS, BADPTR));
  CHECK("statx badptr path", syscall(SYS_statx, AT_FDCWD, BADPTR, 0, STATX_BASIC_STATS, &sx));

  /* statfs, fstatfs: only what the same on the host and in the sandbox's overlay. */
  struct statfs sf;
  CHECK("statfs .", statfs(".", &sf));
  say("statfs . namelen=%ld bsize>0=%d", (long)sf.f_namelen, sf.f_bsize > 0);
  CHECK("statfs f", statfs("f", &sf));
  CHECK("statfs lf", statfs("lf", &sf));
  CHECK("statfs missing", statfs("missing", &sf));
  CHECK("statfs dangling", statfs("dangling", &sf));
  CHECK("statfs f/", statfs("f/", &sf));
  CHECK("statfs empty", statfs("", &sf));
  CHECK("statfs loop", statfs("loop1", &sf));
  CHECK("statfs name256", statfs(long_name(256), &sf));
  CHECK("statfs pathmax", statfs(long_path(), &sf));
  CHECK("statfs badptr path", statfs(BADPTR, &sf));
  CHECK("statfs badptr buf", statfs("f", BADPTR));
  CHECK("statfs /proc", statfs("/proc", &sf));
  say("statfs /proc type=%lx", (unsigned long)sf.f_type);
  CHECK("fstatfs f", fstatfs(fd, &sf));
  say("fstatfs f namelen=%ld", (long)sf.f_namelen);
  CHECK("fstatfs badfd", fstatfs(999, &sf));
  CHECK("fstatfs badptr", fstatfs(fd, BADPTR));
  CHECK("fstatfs O_PATH", fstatfs(pfd, &sf));
  return 0;
}
