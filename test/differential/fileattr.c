/*
 * file_getattr and file_setattr (Linux 6.17): inode flags by dirfd + path,
 * with struct file_attr, and their error cases.
 */
#include "check.h"

#ifndef SYS_file_getattr
#define SYS_file_getattr 468
#define SYS_file_setattr 469
#endif

struct fattr {
  uint64_t xflags;
  uint32_t extsize, nextents, projid, cowextsize;
};

int main(void) {
  struct fattr a;
  char big[64];
  put_file("f", "data", 0644);
  mkdir("d", 0755);
  symlink("f", "lnk");
  symlink("missing", "dangling");
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  int ffd = open("f", O_RDONLY);

  memset(&a, 0xff, sizeof a);
  CHECK("file_getattr f", syscall(SYS_file_getattr, AT_FDCWD, "f", &a, sizeof a, 0));
  say("xflags of f: %#llx", (unsigned long long)a.xflags);
  CHECK("file_getattr dirfd", syscall(SYS_file_getattr, dfd, "../f", &a, sizeof a, 0));
  CHECK("file_getattr via symlink", syscall(SYS_file_getattr, AT_FDCWD, "lnk", &a, sizeof a, 0));
  CHECK("file_getattr dangling", syscall(SYS_file_getattr, AT_FDCWD, "dangling", &a, sizeof a, 0));
  CHECK("file_getattr nofollow", syscall(SYS_file_getattr, AT_FDCWD, "lnk", &a, sizeof a, AT_SYMLINK_NOFOLLOW));
  CHECK("file_getattr empty path fd", syscall(SYS_file_getattr, ffd, "", &a, sizeof a, AT_EMPTY_PATH));
  CHECK("file_getattr empty path", syscall(SYS_file_getattr, AT_FDCWD, "", &a, sizeof a, 0));
  CHECK("file_getattr missing", syscall(SYS_file_getattr, AT_FDCWD, "nope", &a, sizeof a, 0));
  CHECK("file_getattr notdir", syscall(SYS_file_getattr, AT_FDCWD, "f/x", &a, sizeof a, 0));
  CHECK("file_getattr bad at_flags", syscall(SYS_file_getattr, AT_FDCWD, "f", &a, sizeof a, 0x4));
  CHECK("file_getattr usize small", syscall(SYS_file_getattr, AT_FDCWD, "f", &a, 16, 0));
  CHECK("file_getattr usize big", syscall(SYS_file_getattr, AT_FDCWD, "f", &a, 8192, 0));
  CHECK("file_getattr usize 64", syscall(SYS_file_getattr, AT_FDCWD, "f", big, sizeof big, 0));
  CHECK("file_getattr bad out", syscall(SYS_file_getattr, AT_FDCWD, "f", BADPTR, sizeof a, 0));
  CHECK("file_getattr bad path", syscall(SYS_file_getattr, AT_FDCWD, BADPTR, &a, sizeof a, 0));
  CHECK("file_getattr long name", syscall(SYS_file_getattr, AT_FDCWD, long_name(300), &a, sizeof a, 0));

  memset(&a, 0, sizeof a);
  CHECK("file_setattr f", syscall(SYS_file_setattr, AT_FDCWD, "f", &a, sizeof a, 0));
  CHECK("file_setattr bad in", syscall(SYS_file_setattr, AT_FDCWD, "nope", BADPTR, sizeof a, 0));
  memset(big, 0, sizeof big);
  big[40] = 1;
  CHECK("file_setattr nonzero tail", syscall(SYS_file_setattr, AT_FDCWD, "nope", big, sizeof big, 0));
  CHECK("file_setattr missing", syscall(SYS_file_setattr, AT_FDCWD, "nope", &a, sizeof a, 0));
  CHECK("file_setattr bad at_flags", syscall(SYS_file_setattr, AT_FDCWD, "f", &a, sizeof a, 0x8));
  CHECK("file_setattr on /proc/self", syscall(SYS_file_setattr, AT_FDCWD, "/proc/self/status", &a, sizeof a, 0));
  return 0;
}
