/*
 * The pid view: getpid/getppid/gettid agree with each other, with fork's and
 * waitpid's returns, with SIGCHLD's si_pid, with SCM_CREDENTIALS over a unix
 * socket pair, and with /proc/self. Only relations are printed.
 */
#include "proc.h"
#include <sys/socket.h>
#include <sys/un.h>

static volatile sig_atomic_t chld_pid, chld_code, chld_status, chld_uid_ok;

static void on_chld(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  chld_pid = si->si_pid;
  chld_code = si->si_code;
  chld_status = si->si_status;
  chld_uid_ok = si->si_uid == getuid();
}

static long status_field(const char *path, const char *name) {
  const char *text = get_file(path);
  const char *p = strstr(text, name);
  return p ? atol(p + strlen(name)) : -1;
}

static void *thread_ids(void *arg) {
  long *out = arg;
  out[0] = getpid();
  out[1] = syscall(SYS_gettid);
  out[2] = getppid();
  char path[64];
  snprintf(path, sizeof path, "/proc/thread-self/status");
  out[3] = status_field(path, "\nPid:\t");
  out[4] = status_field(path, "\nTgid:\t");
  return NULL;
}

static void basics(void) {
  pid_t me = getpid();
  SAYB("getpid == gettid in the main thread", syscall(SYS_gettid) == me);
  SAYB("getpid > 0", me > 0);
  SAYB("getppid > 0", getppid() > 0);
  SAYB("getppid != getpid", getppid() != me);
  SAYB("/proc/self/status Pid == getpid", status_field("/proc/self/status", "\nPid:\t") == me);
  SAYB("/proc/self/status Tgid == getpid", status_field("/proc/self/status", "\nTgid:\t") == me);
  SAYB("/proc/self/status PPid == getppid", status_field("/proc/self/status", "\nPPid:\t") == getppid());
  char buf[64];
  ssize_t n = readlink("/proc/self", buf, sizeof buf - 1);
  buf[n < 0 ? 0 : n] = 0;
  SAYB("/proc/self names getpid", atol(buf) == me);
  const char *stat = get_file("/proc/self/stat");
  SAYB("/proc/self/stat's pid == getpid", atol(stat) == me);
  const char *after = strrchr(stat, ')');
  int ppid = -1, pgrp = -1, sid = -1;
  if (after) sscanf(after + 2, "%*c %d %d %d", &ppid, &pgrp, &sid);
  SAYB("/proc/self/stat's ppid == getppid", ppid == getppid());
  SAYB("/proc/self/stat's pgrp == getpgrp", pgrp == getpgrp());
  SAYB("/proc/self/stat's session == getsid(0)", sid == getsid(0));
  SAYB("getpgid(0) == getpgrp", getpgid(0) == getpgrp());
  SAYB("getpgid(getpid()) == getpgrp", getpgid(me) == getpgrp());
  SAYB("getsid(getpid()) == getsid(0)", getsid(me) == getsid(0));

  long t[5];
  pthread_t th;
  pthread_create(&th, NULL, thread_ids, t);
  pthread_join(th, NULL);
  SAYB("thread: getpid == process's", t[0] == me);
  SAYB("thread: gettid != getpid", t[1] != me);
  SAYB("thread: getppid == process's", t[2] == getppid());
  SAYB("thread: /proc/thread-self Pid == gettid", t[3] == t[1]);
  SAYB("thread: /proc/thread-self Tgid == getpid", t[4] == me);
}

static void children(void) {
  struct sigaction sa = {.sa_sigaction = on_chld, .sa_flags = SA_SIGINFO};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);
  sigset_t block, old;
  sigemptyset(&block);
  sigaddset(&block, SIGCHLD);
  sigprocmask(SIG_BLOCK, &block, &old);

  int pfd[2];
  pipe(pfd);
  pid_t me = getpid();
  pid_t p = fork();
  if (p == 0) {
    put_long(pfd[1], getpid());
    put_long(pfd[1], getppid());
    put_long(pfd[1], syscall(SYS_gettid));
    put_long(pfd[1], getpgrp());
    put_long(pfd[1], getsid(0));
    _exit(33);
  }
  long cpid = get_long(pfd[0]), cppid = get_long(pfd[0]), ctid = get_long(pfd[0]);
  long cpgrp = get_long(pfd[0]), csid = get_long(pfd[0]);
  SAYB("child's getpid == fork's return", cpid == p);
  SAYB("child's gettid == fork's return", ctid == p);
  SAYB("child's getppid == parent's getpid", cppid == me);
  SAYB("child's getpgrp == parent's", cpgrp == getpgrp());
  SAYB("child's getsid == parent's", csid == getsid(0));
  /* SIGCHLD: its si_pid names the child as fork returned it. */
  siginfo_t si;
  memset(&si, 0, sizeof si);
  int sig = sigwaitinfo(&block, &si);
  say("sigwaitinfo = %d (SIGCHLD %d)", sig, SIGCHLD);
  SAYB("SIGCHLD si_pid == fork's return", si.si_pid == p);
  say("SIGCHLD si_code = %d (CLD_EXITED %d), si_status = %d", si.si_code, CLD_EXITED, si.si_status);
  SAYB("SIGCHLD si_uid == getuid", si.si_uid == getuid());
  int st;
  SAYB("waitpid == fork's return", waitpid(p, &st, 0) == p);
  say_status("child", st);

  /* The same through a handler. */
  sigprocmask(SIG_SETMASK, &old, NULL);
  chld_pid = 0;
  p = fork();
  if (p == 0) _exit(34);
  while (chld_pid == 0) usleep(1000);
  SAYB("handler's si_pid == fork's return", chld_pid == p);
  say("handler's si_code = %d, si_status = %d", chld_code, chld_status);
  SAYB("wait4 == fork's return", wait4(p, &st, 0, NULL) == p);
  /* The /proc of a child names it by the same pid. */
  p = fork();
  if (p == 0) {
    pause();
    _exit(0);
  }
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/status", (int)p);
  SAYB("/proc/<child>/status Pid == fork's return", status_field(path, "\nPid:\t") == p);
  SAYB("/proc/<child>/status PPid == getpid", status_field(path, "\nPPid:\t") == me);
  kill(p, SIGKILL);
  waitpid(p, &st, 0);
  signal(SIGCHLD, SIG_DFL);
  close(pfd[0]);
  close(pfd[1]);
}

static void credentials(void) {
  int sv[2];
  CHECK("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
  int on = 1;
  CHECK("SO_PASSCRED", setsockopt(sv[0], SOL_SOCKET, SO_PASSCRED, &on, sizeof on));
  pid_t me = getpid();
  pid_t p = fork();
  if (p == 0) {
    /* One message with no credentials (the kernel adds ours), one with them stated. */
    write(sv[1], "a", 1);
    usleep(10000);
    struct ucred uc = {.pid = getpid(), .uid = getuid(), .gid = getgid()};
    char cbuf[CMSG_SPACE(sizeof uc)];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {.iov_base = "b", .iov_len = 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof uc);
    memcpy(CMSG_DATA(c), &uc, sizeof uc);
    long r = sendmsg(sv[1], &mh, 0);
    put_long(sv[1], r);
    _exit(0);
  }
  for (int i = 0; i < 2; i++) {
    struct ucred uc;
    char data;
    char cbuf[CMSG_SPACE(sizeof uc)];
    struct iovec iov = {.iov_base = &data, .iov_len = 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    long n = recvmsg(sv[0], &mh, 0);
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    int have = c && c->cmsg_type == SCM_CREDENTIALS;
    if (have) memcpy(&uc, CMSG_DATA(c), sizeof uc);
    say("recvmsg %c = %ld, has SCM_CREDENTIALS = %d", data, n, have);
    SAYB("  SCM_CREDENTIALS pid == sender's getpid (fork's return)", have && uc.pid == p);
    SAYB("  SCM_CREDENTIALS uid == getuid", have && uc.uid == getuid());
  }
  say("sender's sendmsg with credentials = %ld", get_long(sv[0]));
  /* SO_PEERCRED: the peer of a socketpair is whoever made it, us. */
  struct ucred peer;
  socklen_t len = sizeof peer;
  CHECK("SO_PEERCRED", getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &peer, &len));
  SAYB("SO_PEERCRED pid == getpid", peer.pid == me);
  int st;
  waitpid(p, &st, 0);
  say_status("sender", st);
  close(sv[0]);
  close(sv[1]);

  /* A stated pid that is not the sender's own, by an unprivileged sender: EPERM. */
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
  p = fork();
  if (p == 0) {
    setgid(1000);
    setuid(1000);
    struct ucred uc = {.pid = getppid(), .uid = getuid(), .gid = getgid()};
    char cbuf[CMSG_SPACE(sizeof uc)];
    memset(cbuf, 0, sizeof cbuf);
    struct iovec iov = {.iov_base = "c", .iov_len = 1};
    struct msghdr mh = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof cbuf};
    struct cmsghdr *c = CMSG_FIRSTHDR(&mh);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof uc);
    memcpy(CMSG_DATA(c), &uc, sizeof uc);
    CHECK("unprivileged sendmsg with the parent's pid", sendmsg(sv[1], &mh, 0));
    uc.pid = getpid();
    uc.uid = 0;
    memcpy(CMSG_DATA(c), &uc, sizeof uc);
    CHECK("unprivileged sendmsg with uid 0", sendmsg(sv[1], &mh, 0));
    _exit(0);
  }
  waitpid(p, &st, 0);
  close(sv[0]);
  close(sv[1]);
}

int main(void) {
  basics();
  children();
  credentials();
  return 0;
}
