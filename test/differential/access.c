/* access, faccessat, faccessat2 (AT_EACCESS, AT_SYMLINK_NOFOLLOW, AT_EMPTY_PATH) and their errors. */
#include "check.h"

#define FACCESSAT(d, p, m) syscall(SYS_faccessat, (d), (p), (m))
#define FACCESSAT2(d, p, m, f) syscall(SYS_faccessat2, (d), (p), (m), (f))

int main(void) {
  umask(0);
  put_file("f644", "x", 0644);
  put_file("f600", "x", 0600);
  put_file("f000", "x", 0000);
  put_file("f755", "x", 0755);
  put_file("f001", "x", 0001);
  put_file("f100", "x", 0100);
  mkdir("d", 0755);
  mkdir("d000", 0000);
  put_file("d/in", "x", 0644);
  symlink("f644", "lf");
  symlink("missing", "dangling");
  symlink("loop1", "loop2");
  symlink("loop2", "loop1");

  CHECK("access f644 F_OK", access("f644", F_OK));
  CHECK("access f644 R_OK", access("f644", R_OK));
  CHECK("access f644 W_OK", access("f644", W_OK));
  CHECK("access f644 X_OK", access("f644", X_OK));
  CHECK("access f644 RWX", access("f644", R_OK | W_OK | X_OK));
  CHECK("access f000 R_OK|W_OK", access("f000", R_OK | W_OK));
  CHECK("access f000 X_OK", access("f000", X_OK));
  CHECK("access f755 X_OK", access("f755", X_OK));
  CHECK("access f001 X_OK", access("f001", X_OK));
  CHECK("access f100 X_OK", access("f100", X_OK));
  CHECK("access d X_OK", access("d", X_OK));
  CHECK("access d000 RWX", access("d000", R_OK | W_OK | X_OK));
  CHECK("access lf R_OK", access("lf", R_OK));
  CHECK("access dangling", access("dangling", F_OK));
  CHECK("access loop", access("loop1", F_OK));
  CHECK("access missing", access("missing", F_OK));
  CHECK("access f644/", access("f644/", F_OK));
  CHECK("access d/", access("d/", F_OK));
  CHECK("access d/in/", access("d/in/", F_OK));
  CHECK("access empty", access("", F_OK));
  CHECK("access bad mode", access("f644", 8));
  CHECK("access bad mode missing", access("missing", 0x10));
  CHECK("access badptr", access(BADPTR, F_OK));
  CHECK("access NULL", syscall(SYS_access, NULL, F_OK));
  CHECK("access name256", access(long_name(256), F_OK));
  CHECK("access pathmax", access(long_path(), F_OK));
  CHECK("access /proc/self/status W_OK", access("/proc/self/status", W_OK));
  CHECK("access /proc/self/status X_OK", access("/proc/self/status", X_OK));
  CHECK("access /proc X_OK", access("/proc", X_OK));
  CHECK("access /proc/.. X_OK", access("/proc/..", X_OK));

  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  int ffd = open("f644", O_RDONLY);
  int pfd = open("lf", O_PATH | O_NOFOLLOW);
  CHECK("faccessat dirfd in", FACCESSAT(dfd, "in", R_OK));
  CHECK("faccessat dirfd missing", FACCESSAT(dfd, "f644", R_OK));
  CHECK("faccessat AT_FDCWD", FACCESSAT(AT_FDCWD, "d/in", W_OK));
  CHECK("faccessat badfd", FACCESSAT(999, "in", R_OK));
  CHECK("faccessat badfd abs", FACCESSAT(999, "/", R_OK));
  CHECK("faccessat file dirfd", FACCESSAT(ffd, "in", R_OK));
  CHECK("faccessat empty", FACCESSAT(dfd, "", R_OK));
  CHECK("faccessat bad mode", FACCESSAT(dfd, "in", 0x80));

  CHECK("faccessat2 0", FACCESSAT2(dfd, "in", R_OK, 0));
  CHECK("faccessat2 AT_EACCESS", FACCESSAT2(AT_FDCWD, "f600", R_OK | W_OK, AT_EACCESS));
  CHECK("faccessat2 NOFOLLOW dangling", FACCESSAT2(AT_FDCWD, "dangling", F_OK, AT_SYMLINK_NOFOLLOW));
  CHECK("faccessat2 NOFOLLOW loop", FACCESSAT2(AT_FDCWD, "loop1", F_OK, AT_SYMLINK_NOFOLLOW));
  CHECK("faccessat2 NOFOLLOW lf W_OK", FACCESSAT2(AT_FDCWD, "lf", W_OK, AT_SYMLINK_NOFOLLOW));
  CHECK("faccessat2 NOFOLLOW lf X_OK", FACCESSAT2(AT_FDCWD, "lf", X_OK, AT_SYMLINK_NOFOLLOW));
  CHECK("faccessat2 follow dangling", FACCESSAT2(AT_FDCWD, "dangling", F_OK, 0));
  CHECK("faccessat2 AT_EMPTY_PATH fd", FACCESSAT2(ffd, "", R_OK, AT_EMPTY_PATH));
  CHECK("faccessat2 AT_EMPTY_PATH fd X_OK", FACCESSAT2(ffd, "", X_OK, AT_EMPTY_PATH));
  CHECK("faccessat2 AT_EMPTY_PATH O_PATH link", FACCESSAT2(pfd, "", F_OK, AT_EMPTY_PATH));
  CHECK("faccessat2 AT_EMPTY_PATH cwd", FACCESSAT2(AT_FDCWD, "", X_OK, AT_EMPTY_PATH));
  CHECK("faccessat2 AT_EMPTY_PATH badfd", FACCESSAT2(999, "", F_OK, AT_EMPTY_PATH));
  CHECK("faccessat2 empty no flag", FACCESSAT2(ffd, "", F_OK, 0));
  CHECK("faccessat2 bad flags", FACCESSAT2(AT_FDCWD, "f644", F_OK, 0x8000));
  CHECK("faccessat2 bad flags 1", FACCESSAT2(AT_FDCWD, "f644", F_OK, 1));
  CHECK("faccessat2 bad mode", FACCESSAT2(AT_FDCWD, "f644", 0x40, 0));
  CHECK("faccessat2 badptr", FACCESSAT2(AT_FDCWD, BADPTR, F_OK, 0));

  /* Real uid 1000, effective 0: access uses the real one, AT_EACCESS the effective one. */
  pid_t pid = fork();
  if (pid == 0) {
    if (setresuid(1000, 0, 0) < 0) {
      say("setresuid failed");
      _exit(1);
    }
    CHECK("child access f600 R_OK", access("f600", R_OK));
    CHECK("child access f644 R_OK", access("f644", R_OK));
    CHECK("child access f644 W_OK", access("f644", W_OK));
    CHECK("child faccessat2 f600 AT_EACCESS", FACCESSAT2(AT_FDCWD, "f600", R_OK | W_OK, AT_EACCESS));
    CHECK("child faccessat2 f000 AT_EACCESS", FACCESSAT2(AT_FDCWD, "f000", R_OK, AT_EACCESS));
    CHECK("child faccessat2 f000 X AT_EACCESS", FACCESSAT2(AT_FDCWD, "f000", X_OK, AT_EACCESS));
    CHECK("child access d000 X_OK", access("d000", X_OK));
    CHECK("child faccessat2 d000 AT_EACCESS", FACCESSAT2(AT_FDCWD, "d000", X_OK, AT_EACCESS));
    _exit(0);
  }
  say_wait("child", pid);
  return 0;
}
