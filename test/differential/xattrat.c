/*
 * The *xattrat calls of Linux 6.13 (setxattrat, getxattrat, listxattrat,
 * removexattrat): dirfd + path + AT_ flags, the value in a struct
 * xattr_args, and their error cases in the kernel's order.
 */
#include "check.h"
#include <sys/xattr.h>

#ifndef SYS_setxattrat
#define SYS_setxattrat 463
#define SYS_getxattrat 464
#define SYS_listxattrat 465
#define SYS_removexattrat 466
#endif

struct xargs {
  uint64_t value;
  uint32_t size;
  uint32_t flags;
};

static long set_at(int dfd, const char *path, unsigned at, const char *name, const void *v, uint32_t n, uint32_t flags) {
  struct xargs a = {(uintptr_t)v, n, flags};
  return syscall(SYS_setxattrat, dfd, path, at, name, &a, sizeof a);
}

static long get_at(int dfd, const char *path, unsigned at, const char *name, void *v, uint32_t n) {
  struct xargs a = {(uintptr_t)v, n, 0};
  return syscall(SYS_getxattrat, dfd, path, at, name, &a, sizeof a);
}

int main(void) {
  char buf[256];
  put_file("f", "data", 0644);
  mkdir("d", 0755);
  symlink("f", "lnk");
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  int ffd = open("f", O_RDONLY);

  CHECK("setxattrat f", set_at(AT_FDCWD, "f", 0, "user.a", "one", 3, 0));
  CHECK("setxattrat via dirfd", set_at(dfd, "../f", 0, "user.b", "two", 3, 0));
  CHECK("setxattrat create exists", set_at(AT_FDCWD, "f", 0, "user.a", "x", 1, XATTR_CREATE));
  CHECK("setxattrat replace missing", set_at(AT_FDCWD, "f", 0, "user.zz", "x", 1, XATTR_REPLACE));
  CHECK("setxattrat bad flags", set_at(AT_FDCWD, "f", 0, "user.a", "x", 1, 4));
  CHECK("setxattrat bad at_flags", set_at(AT_FDCWD, "f", 0x800, "user.a", "x", 1, 0));
  CHECK("setxattrat nofollow on symlink", set_at(AT_FDCWD, "lnk", AT_SYMLINK_NOFOLLOW, "user.a", "x", 1, 0));
  CHECK("setxattrat follow symlink", set_at(AT_FDCWD, "lnk", 0, "user.c", "three", 5, 0));
  CHECK("setxattrat empty path fd", set_at(ffd, "", AT_EMPTY_PATH, "user.d", "four", 4, 0));
  CHECK("setxattrat empty path no flag", set_at(ffd, "", 0, "user.d", "four", 4, 0));
  CHECK("setxattrat empty name", set_at(AT_FDCWD, "f", 0, "", "x", 1, 0));
  CHECK("setxattrat long name", set_at(AT_FDCWD, "f", 0, long_name(300), "x", 1, 0));
  CHECK("setxattrat missing", set_at(AT_FDCWD, "nope", 0, "user.a", "x", 1, 0));
  CHECK("setxattrat bad value ptr", set_at(AT_FDCWD, "f", 0, "user.a", BADPTR, 4, 0));
  CHECK("setxattrat huge size", set_at(AT_FDCWD, "f", 0, "user.a", "x", 70000, 0));
  CHECK("setxattrat bad path ptr", set_at(AT_FDCWD, BADPTR, 0, "user.a", "x", 1, 0));
  {
    struct xargs a = {(uintptr_t) "x", 1, 0};
    CHECK("setxattrat usize small", syscall(SYS_setxattrat, AT_FDCWD, "f", 0, "user.a", &a, 8));
    CHECK("setxattrat usize page+1", syscall(SYS_setxattrat, AT_FDCWD, "f", 0, "user.a", &a, 4097));
    CHECK("setxattrat bad uargs", syscall(SYS_setxattrat, AT_FDCWD, "f", 0, "user.a", BADPTR, sizeof a));
    char big[32] = {0};
    memcpy(big, &a, sizeof a);
    CHECK("setxattrat usize 32 zero tail", syscall(SYS_setxattrat, AT_FDCWD, "f", 0, "user.e", big, 32));
    big[20] = 1;
    CHECK("setxattrat usize 32 nonzero tail", syscall(SYS_setxattrat, AT_FDCWD, "f", 0, "user.e", big, 32));
  }

  memset(buf, 0, sizeof buf);
  CHECK("getxattrat size query", get_at(AT_FDCWD, "f", 0, "user.a", NULL, 0));
  CHECK("getxattrat value", get_at(AT_FDCWD, "f", 0, "user.a", buf, sizeof buf));
  say("value: %s", buf);
  CHECK("getxattrat short buffer", get_at(AT_FDCWD, "f", 0, "user.c", buf, 2));
  CHECK("getxattrat missing attr", get_at(AT_FDCWD, "f", 0, "user.none", buf, sizeof buf));
  CHECK("getxattrat via fd", get_at(ffd, "", AT_EMPTY_PATH, "user.d", buf, sizeof buf));
  CHECK("getxattrat via cwd empty path", get_at(AT_FDCWD, "", AT_EMPTY_PATH, "user.a", buf, sizeof buf));
  CHECK("getxattrat bad out ptr", get_at(AT_FDCWD, "f", 0, "user.a", BADPTR, 16));
  {
    struct xargs a = {(uintptr_t)buf, sizeof buf, 1};
    CHECK("getxattrat flags nonzero", syscall(SYS_getxattrat, AT_FDCWD, "f", 0, "user.a", &a, sizeof a));
  }

  char list[512];
  long n = syscall(SYS_listxattrat, AT_FDCWD, "f", 0, list, sizeof list);
  CHECK("listxattrat", n);
  {
    int count = 0;
    for (long i = 0; i < n; i += (long)strlen(list + i) + 1)
      if (strncmp(list + i, "user.", 5) == 0) count++;
    say("user names: %d", count);
  }
  CHECK("listxattrat size query", syscall(SYS_listxattrat, AT_FDCWD, "f", 0, NULL, 0));
  CHECK("listxattrat short", syscall(SYS_listxattrat, AT_FDCWD, "f", 0, list, 3));
  CHECK("listxattrat bad at_flags", syscall(SYS_listxattrat, AT_FDCWD, "f", 0x1, list, sizeof list));
  CHECK("listxattrat nofollow symlink", syscall(SYS_listxattrat, AT_FDCWD, "lnk", AT_SYMLINK_NOFOLLOW, list, sizeof list));

  CHECK("removexattrat", syscall(SYS_removexattrat, AT_FDCWD, "f", 0, "user.a"));
  CHECK("removexattrat again", syscall(SYS_removexattrat, AT_FDCWD, "f", 0, "user.a"));
  CHECK("removexattrat via dirfd", syscall(SYS_removexattrat, dfd, "../f", 0, "user.b"));
  CHECK("removexattrat via fd", syscall(SYS_removexattrat, ffd, "", AT_EMPTY_PATH, "user.d"));
  CHECK("removexattrat bad name ptr", syscall(SYS_removexattrat, AT_FDCWD, "f", 0, BADPTR));
  CHECK("removexattrat bad at_flags", syscall(SYS_removexattrat, AT_FDCWD, "f", 0x2000, "user.c"));
  CHECK("removexattrat missing file", syscall(SYS_removexattrat, AT_FDCWD, "nope", 0, "user.c"));
  CHECK("removexattrat notdir", syscall(SYS_removexattrat, AT_FDCWD, "f/x", 0, "user.c"));
  return 0;
}
