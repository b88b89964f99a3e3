/*
 * Reopening an fd through its /proc/self/fd/N magic link: a new open of the
 * object the fd names, checked against the opener like any open (the
 * inode's permission bits), with the access mode and flags asked for. Root
 * makes the objects; a child as uid/gid 1000 reopens them, then a child
 * that stays root. Sandboxed, the reopen of an object with no name in the
 * tree (a deleted file, a memfd) must not be made with the sentry's rights.
 */
#include "check.h"
#include <grp.h>
#include <sys/mman.h>
#include <sys/socket.h>

static char proc_name[64];

static const char *fd_path(int fd) {
  snprintf(proc_name, sizeof proc_name, "/proc/self/fd/%d", fd);
  return proc_name;
}

/* open(/proc/self/fd/fd, flags), labelled; the new fd is closed again. */
static void reopen(const char *what, int fd, int flags, const char *how) {
  char label[160];
  snprintf(label, sizeof label, "reopen %s %s", what, how);
  errno = 0;
  int r = open(fd_path(fd), flags);
  int e = errno;
  report_ok(label, r, e);
  if (r >= 0) close(r);
}

/* What a reopened fd is: its access mode and flags, and that it is a new description (its own offset). */
static void reopen_describe(const char *what, int fd, int flags) {
  int r = open(fd_path(fd), flags);
  if (r < 0) {
    report(what, r, errno);
    return;
  }
  int fl = fcntl(r, F_GETFL);
  say("%s: accmode=%d append=%d nonblock=%d cloexec=%d", what, fl & O_ACCMODE, (fl & O_APPEND) != 0,
      (fl & O_NONBLOCK) != 0, (fcntl(r, F_GETFD) & FD_CLOEXEC) != 0);
  close(r);
}

static void regular(const char *what, int fd) {
  char label[128];
  reopen(what, fd, O_RDONLY, "O_RDONLY");
  reopen(what, fd, O_WRONLY, "O_WRONLY");
  reopen(what, fd, O_RDWR, "O_RDWR");
  reopen(what, fd, O_RDONLY | O_TRUNC, "O_RDONLY|O_TRUNC");
  reopen(what, fd, O_WRONLY | O_APPEND, "O_WRONLY|O_APPEND");
  snprintf(label, sizeof label, "%s size", what);
  struct stat st;
  CHECK(label, fstat(fd, &st) < 0 ? -1 : st.st_size);
}

/* gone, gone_path: fds on root's files that were unlinked since. */
static void objects(int gone, int gone_path) {
  int ro = open("root644", O_RDONLY);
  regular("root644", ro);
  regular("deleted root644", gone);
  reopen("deleted root600 O_PATH", gone_path, O_RDONLY, "O_RDONLY");
  int path600 = open("root600", O_PATH);
  reopen("root600 O_PATH", path600, O_RDONLY, "O_RDONLY");
  reopen("root600 O_PATH", path600, O_WRONLY, "O_WRONLY");
  int path666 = open("root666", O_PATH);
  reopen("root666 O_PATH", path666, O_RDWR, "O_RDWR");

  /* Its own memfd: a file with no name, mode 0777. */
  int mem = (int)syscall(SYS_memfd_create, "m", 0);
  CHECK("memfd write", write(mem, "abc", 3));
  reopen_describe("memfd O_RDWR|O_APPEND|O_CLOEXEC", mem, O_RDWR | O_APPEND | O_CLOEXEC);
  reopen_describe("memfd O_RDONLY|O_NONBLOCK", mem, O_RDONLY | O_NONBLOCK);
  int again = open(fd_path(mem), O_RDONLY);
  char c = '?';
  CHECK("memfd reopened reads from its own offset", read(again, &c, 1));
  say("memfd first byte: %c", c);
  close(again);
  regular("memfd", mem);

  /* Its own pipe. */
  int p[2];
  CHECK("pipe", pipe(p));
  reopen("pipe read end", p[0], O_RDONLY, "O_RDONLY");
  reopen("pipe write end", p[1], O_WRONLY, "O_WRONLY");
  reopen("pipe read end", p[0], O_RDONLY | O_NONBLOCK, "O_RDONLY|O_NONBLOCK");

  /* A socket cannot be opened, only connected to. */
  int sv[2];
  CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  reopen("socket", sv[0], O_RDWR, "O_RDWR");
  reopen("socket", sv[0], O_RDONLY, "O_RDONLY");
}

int main(void) {
  umask(022);
  chmod(".", 0755); /* the work directory: enterable by uid 1000 */
  put_file("root644", "public", 0644);
  put_file("root600", "secret", 0600);
  put_file("root666", "shared", 0666);

  /* Each child opens its fds on the files, then they are unlinked: the
   * reopens reach them through the magic link alone. */
  for (int round = 0; round < 2; round++) {
    put_file("gone644", "deleted", 0644);
    put_file("gone600", "deleted secret", 0600);
    int ready[2], done[2];
    if (pipe(ready) < 0 || pipe(done) < 0) return 1;
    pid_t pid = fork();
    if (pid == 0) {
      /* The deleted files' fds first, then the unlink (by the parent, root). */
      int gone = open("gone644", O_RDONLY);
      int gone_path = open("gone600", O_PATH);
      if (round == 0) {
        gid_t groups[1] = {1000};
        if (setgroups(1, groups) < 0 || setgid(1000) < 0 || setuid(1000) < 0) _exit(2);
      }
      char b = 0;
      if (write(ready[1], "r", 1) != 1 || read(done[0], &b, 1) != 1) _exit(3);
      say(round == 0 ? "as uid 1000:" : "as root:");
      objects(gone, gone_path);
      _exit(0);
    }
    char b = 0;
    if (read(ready[0], &b, 1) != 1) return 1;
    unlink("gone644");
    unlink("gone600");
    if (write(done[1], "d", 1) != 1) return 1;
    say_wait(round == 0 ? "user child" : "root child", pid);
    close(ready[0]);
    close(ready[1]);
    close(done[0]);
    close(done[1]);
  }
  show("root644 after", "root644", 0);
  show("root666 after", "root666", 0);
  return 0;
}
