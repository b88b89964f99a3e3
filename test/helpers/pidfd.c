/* pidfds, as a program uses them: pidfd_open + poll + waitid(P_PIDFD),
 * pidfd_send_signal, pidfd_getfd, clone(CLONE_PIDFD), and what a sandboxed
 * process must not reach with them. Prints one line per check, the same
 * natively and in a sandbox (no pid is printed: they differ).
 *
 * usage: pidfd wait | signal | getfd | clone | outside HOST_PID */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef P_PIDFD
#define P_PIDFD 3
#endif
#ifndef CLONE_PIDFD
#define CLONE_PIDFD 0x1000
#endif

static int pidfd_open(pid_t pid, unsigned flags) { return (int)syscall(SYS_pidfd_open, pid, flags); }
static int pidfd_send_signal(int fd, int sig, siginfo_t *info, unsigned flags) {
  return (int)syscall(SYS_pidfd_send_signal, fd, sig, info, flags);
}
static int pidfd_getfd(int pidfd, int fd, unsigned flags) { return (int)syscall(SYS_pidfd_getfd, pidfd, fd, flags); }

static void die(const char *what) {
  printf("%s: %s\n", what, strerror(errno));
  exit(1);
}

/* A call's result: the value, or -1 and its errno's name. */
static void report(const char *what, long r) {
  if (r < 0) printf("%s: -1 %s\n", what, strerror(errno));
  else printf("%s: %ld\n", what, r);
}

/* Whether the pidfd reads as exited, without waiting. */
static int exited_now(int pidfd) {
  struct pollfd p = {pidfd, POLLIN, 0};
  int r = poll(&p, 1, 0);
  if (r < 0) die("poll");
  return r == 1 && (p.revents & POLLIN);
}

/* waitid(P_PIDFD): prints how the child ended. */
static void wait_pidfd(int pidfd, pid_t expected) {
  siginfo_t si;
  memset(&si, 0, sizeof si);
  if (waitid(P_PIDFD, (id_t)pidfd, &si, WEXITED) < 0) die("waitid(P_PIDFD)");
  printf("waitid: right pid %d, %s %d\n", si.si_pid == expected,
         si.si_code == CLD_EXITED ? "exited" : si.si_code == CLD_KILLED ? "killed by" : "other", si.si_status);
}

/* A child that waits for a byte on the pipe, then exits with that byte's value. */
static pid_t held_child(int pipefd[2]) {
  if (pipe(pipefd) < 0) die("pipe");
  pid_t pid = fork();
  if (pid < 0) die("fork");
  if (pid == 0) {
    close(pipefd[1]);
    unsigned char code = 0;
    if (read(pipefd[0], &code, 1) != 1) _exit(100);
    _exit(code);
  }
  close(pipefd[0]);
  return pid;
}

static int check_wait(void) {
  int p[2];
  pid_t child = held_child(p);
  int pidfd = pidfd_open(child, 0);
  if (pidfd < 0) die("pidfd_open");
  printf("pidfd_open: ok\n");
  printf("running: exited %d\n", exited_now(pidfd));
  unsigned char code = 7;
  if (write(p[1], &code, 1) != 1) die("write");
  struct pollfd pf = {pidfd, POLLIN, 0};
  if (poll(&pf, 1, -1) != 1) die("poll");
  printf("after exit: POLLIN %d\n", (pf.revents & POLLIN) != 0);
  wait_pidfd(pidfd, child);
  /* Reaped: a pidfd of a pid that no longer exists is refused. */
  report("pidfd_open of the reaped child", pidfd_open(child, 0));
  return 0;
}

static int check_signal(void) {
  int p[2];
  pid_t child = held_child(p);
  int pidfd = pidfd_open(child, 0);
  if (pidfd < 0) die("pidfd_open");
  printf("signal 0: %d\n", pidfd_send_signal(pidfd, 0, NULL, 0));
  printf("SIGTERM: %d\n", pidfd_send_signal(pidfd, SIGTERM, NULL, 0));
  wait_pidfd(pidfd, child);
  /* The process is gone (reaped): the pidfd says so. */
  report("after its end", pidfd_send_signal(pidfd, SIGTERM, NULL, 0));
  report("bad flags", pidfd_send_signal(pidfd, 0, NULL, 0x80000000u));
  return 0;
}

static int check_getfd(void) {
  int ready[2], p[2];
  if (pipe(ready) < 0) die("pipe");
  if (pipe(p) < 0) die("pipe");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    /* An fd only the child has, at a number the parent knows. */
    int m = memfd_create("child-secret", 0);
    if (m < 0 || write(m, "from the child", 14) != 14 || dup2(m, 100) < 0) _exit(101);
    close(m);
    close(ready[0]);
    close(p[1]);
    if (write(ready[1], "r", 1) != 1) _exit(102);
    char c;
    (void)read(p[0], &c, 1);
    _exit(0);
  }
  close(ready[1]);
  close(p[0]);
  char c;
  if (read(ready[0], &c, 1) != 1) die("read");
  int pidfd = pidfd_open(child, 0);
  if (pidfd < 0) die("pidfd_open");
  int fd = pidfd_getfd(pidfd, 100, 0);
  if (fd < 0) die("pidfd_getfd");
  char buf[32] = {0};
  ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
  printf("pidfd_getfd: read '%.*s'\n", (int)(n < 0 ? 0 : n), buf);
  printf("close-on-exec: %d\n", (fcntl(fd, F_GETFD) & FD_CLOEXEC) != 0);
  report("an fd it does not have", pidfd_getfd(pidfd, 200, 0));
  report("bad flags", pidfd_getfd(pidfd, 100, 1));
  close(p[1]);
  wait_pidfd(pidfd, child);
  return 0;
}

static int check_clone(void) {
  int pidfd = -1;
  /* x86_64 raw clone: flags, stack, parent_tid, child_tid, tls; CLONE_PIDFD
   * stores the pidfd where parent_tid points. */
  long pid = syscall(SYS_clone, CLONE_PIDFD | SIGCHLD, 0, &pidfd, NULL, 0);
  if (pid < 0) die("clone(CLONE_PIDFD)");
  if (pid == 0) _exit(5);
  printf("clone(CLONE_PIDFD): pidfd %s\n", pidfd >= 0 ? "set" : "missing");
  printf("close-on-exec: %d\n", (fcntl(pidfd, F_GETFD) & FD_CLOEXEC) != 0);
  struct pollfd pf = {pidfd, POLLIN, 0};
  if (poll(&pf, 1, -1) != 1) die("poll");
  wait_pidfd(pidfd, (pid_t)pid);
  /* clone() returns the pidfd where parent_tid points, so Linux refuses
   * CLONE_PIDFD with CLONE_PARENT_SETTID (EINVAL) before making anything. */
  report("with CLONE_PARENT_SETTID", syscall(SYS_clone, CLONE_PIDFD | CLONE_PARENT_SETTID | SIGCHLD, 0, &pidfd, NULL, 0));
  return 0;
}

/* In a sandbox: no process outside it can be named, and its init is out of reach. */
static int check_outside(const char *host_pid) {
  report("pidfd_open(host pid)", pidfd_open((pid_t)atoi(host_pid), 0));
  int init = pidfd_open(1, 0);
  printf("pidfd_open(1): %s\n", init >= 0 ? "ok" : strerror(errno));
  report("pidfd_getfd(init, 0)", pidfd_getfd(init, 0, 0));
  /* Signals to a namespace's init from inside it are dropped unless it handles them. */
  printf("SIGKILL to init: %d\n", pidfd_send_signal(init, SIGKILL, NULL, 0));
  printf("init still there: %d\n", pidfd_send_signal(init, 0, NULL, 0));
  return 0;
}

int main(int argc, char **argv) {
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc == 2 && strcmp(argv[1], "wait") == 0) return check_wait();
  if (argc == 2 && strcmp(argv[1], "signal") == 0) return check_signal();
  if (argc == 2 && strcmp(argv[1], "getfd") == 0) return check_getfd();
  if (argc == 2 && strcmp(argv[1], "clone") == 0) return check_clone();
  if (argc == 3 && strcmp(argv[1], "outside") == 0) return check_outside(argv[2]);
  fprintf(stderr, "usage: pidfd wait | signal | getfd | clone | outside HOST_PID\n");
  return 2;
}
