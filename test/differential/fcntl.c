/* fcntl: record locks (classic and OFD) between a parent and a child, F_DUPFD*,
 * F_GETFD/F_SETFD, F_GETFL/F_SETFL, pipe sizes; flock. */
#include "check.h"
#include <sys/file.h>

static long lk(int fd, int cmd, short type, off_t start, off_t len) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  return fcntl(fd, cmd, &fl);
}

/** F_GETLK / F_OFD_GETLK: what would block a lock, shown without the pid (which differs). */
static void getlk(const char *label, int fd, int cmd, short type, off_t start, off_t len, int show_pid_is) {
  struct flock fl = {.l_type = type, .l_whence = SEEK_SET, .l_start = start, .l_len = len};
  if (fcntl(fd, cmd, &fl) < 0) {
    report(label, -1, errno);
    return;
  }
  const char *t = fl.l_type == F_UNLCK ? "F_UNLCK" : fl.l_type == F_RDLCK ? "F_RDLCK" : "F_WRLCK";
  if (fl.l_type == F_UNLCK) say("%s: %s", label, t);
  else say("%s: %s start=%lld len=%lld pid=%s", label, t, (long long)fl.l_start, (long long)fl.l_len,
           fl.l_pid == -1 ? "-1" : fl.l_pid == show_pid_is ? "child" : fl.l_pid == getpid() ? "self" : "other");
}

int main(void) {
  put_file("f", "0123456789abcdef", 0644);
  int fd = open("f", O_RDWR);
  int rofd = open("f", O_RDONLY);
  int pipefd[2];
  CHECK("pipe", pipe(pipefd));
  int sync1[2], sync2[2];
  pipe(sync1);
  pipe(sync2);
  char c;

  /* Classic POSIX locks: the child locks, the parent sees and conflicts. */
  pid_t pid = fork();
  if (pid == 0) {
    int cfd = open("f", O_RDWR);
    CHECK("child F_SETLK write 0-4", lk(cfd, F_SETLK, F_WRLCK, 0, 5));
    CHECK("child F_SETLK read 10-14", lk(cfd, F_SETLK, F_RDLCK, 10, 5));
    write(sync1[1], "x", 1);
    read(sync2[0], &c, 1); /* the parent checked */
    CHECK("child F_SETLK unlock 0-4", lk(cfd, F_SETLK, F_UNLCK, 0, 5));
    write(sync1[1], "x", 1);
    read(sync2[0], &c, 1); /* the parent waits on F_SETLKW for 10-14 */
    errno = 0;
    long r = lk(cfd, F_SETLK, F_UNLCK, 10, 5);
    int e = errno;
    read(sync2[0], &c, 1); /* print only after the parent's F_SETLKW returned and printed */
    report("child F_SETLK unlock 10-14", r, e);
    _exit(0);
  }
  read(sync1[0], &c, 1);
  getlk("parent F_GETLK write 0-4", fd, F_GETLK, F_WRLCK, 0, 5, pid);
  getlk("parent F_GETLK read 2", fd, F_GETLK, F_RDLCK, 2, 1, pid);
  getlk("parent F_GETLK read 10-14", fd, F_GETLK, F_RDLCK, 10, 5, pid);
  getlk("parent F_GETLK write 12", fd, F_GETLK, F_WRLCK, 12, 1, pid);
  getlk("parent F_GETLK write 20", fd, F_GETLK, F_WRLCK, 20, 1, pid);
  CHECK("parent F_SETLK write 0-4", lk(fd, F_SETLK, F_WRLCK, 0, 5));
  CHECK("parent F_SETLK read 10-14", lk(fd, F_SETLK, F_RDLCK, 10, 5));
  CHECK("parent F_SETLK write 5-9", lk(fd, F_SETLK, F_WRLCK, 5, 5));
  CHECK("parent F_SETLK write on rdonly fd", lk(rofd, F_SETLK, F_WRLCK, 30, 1));
  CHECK("parent F_SETLK bad type", lk(fd, F_SETLK, 42, 0, 1));
  CHECK("parent F_SETLK badfd", lk(999, F_SETLK, F_RDLCK, 0, 1));
  CHECK("parent F_SETLK badptr", fcntl(fd, F_SETLK, BADPTR));
  CHECK("parent F_GETLK badptr", fcntl(fd, F_GETLK, BADPTR));
  CHECK("parent F_SETLK negative start", lk(fd, F_SETLK, F_RDLCK, -5, 1));
  write(sync2[1], "x", 1);
  read(sync1[0], &c, 1);
  CHECK("parent F_SETLK write 0-4 after unlock", lk(fd, F_SETLK, F_WRLCK, 0, 5));
  write(sync2[1], "x", 1);
  CHECK("parent F_SETLKW write 10-14 (waits for the child)", lk(fd, F_SETLKW, F_WRLCK, 10, 5));
  write(sync2[1], "x", 1);
  say_wait("child", pid);
  getlk("parent F_GETLK own lock", fd, F_GETLK, F_WRLCK, 0, 5, 0);
  lk(fd, F_SETLK, F_UNLCK, 0, 0);

  /* OFD locks: owned by the open file, so two opens conflict even in one process. */
  int ofd1 = open("f", O_RDWR);
  int ofd2 = open("f", O_RDWR);
  CHECK("F_OFD_SETLK write 0-9 fd1", lk(ofd1, F_OFD_SETLK, F_WRLCK, 0, 10));
  CHECK("F_OFD_SETLK write 5 fd2", lk(ofd2, F_OFD_SETLK, F_WRLCK, 5, 1));
  getlk("F_OFD_GETLK fd2", ofd2, F_OFD_GETLK, F_RDLCK, 0, 1, 0);
  getlk("F_OFD_GETLK fd1 own", ofd1, F_OFD_GETLK, F_WRLCK, 0, 1, 0);
  CHECK("F_OFD_SETLK with l_pid set", ({ struct flock fl = {.l_type = F_RDLCK, .l_whence = SEEK_SET, .l_start = 50, .l_len = 1, .l_pid = 1}; fcntl(ofd2, F_OFD_SETLK, &fl); }));
  CHECK("F_OFD_SETLK unlock fd1", lk(ofd1, F_OFD_SETLK, F_UNLCK, 0, 10));
  CHECK("F_OFD_SETLK write 5 fd2 again", lk(ofd2, F_OFD_SETLK, F_WRLCK, 5, 1));
  pid = fork();
  if (pid == 0) {
    /* The child shares ofd2's open file: the lock is its own too. */
    CHECK("child F_OFD_SETLK on inherited fd", lk(ofd2, F_OFD_SETLK, F_WRLCK, 5, 1));
    CHECK("child F_OFD_SETLK on fd1", lk(ofd1, F_OFD_SETLK, F_WRLCK, 5, 1));
    getlk("child classic F_GETLK", ofd1, F_GETLK, F_WRLCK, 5, 1, 0);
    _exit(0);
  }
  say_wait("ofd child", pid);
  close(ofd1);
  close(ofd2);

  /* F_DUPFD and friends */
  CHECK("F_DUPFD 100", fcntl(fd, F_DUPFD, 100));
  CHECK("F_DUPFD 100 again", fcntl(fd, F_DUPFD, 100));
  CHECK("F_DUPFD_CLOEXEC 200", fcntl(fd, F_DUPFD_CLOEXEC, 200));
  CHECK("F_GETFD of dup", fcntl(100, F_GETFD));
  CHECK("F_GETFD of cloexec dup", fcntl(200, F_GETFD));
  CHECK("F_DUPFD negative", fcntl(fd, F_DUPFD, -1));
  CHECK("F_DUPFD huge", fcntl(fd, F_DUPFD, 1 << 30));
  CHECK("F_DUPFD badfd", fcntl(999, F_DUPFD, 0));
  CHECK("F_SETFD", fcntl(fd, F_SETFD, FD_CLOEXEC));
  CHECK("F_GETFD", fcntl(fd, F_GETFD));
  CHECK("F_SETFD 0", fcntl(fd, F_SETFD, 0));
  CHECK("F_GETFD after", fcntl(fd, F_GETFD));
  CHECK("F_GETFD badfd", fcntl(999, F_GETFD));
  CHECK("bad cmd", fcntl(fd, 9999));

  /* F_GETFL / F_SETFL */
  CHECK("F_GETFL rdwr", fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
  CHECK("F_SETFL O_APPEND", fcntl(fd, F_SETFL, O_APPEND));
  CHECK("F_GETFL append", fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
  CHECK("write appends", (lseek(fd, 0, SEEK_SET), write(fd, "Z", 1)));
  say("file now %s", get_file("f"));
  CHECK("F_SETFL O_NONBLOCK (drops O_APPEND)", fcntl(fd, F_SETFL, O_NONBLOCK));
  CHECK("F_GETFL", fcntl(fd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
  CHECK("F_SETFL ignores access mode", fcntl(rofd, F_SETFL, O_RDWR));
  CHECK("F_GETFL rdonly", fcntl(rofd, F_GETFL) & (O_ACCMODE | O_APPEND | O_NONBLOCK));
  CHECK("pipe F_SETFL O_NONBLOCK", fcntl(pipefd[0], F_SETFL, O_NONBLOCK));
  CHECK("read empty nonblocking pipe", read(pipefd[0], &c, 1));

  /* Pipe sizes */
  CHECK("F_GETPIPE_SZ", fcntl(pipefd[0], F_GETPIPE_SZ));
  CHECK("F_SETPIPE_SZ 8192", fcntl(pipefd[0], F_SETPIPE_SZ, 8192));
  CHECK("F_GETPIPE_SZ after", fcntl(pipefd[1], F_GETPIPE_SZ));
  CHECK("F_SETPIPE_SZ 1 (rounds up)", fcntl(pipefd[0], F_SETPIPE_SZ, 1));
  CHECK("F_SETPIPE_SZ 100000 (rounds up)", fcntl(pipefd[0], F_SETPIPE_SZ, 100000));
  CHECK("F_SETPIPE_SZ on a file", fcntl(fd, F_SETPIPE_SZ, 8192));
  CHECK("F_GETPIPE_SZ on a file", fcntl(fd, F_GETPIPE_SZ));

  /* flock */
  int l1 = open("f", O_RDONLY);
  int l2 = open("f", O_RDONLY);
  CHECK("flock LOCK_EX", flock(l1, LOCK_EX | LOCK_NB));
  CHECK("flock LOCK_EX other open", flock(l2, LOCK_EX | LOCK_NB));
  CHECK("flock LOCK_SH other open", flock(l2, LOCK_SH | LOCK_NB));
  CHECK("flock LOCK_EX same open (upgrade)", flock(l1, LOCK_EX | LOCK_NB));
  int l3 = dup(l1);
  CHECK("flock dup shares lock", flock(l3, LOCK_EX | LOCK_NB));
  pid = fork();
  if (pid == 0) {
    CHECK("child flock inherited", flock(l1, LOCK_EX | LOCK_NB));
    int l4 = open("f", O_RDONLY);
    CHECK("child flock new open", flock(l4, LOCK_SH | LOCK_NB));
    _exit(0);
  }
  say_wait("flock child", pid);
  CHECK("flock LOCK_UN", flock(l1, LOCK_UN));
  CHECK("flock LOCK_SH after unlock", flock(l2, LOCK_SH | LOCK_NB));
  CHECK("flock LOCK_SH second", flock(l1, LOCK_SH | LOCK_NB));
  CHECK("flock bad op", flock(l1, 0));
  CHECK("flock bad op 2", flock(l1, LOCK_SH | LOCK_EX));
  CHECK("flock badfd", flock(999, LOCK_SH));
  int pth = open("f", O_PATH);
  CHECK("flock O_PATH", flock(pth, LOCK_SH));
  return 0;
}
