/*
 * Signals: kill, tgkill, tkill, rt_sigqueueinfo, rt_tgsigqueueinfo, sigaction,
 * sigprocmask, sigsuspend, sigtimedwait, signalfd; process groups and
 * sessions; SIGCHLD on stop and continue; a signal during a blocking read
 * (EINTR, or restarted with SA_RESTART) and during nanosleep.
 */
#include "proc.h"
#include <sys/signalfd.h>

static volatile sig_atomic_t hits, last_sig, last_code, last_value, last_pid_is_self, last_tid;
static volatile sig_atomic_t chld_codes[8];
static volatile sig_atomic_t nchld;

static void on_sig(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  hits++;
  last_sig = sig;
  last_code = si->si_code;
  last_value = si->si_value.sival_int;
  last_pid_is_self = si->si_pid == getpid();
  last_tid = syscall(SYS_gettid);
}

static void on_chld(int sig, siginfo_t *si, void *uc) {
  (void)sig;
  (void)uc;
  if (nchld < 8) chld_codes[nchld++] = si->si_code;
}

static void handle(int sig, int flags) {
  struct sigaction sa = {.sa_sigaction = on_sig, .sa_flags = SA_SIGINFO | flags};
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static pid_t dead_pid(void) {
  pid_t p = fork();
  if (p == 0) _exit(0);
  waitpid(p, NULL, 0);
  return p;
}

static void kills(void) {
  handle(SIGUSR1, 0);
  pid_t me = getpid();
  hits = 0;
  CHECK("kill self SIGUSR1", kill(me, SIGUSR1));
  say("handler ran = %d, si_code = %d (SI_USER %d), si_pid is self = %d", hits, last_code, SI_USER, last_pid_is_self);
  CHECK("kill self 0", kill(me, 0));
  CHECK("kill 0 (own group) 0", kill(0, 0));
  CHECK("kill bad signal", kill(me, 65));
  CHECK("kill negative signal", kill(me, -1));
  pid_t gone = dead_pid();
  CHECK("kill a reaped pid", kill(gone, 0));
  CHECK("kill a reaped pid's group", kill(-gone, 0));
  CHECK("kill INT_MIN", kill(INT_MIN, 0));

  /* EPERM: an unprivileged child signalling its root parent. */
  pid_t p = fork();
  if (p == 0) {
    setgid(1000);
    setuid(1000);
    CHECK("uid 1000 kill root parent", kill(getppid(), SIGUSR1));
    CHECK("uid 1000 kill root parent 0", kill(getppid(), 0));
    CHECK("uid 1000 tgkill root parent", syscall(SYS_tgkill, getppid(), getppid(), 0));
    CHECK("uid 1000 kill self", kill(getpid(), 0));
    /* SIGCONT within the session is allowed whatever the ids. */
    CHECK("uid 1000 SIGCONT to root parent (same session)", kill(getppid(), SIGCONT));
    _exit(0);
  }
  waitpid(p, NULL, 0);

  /* tgkill/tkill to a thread of ours: the named thread takes it. */
  hits = 0;
  pid_t tid = syscall(SYS_gettid);
  CHECK("tgkill self", syscall(SYS_tgkill, me, tid, SIGUSR1));
  say("tgkill: handled = %d, si_code = %d (SI_TKILL %d), by the named thread = %d", hits, last_code, SI_TKILL, last_tid == tid);
  CHECK("tkill self", syscall(SYS_tkill, tid, SIGUSR1));
  CHECK("tgkill wrong tgid", syscall(SYS_tgkill, gone, tid, 0));
  CHECK("tgkill tid 0", syscall(SYS_tgkill, me, 0, SIGUSR1));
  CHECK("tgkill tgid 0", syscall(SYS_tgkill, 0, tid, SIGUSR1));
  CHECK("tgkill bad signal", syscall(SYS_tgkill, me, tid, 99));
  CHECK("tgkill a reaped tid", syscall(SYS_tgkill, gone, gone, 0));
  CHECK("tkill -1", syscall(SYS_tkill, -1, SIGUSR1));
  CHECK("tkill a reaped tid", syscall(SYS_tkill, gone, 0));
}

static void *sleeper(void *arg) {
  *(long *)arg = syscall(SYS_gettid);
  for (;;) pause();
  return NULL;
}

static void queued(void) {
  handle(SIGRTMIN, 0);
  handle(SIGUSR2, 0);
  pid_t me = getpid();
  union sigval v = {.sival_int = 42};
  hits = 0;
  CHECK("sigqueue self", sigqueue(me, SIGRTMIN, v));
  say("sigqueue: handled = %d, si_value = %d, si_code = %d (SI_QUEUE %d), si_pid is self = %d", hits, last_value, last_code,
      SI_QUEUE, last_pid_is_self);
  /* rt_sigqueueinfo with a stated siginfo: to itself any code goes. */
  siginfo_t si;
  memset(&si, 0, sizeof si);
  si.si_code = SI_QUEUE;
  si.si_pid = me;
  si.si_uid = getuid();
  si.si_value.sival_int = 77;
  hits = 0;
  CHECK("rt_sigqueueinfo self", syscall(SYS_rt_sigqueueinfo, me, SIGUSR2, &si));
  say("rt_sigqueueinfo: si_value = %d, si_code = %d", last_value, last_code);
  si.si_code = SI_USER;
  CHECK("rt_sigqueueinfo self SI_USER", syscall(SYS_rt_sigqueueinfo, me, SIGUSR2, &si));
  CHECK("rt_sigqueueinfo bad pointer", syscall(SYS_rt_sigqueueinfo, me, SIGUSR2, BADPTR));
  CHECK("rt_sigqueueinfo signal 0", syscall(SYS_rt_sigqueueinfo, me, 0, &si));
  pid_t gone = dead_pid();
  si.si_code = SI_QUEUE;
  CHECK("rt_sigqueueinfo a reaped pid", syscall(SYS_rt_sigqueueinfo, gone, SIGUSR2, &si));

  /* To another process: SI_USER or SI_TKILL would forge kill's, so EPERM; SI_QUEUE goes. */
  pid_t p = fork();
  if (p == 0) {
    handle(SIGUSR2, 0);
    for (;;) pause();
  }
  si.si_code = SI_USER;
  CHECK("rt_sigqueueinfo child SI_USER", syscall(SYS_rt_sigqueueinfo, p, SIGUSR2, &si));
  si.si_code = SI_TKILL;
  CHECK("rt_sigqueueinfo child SI_TKILL", syscall(SYS_rt_sigqueueinfo, p, SIGUSR2, &si));
  si.si_code = SI_QUEUE;
  CHECK("rt_sigqueueinfo child SI_QUEUE", syscall(SYS_rt_sigqueueinfo, p, SIGUSR2, &si));
  CHECK("rt_tgsigqueueinfo child SI_USER", ({ si.si_code = SI_USER; syscall(SYS_rt_tgsigqueueinfo, p, p, SIGUSR2, &si); }));
  kill(p, SIGKILL);
  waitpid(p, NULL, 0);

  /* rt_tgsigqueueinfo to one thread. */
  long ttid = 0;
  pthread_t th;
  pthread_create(&th, NULL, sleeper, &ttid);
  while (ttid == 0) usleep(1000);
  hits = 0;
  si.si_code = SI_QUEUE;
  si.si_value.sival_int = 88;
  CHECK("rt_tgsigqueueinfo to a thread", syscall(SYS_rt_tgsigqueueinfo, me, ttid, SIGUSR2, &si));
  while (hits == 0) usleep(1000);
  say("rt_tgsigqueueinfo: si_value = %d, taken by that thread = %d", last_value, last_tid == ttid);
  hits = 0;
  CHECK("tgkill to a thread", syscall(SYS_tgkill, me, ttid, SIGUSR1));
  while (hits == 0) usleep(1000);
  say("tgkill: taken by that thread = %d", last_tid == ttid);
  CHECK("rt_tgsigqueueinfo wrong tgid", syscall(SYS_rt_tgsigqueueinfo, gone, ttid, SIGUSR2, &si));
  CHECK("rt_tgsigqueueinfo tid 0", syscall(SYS_rt_tgsigqueueinfo, me, 0, SIGUSR2, &si));
  pthread_cancel(th);
  pthread_join(th, NULL);
}

static void masks(void) {
  struct sigaction old;
  CHECK("sigaction get SIGTERM", sigaction(SIGTERM, NULL, &old));
  say("SIGTERM's action is SIG_DFL = %d", old.sa_handler == SIG_DFL);
  struct sigaction sa = {.sa_handler = SIG_IGN};
  CHECK("sigaction SIGKILL", sigaction(SIGKILL, &sa, NULL));
  CHECK("sigaction SIGSTOP", sigaction(SIGSTOP, &sa, NULL));
  CHECK("sigaction get SIGKILL", sigaction(SIGKILL, NULL, &old));
  CHECK("sigaction 0", syscall(SYS_rt_sigaction, 0, NULL, &old, 8));
  CHECK("sigaction 65", syscall(SYS_rt_sigaction, 65, NULL, &old, 8));
  CHECK("rt_sigaction bad sigsetsize", syscall(SYS_rt_sigaction, SIGUSR1, NULL, &old, 4));
  CHECK("rt_sigaction bad pointer", syscall(SYS_rt_sigaction, SIGUSR1, BADPTR, NULL, 8));

  handle(SIGUSR1, 0);
  sigset_t set, cur;
  sigemptyset(&set);
  sigaddset(&set, SIGUSR1);
  sigaddset(&set, SIGKILL);
  CHECK("sigprocmask block USR1 and KILL", sigprocmask(SIG_BLOCK, &set, NULL));
  sigprocmask(SIG_BLOCK, NULL, &cur);
  say("blocked: USR1 = %d, KILL = %d (cannot be)", sigismember(&cur, SIGUSR1), sigismember(&cur, SIGKILL));
  hits = 0;
  raise(SIGUSR1);
  sigpending(&cur);
  say("while blocked: handled = %d, pending = %d", hits, sigismember(&cur, SIGUSR1));
  raise(SIGUSR1); /* a standard signal does not queue twice */
  sigprocmask(SIG_UNBLOCK, &set, NULL);
  say("after unblocking: handled = %d", hits);
  CHECK("sigprocmask bad how", sigprocmask(99, &set, NULL));
  CHECK("rt_sigprocmask bad size", syscall(SYS_rt_sigprocmask, SIG_BLOCK, &set, NULL, 4));

  /* Real-time signals queue, and come lowest first. */
  sigset_t rt;
  sigemptyset(&rt);
  sigaddset(&rt, SIGRTMIN);
  sigaddset(&rt, SIGRTMIN + 1);
  sigprocmask(SIG_BLOCK, &rt, NULL);
  union sigval v;
  for (int i = 0; i < 3; i++) {
    v.sival_int = i;
    sigqueue(getpid(), SIGRTMIN + 1, v);
  }
  v.sival_int = 9;
  sigqueue(getpid(), SIGRTMIN, v);
  for (int i = 0; i < 4; i++) {
    siginfo_t si;
    int s = sigwaitinfo(&rt, &si);
    say("sigwaitinfo %d: SIGRTMIN+%d value %d", i, s - SIGRTMIN, si.si_value.sival_int);
  }
  sigprocmask(SIG_UNBLOCK, &rt, NULL);

  /* sigsuspend: waits with a temporary mask, returns EINTR after the handler. */
  sigprocmask(SIG_BLOCK, &set, NULL);
  pid_t me = getpid();
  pid_t p = fork();
  if (p == 0) {
    kill(me, SIGUSR1);
    _exit(0);
  }
  sigset_t none;
  sigemptyset(&none);
  hits = 0;
  CHECK("sigsuspend", sigsuspend(&none));
  say("sigsuspend: handled = %d", hits);
  sigprocmask(SIG_BLOCK, NULL, &cur);
  say("mask restored after sigsuspend = %d", sigismember(&cur, SIGUSR1));
  waitpid(p, NULL, 0);

  /* sigtimedwait: takes a pending blocked signal; times out with EAGAIN. */
  sigset_t w;
  sigemptyset(&w);
  sigaddset(&w, SIGUSR2);
  sigprocmask(SIG_BLOCK, &w, NULL);
  raise(SIGUSR2);
  struct timespec ts = {0, 10 * 1000 * 1000};
  siginfo_t si;
  CHECK("sigtimedwait pending", sigtimedwait(&w, &si, &ts));
  CHECK("sigtimedwait nothing (10 ms)", sigtimedwait(&w, &si, &ts));
  struct timespec bad = {0, 1000000000};
  CHECK("sigtimedwait bad timeout", sigtimedwait(&w, &si, &bad));
  struct timespec zero = {0, 0};
  CHECK("sigtimedwait zero timeout", sigtimedwait(&w, &si, &zero));
  sigprocmask(SIG_UNBLOCK, &w, NULL);
  sigprocmask(SIG_UNBLOCK, &set, NULL);

  /* signalfd reading a SIGUSR1. */
  sigprocmask(SIG_BLOCK, &set, NULL);
  int sfd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
  SAYB("signalfd", sfd >= 0);
  struct signalfd_siginfo ssi;
  CHECK("read signalfd, nothing pending", read(sfd, &ssi, sizeof ssi));
  kill(getpid(), SIGUSR1);
  CHECK("read signalfd", read(sfd, &ssi, sizeof ssi));
  say("signalfd: ssi_signo = %u, ssi_code = %d, ssi_pid is self = %d, ssi_uid = %u", ssi.ssi_signo, ssi.ssi_code,
      ssi.ssi_pid == (uint32_t)getpid(), ssi.ssi_uid);
  CHECK("read signalfd short buffer", read(sfd, &ssi, 8));
  CHECK("signalfd bad flags", signalfd(-1, &set, 0x1));
  CHECK("signalfd not a signalfd", signalfd(0, &set, 0));
  close(sfd);
  sigprocmask(SIG_UNBLOCK, &set, NULL);
}

static void groups(void) {
  int st;
  int rep[2];
  pipe(rep);
  int go[2];
  pipe(go);
  pid_t p = fork();
  if (p == 0) {
    char c;
    read(go[0], &c, 1);
    put_long(rep[1], getpgrp() == getpid());
    /* A group leader may not start a session. */
    errno = 0;
    long r = setsid();
    put_long(rep[1], r < 0 ? -errno : r);
    read(go[0], &c, 1);
    _exit(0);
  }
  CHECK("setpgid child to its own group", setpgid(p, p));
  SAYB("getpgid(child) == fork's return", getpgid(p) == p);
  CHECK("setpgid child back to our group", setpgid(p, getpgrp()));
  CHECK("setpgid child again", setpgid(p, p));
  CHECK("setpgid to a group in no session of ours", setpgid(p, dead_pid()));
  CHECK("setpgid negative pgid", setpgid(p, -1));
  CHECK("setpgid a non-child", setpgid(getppid(), getppid()));
  CHECK("setpgid a reaped pid", setpgid(dead_pid(), 0));
  CHECK("getpgid a reaped pid", getpgid(dead_pid()));
  CHECK("getsid a reaped pid", getsid(dead_pid()));
  write(go[1], "x", 1);
  say("child is its group's leader = %ld", get_long(rep[0]));
  long r = get_long(rep[0]);
  say("setsid by a group leader = %s", r == -EPERM ? "-1 EPERM" : r > 0 ? "ok" : "other");
  write(go[1], "x", 1);
  waitpid(p, &st, 0);

  /* setsid by a non-leader: a new session and group, named by its pid. */
  p = fork();
  if (p == 0) {
    pid_t sid = setsid();
    put_long(rep[1], sid == getpid());
    put_long(rep[1], getsid(0) == getpid());
    put_long(rep[1], getpgrp() == getpid());
    errno = 0;
    put_long(rep[1], setsid() < 0 ? -errno : 0);
    errno = 0;
    put_long(rep[1], setpgid(0, getppid()) < 0 ? -errno : 0);
    char c;
    read(go[0], &c, 1);
    _exit(0);
  }
  say("setsid returns the caller's pid = %ld", get_long(rep[0]));
  say("getsid(0) after setsid == getpid = %ld", get_long(rep[0]));
  say("getpgrp after setsid == getpid = %ld", get_long(rep[0]));
  say("setsid twice = %s", get_long(rep[0]) == -EPERM ? "EPERM" : "other");
  say("session leader setpgid into another session's group = %s", get_long(rep[0]) == -EPERM ? "EPERM" : "other");
  SAYB("getsid(child) == fork's return", getsid(p) == p);
  CHECK("setpgid a child in another session", setpgid(p, p));
  write(go[1], "x", 1);
  waitpid(p, &st, 0);

  /* setpgid after the child's exec: EACCES. */
  int ex[2];
  pipe2(ex, O_CLOEXEC);
  p = fork();
  if (p == 0) {
    execl("/bin/sleep", "sleep", "10", (char *)NULL);
    _exit(127);
  }
  close(ex[1]);
  char c;
  read(ex[0], &c, 1); /* EOF once the exec closed the write end */
  close(ex[0]);
  CHECK("setpgid a child after its exec", setpgid(p, p));
  kill(p, SIGKILL);
  waitpid(p, NULL, 0);

  /* kill(-pgid): every member of the group. */
  pid_t a = fork();
  if (a == 0) {
    setpgid(0, 0);
    for (;;) pause();
  }
  setpgid(a, a);
  pid_t b = fork();
  if (b == 0) {
    setpgid(0, a);
    for (;;) pause();
  }
  setpgid(b, a);
  CHECK("kill(-pgid, SIGTERM)", kill(-a, SIGTERM));
  waitpid(a, &st, 0);
  say_status("group leader", st);
  waitpid(b, &st, 0);
  say_status("group member", st);
  CHECK("kill(-pgid) of a gone group", kill(-a, SIGTERM));
  close(rep[0]);
  close(rep[1]);
  close(go[0]);
  close(go[1]);
}

static void stop_continue(void) {
  struct sigaction sa = {.sa_sigaction = on_chld, .sa_flags = SA_SIGINFO};
  sigemptyset(&sa.sa_mask);
  sigaction(SIGCHLD, &sa, NULL);
  sigset_t chld, none;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigemptyset(&none);
  sigprocmask(SIG_BLOCK, &chld, NULL);
  nchld = 0;
  pid_t p = fork();
  if (p == 0) {
    for (;;) pause();
  }
  int st;
  kill(p, SIGSTOP);
  waitpid(p, &st, WUNTRACED);
  say_status("WUNTRACED", st);
  while (nchld < 1) sigsuspend(&none);
  kill(p, SIGCONT);
  waitpid(p, &st, WCONTINUED);
  say_status("WCONTINUED", st);
  while (nchld < 2) sigsuspend(&none);
  say("SIGCHLD codes: stop %d (CLD_STOPPED %d), continue %d (CLD_CONTINUED %d)", chld_codes[0], CLD_STOPPED, chld_codes[1],
      CLD_CONTINUED);
  /* SA_NOCLDSTOP: no SIGCHLD for stop/continue, only for the end. */
  sa.sa_flags |= SA_NOCLDSTOP;
  sigaction(SIGCHLD, &sa, NULL);
  nchld = 0;
  kill(p, SIGSTOP);
  waitpid(p, &st, WUNTRACED);
  kill(p, SIGCONT);
  waitpid(p, &st, WCONTINUED);
  kill(p, SIGKILL);
  waitpid(p, &st, 0);
  while (nchld < 1) sigsuspend(&none);
  say("SA_NOCLDSTOP: SIGCHLDs = %d, code %d (CLD_KILLED %d)", nchld, chld_codes[0], CLD_KILLED);
  sigprocmask(SIG_UNBLOCK, &chld, NULL);
  signal(SIGCHLD, SIG_DFL);
}

/* A signal during a blocking call: the child waits until we sleep in it, then signals. */
static pid_t signal_when_asleep(int sig, int then_write_fd) {
  pid_t parent = getpid();
  pid_t p = fork();
  if (p == 0) {
    if (!wait_asleep(parent)) _exit(1);
    kill(parent, sig);
    if (then_write_fd >= 0) {
      usleep(20000);
      write(then_write_fd, "data!", 5);
    }
    _exit(0);
  }
  return p;
}

static void interrupted(void) {
  int pfd[2];
  pipe(pfd);
  char buf[16];
  handle(SIGUSR1, 0);
  hits = 0;
  pid_t p = signal_when_asleep(SIGUSR1, pfd[1]);
  CHECK("read interrupted, no SA_RESTART", read(pfd[0], buf, sizeof buf));
  say("  handled = %d", hits);
  waitpid(p, NULL, 0);
  read(pfd[0], buf, sizeof buf); /* the child's late write */

  handle(SIGUSR1, SA_RESTART);
  hits = 0;
  p = signal_when_asleep(SIGUSR1, pfd[1]);
  CHECK("read interrupted, SA_RESTART", read(pfd[0], buf, sizeof buf));
  say("  handled = %d", hits);
  waitpid(p, NULL, 0);

  /* An ignored signal, or stop and continue, does not interrupt at all. */
  signal(SIGUSR2, SIG_IGN);
  p = signal_when_asleep(SIGUSR2, pfd[1]);
  CHECK("read with an ignored signal", read(pfd[0], buf, sizeof buf));
  waitpid(p, NULL, 0);
  signal(SIGUSR2, SIG_DFL);

  /* nanosleep: EINTR with the time left, SA_RESTART or not. */
  handle(SIGUSR1, SA_RESTART);
  struct timespec req = {5, 0}, rem = {0, 0};
  p = signal_when_asleep(SIGUSR1, -1);
  CHECK("nanosleep interrupted", nanosleep(&req, &rem));
  SAYB("  remaining time in (0, 5 s)", (rem.tv_sec > 0 || rem.tv_nsec > 0) && rem.tv_sec < 5);
  waitpid(p, NULL, 0);
  handle(SIGUSR1, 0);
  close(pfd[0]);
  close(pfd[1]);
}

int main(void) {
  kills();
  queued();
  masks();
  groups();
  stop_continue();
  interrupted();
  return 0;
}
