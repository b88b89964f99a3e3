/*
 * Time: clock_gettime/clock_getres, nanosleep and clock_nanosleep (relative
 * and TIMER_ABSTIME, EINTR with the time left, restarted across a stop),
 * timerfd, setitimer/alarm, POSIX timers (SIGEV_SIGNAL, SIGEV_THREAD_ID,
 * overruns). Only orders and counts are printed, never times of day; the
 * waits are tens of milliseconds.
 */
#include "proc.h"
#include <sys/timerfd.h>

static volatile sig_atomic_t hits, last_sig, last_code, last_value, last_tid;

static void on_sig(int sig, siginfo_t *si, void *uc) {
  (void)uc;
  hits++;
  last_sig = sig;
  last_code = si->si_code;
  last_value = si->si_value.sival_int;
  last_tid = syscall(SYS_gettid);
}

static void handle(int sig, int flags) {
  struct sigaction sa = {.sa_sigaction = on_sig, .sa_flags = SA_SIGINFO | flags};
  sigemptyset(&sa.sa_mask);
  sigaction(sig, &sa, NULL);
}

static long long ns_of(struct timespec t) { return t.tv_sec * 1000000000LL + t.tv_nsec; }

static long long now(clockid_t c) {
  struct timespec t;
  clock_gettime(c, &t);
  return ns_of(t);
}

static void clocks(void) {
  struct timespec a, b;
  CHECK("clock_gettime MONOTONIC", clock_gettime(CLOCK_MONOTONIC, &a));
  CHECK("clock_gettime MONOTONIC again", clock_gettime(CLOCK_MONOTONIC, &b));
  SAYB("monotonic does not go back", ns_of(b) >= ns_of(a));
  static const struct {
    const char *name;
    clockid_t id;
  } ids[] = {{"REALTIME", CLOCK_REALTIME},
             {"MONOTONIC_RAW", CLOCK_MONOTONIC_RAW},
             {"REALTIME_COARSE", CLOCK_REALTIME_COARSE},
             {"MONOTONIC_COARSE", CLOCK_MONOTONIC_COARSE},
             {"BOOTTIME", CLOCK_BOOTTIME},
             {"PROCESS_CPUTIME_ID", CLOCK_PROCESS_CPUTIME_ID},
             {"THREAD_CPUTIME_ID", CLOCK_THREAD_CPUTIME_ID},
             {"TAI", CLOCK_TAI}};
  for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
    char label[64];
    snprintf(label, sizeof label, "clock_gettime %s", ids[i].name);
    CHECK(label, clock_gettime(ids[i].id, &a));
    snprintf(label, sizeof label, "clock_getres %s", ids[i].name);
    CHECK(label, clock_getres(ids[i].id, &a));
    say("  resolution = %lld ns", ns_of(a));
  }
  long long mono = now(CLOCK_MONOTONIC);
  SAYB("BOOTTIME read later >= MONOTONIC", now(CLOCK_BOOTTIME) >= mono);
  CHECK("clock_gettime bad clock", clock_gettime(99, &a));
  CHECK("clock_getres bad clock", clock_getres(99, &a));
  CHECK("clock_getres null", clock_getres(CLOCK_MONOTONIC, NULL));
  CHECK("clock_gettime bad pointer", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, BADPTR));
  /* A CPU-time clock of another process: its pid is encoded in the clock id. */
  pid_t p = fork();
  if (p == 0) {
    pause();
    _exit(0);
  }
  clockid_t cc;
  CHECK("clock_getcpuclockid child", clock_getcpuclockid(p, &cc));
  CHECK("clock_gettime child's CPU clock", clock_gettime(cc, &a));
  kill(p, SIGKILL);
  waitpid(p, NULL, 0);
  CHECK("clock_gettime reaped child's CPU clock", clock_gettime(cc, &a));
  /* MONOTONIC cannot be set at all (EINVAL), whoever asks: safe to try as root. */
  CHECK("clock_settime MONOTONIC", clock_settime(CLOCK_MONOTONIC, &a));
  struct timeval tv;
  CHECK("gettimeofday", gettimeofday(&tv, NULL));
  CHECK("time", time(NULL) > 0);
}

static void sleeps(void) {
  struct timespec req = {0, 10 * 1000 * 1000}, rem = {7, 7};
  long long t0 = now(CLOCK_MONOTONIC);
  CHECK("nanosleep 10 ms", nanosleep(&req, &rem));
  SAYB("slept at least 10 ms", now(CLOCK_MONOTONIC) - t0 >= 10 * 1000 * 1000);
  say("rem untouched on success = %ld.%ld", (long)rem.tv_sec, rem.tv_nsec);
  struct timespec bad = {0, 1000000000};
  CHECK("nanosleep nsec too big", nanosleep(&bad, NULL));
  struct timespec neg = {-1, 0};
  CHECK("nanosleep negative", nanosleep(&neg, NULL));
  CHECK("nanosleep bad pointer", syscall(SYS_nanosleep, BADPTR, NULL));
  struct timespec zero = {0, 0};
  CHECK("nanosleep zero", nanosleep(&zero, NULL));

  /* clock_nanosleep returns the error number itself. */
  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_nsec += 20 * 1000 * 1000;
  if (dl.tv_nsec >= 1000000000) {
    dl.tv_sec++;
    dl.tv_nsec -= 1000000000;
  }
  say("clock_nanosleep TIMER_ABSTIME = %d", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, NULL));
  SAYB("woke at or after the deadline", now(CLOCK_MONOTONIC) >= ns_of(dl));
  struct timespec past = {1, 0};
  say("clock_nanosleep TIMER_ABSTIME in the past = %d", clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &past, NULL));
  say("clock_nanosleep REALTIME relative = %d", clock_nanosleep(CLOCK_REALTIME, 0, &req, NULL));
  say("clock_nanosleep THREAD_CPUTIME = %s", errname(clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &req, NULL)));
  say("clock_nanosleep bad clock = %s", errname(clock_nanosleep(99, 0, &req, NULL)));
  say("clock_nanosleep bad flags (ignored) = %d", clock_nanosleep(CLOCK_MONOTONIC, 0x100, &zero, NULL));
  say("clock_nanosleep nsec too big = %s", errname(clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, NULL)));
}

/* The child signals the parent once the parent sleeps. */
static pid_t signal_when_asleep(int sig) {
  pid_t parent = getpid();
  pid_t p = fork();
  if (p == 0) {
    if (!wait_asleep(parent)) _exit(1);
    kill(parent, sig);
    _exit(0);
  }
  return p;
}

static void interrupted(void) {
  handle(SIGUSR1, SA_RESTART);
  struct timespec req = {5, 0}, rem = {0, 0};
  pid_t p = signal_when_asleep(SIGUSR1);
  CHECK("nanosleep interrupted (SA_RESTART does not restart it)", nanosleep(&req, &rem));
  SAYB("  remaining in (0, 5 s)", (rem.tv_sec > 0 || rem.tv_nsec > 0) && rem.tv_sec < 5);
  waitpid(p, NULL, 0);

  rem.tv_sec = 7;
  p = signal_when_asleep(SIGUSR1);
  say("clock_nanosleep relative interrupted = %s", errname(clock_nanosleep(CLOCK_MONOTONIC, 0, &req, &rem)));
  SAYB("  remaining in (0, 5 s)", (rem.tv_sec > 0 || rem.tv_nsec > 0) && rem.tv_sec < 5);
  waitpid(p, NULL, 0);

  struct timespec dl;
  clock_gettime(CLOCK_MONOTONIC, &dl);
  dl.tv_sec += 5;
  rem.tv_sec = 7;
  rem.tv_nsec = 7;
  p = signal_when_asleep(SIGUSR1);
  say("clock_nanosleep TIMER_ABSTIME interrupted = %s", errname(clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &dl, &rem)));
  say("  rem untouched for an absolute sleep = %ld.%ld", (long)rem.tv_sec, rem.tv_nsec);
  waitpid(p, NULL, 0);

  /* Stopped and continued with no handler: the sleep restarts (restart_syscall) and finishes. */
  pid_t child = fork();
  if (child == 0) {
    struct timespec r = {0, 300 * 1000 * 1000};
    long long t0 = now(CLOCK_MONOTONIC);
    int ret = nanosleep(&r, NULL);
    _exit(ret == 0 && now(CLOCK_MONOTONIC) - t0 >= 300 * 1000 * 1000 ? 0 : 1);
  }
  wait_asleep(child);
  kill(child, SIGSTOP);
  wait_state(child, 'T');
  kill(child, SIGCONT);
  int st;
  waitpid(child, &st, 0);
  say_status("nanosleep across stop/continue completes", st);
}

static void timerfds(void) {
  int fd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC);
  SAYB("timerfd_create", fd >= 0);
  uint64_t n = 0;
  struct itimerspec its = {.it_value = {0, 50 * 1000 * 1000}};
  CHECK("timerfd_settime 50 ms", timerfd_settime(fd, 0, &its, NULL));
  struct itimerspec cur;
  CHECK("timerfd_gettime armed", timerfd_gettime(fd, &cur));
  SAYB("  time left in (0, 50 ms]", ns_of(cur.it_value) > 0 && ns_of(cur.it_value) <= 50 * 1000 * 1000);
  CHECK("read timerfd", read(fd, &n, sizeof n));
  say("  expirations = %llu", (unsigned long long)n);
  CHECK("timerfd_gettime expired", timerfd_gettime(fd, &cur));
  say("  time left = %lld", ns_of(cur.it_value));
  int fl = fcntl(fd, F_GETFL);
  fcntl(fd, F_SETFL, fl | O_NONBLOCK);
  CHECK("read timerfd, nothing yet", read(fd, &n, sizeof n));
  CHECK("read timerfd short buffer", read(fd, &n, 4));
  struct itimerspec abs = {.it_value = {1, 0}};
  CHECK("timerfd_settime ABSTIME in the past", timerfd_settime(fd, TFD_TIMER_ABSTIME, &abs, NULL));
  CHECK("read timerfd after a past deadline", read(fd, &n, sizeof n));
  say("  expirations = %llu", (unsigned long long)n);
  struct itimerspec badv = {.it_value = {0, 1000000000}};
  CHECK("timerfd_settime bad nsec", timerfd_settime(fd, 0, &badv, NULL));
  CHECK("timerfd_settime bad flags", timerfd_settime(fd, 0x100, &its, NULL));
  close(fd);
  CHECK("timerfd_create bad clock", timerfd_create(99, 0));
  CHECK("timerfd_create bad flags", timerfd_create(CLOCK_MONOTONIC, 0x1));
  CHECK("timerfd_settime not a timerfd", timerfd_settime(0, 0, &its, NULL));
}

static void itimers(void) {
  handle(SIGALRM, 0);
  hits = 0;
  struct itimerval it = {.it_value = {0, 20000}};
  CHECK("setitimer REAL 20 ms", setitimer(ITIMER_REAL, &it, NULL));
  while (hits == 0) pause();
  say("SIGALRM delivered = %d, si_code = %d (SI_KERNEL %d)", last_sig == SIGALRM, last_code, SI_KERNEL);
  struct itimerval cur;
  CHECK("getitimer REAL after", getitimer(ITIMER_REAL, &cur));
  say("  value = %ld.%06ld", (long)cur.it_value.tv_sec, (long)cur.it_value.tv_usec);
  CHECK("setitimer bad which", setitimer(99, &it, NULL));
  struct itimerval bad = {.it_value = {0, 1000000}};
  CHECK("setitimer usec too big", setitimer(ITIMER_REAL, &bad, NULL));
  CHECK("alarm 5 (none pending)", alarm(5));
  CHECK("alarm 0 (5 s pending)", alarm(0));
  /* ITIMER_VIRTUAL counts user CPU time: a busy loop ends with SIGVTALRM. */
  handle(SIGVTALRM, 0);
  hits = 0;
  struct itimerval v = {.it_value = {0, 10000}};
  CHECK("setitimer VIRTUAL 10 ms", setitimer(ITIMER_VIRTUAL, &v, NULL));
  while (hits == 0) busy(100000);
  say("SIGVTALRM delivered = %d", last_sig == SIGVTALRM);
  handle(SIGPROF, 0);
  hits = 0;
  CHECK("setitimer PROF 10 ms", setitimer(ITIMER_PROF, &v, NULL));
  while (hits == 0) busy(100000);
  say("SIGPROF delivered = %d", last_sig == SIGPROF);
}

static void *thread_waits(void *arg) {
  *(long *)arg = syscall(SYS_gettid);
  for (;;) pause();
  return NULL;
}

static void posix_timers(void) {
  handle(SIGRTMIN, 0);
  timer_t t;
  struct sigevent ev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = SIGRTMIN, .sigev_value.sival_int = 7};
  CHECK("timer_create SIGEV_SIGNAL", timer_create(CLOCK_MONOTONIC, &ev, &t));
  struct itimerspec its = {.it_value = {0, 20 * 1000 * 1000}};
  hits = 0;
  CHECK("timer_settime 20 ms", timer_settime(t, 0, &its, NULL));
  struct itimerspec cur;
  CHECK("timer_gettime armed", timer_gettime(t, &cur));
  SAYB("  time left in (0, 20 ms]", ns_of(cur.it_value) > 0 && ns_of(cur.it_value) <= 20 * 1000 * 1000);
  while (hits == 0) pause();
  say("timer signal: SIGRTMIN = %d, si_code = %d (SI_TIMER %d), si_value = %d", last_sig == SIGRTMIN, last_code, SI_TIMER,
      last_value);
  CHECK("timer_gettime expired", timer_gettime(t, &cur));
  say("  time left = %lld", ns_of(cur.it_value));
  CHECK("timer_getoverrun", timer_getoverrun(t));

  /* Overruns: a 1 ms periodic timer whose signal stays blocked while it fires several times. */
  sigset_t s;
  sigemptyset(&s);
  sigaddset(&s, SIGRTMIN);
  sigprocmask(SIG_BLOCK, &s, NULL);
  struct itimerspec per = {.it_value = {0, 1000000}, .it_interval = {0, 1000000}};
  timer_settime(t, 0, &per, NULL);
  long long t0 = now(CLOCK_MONOTONIC);
  while (now(CLOCK_MONOTONIC) - t0 < 30 * 1000 * 1000) usleep(5000);
  siginfo_t si;
  CHECK("sigwaitinfo the periodic timer", sigwaitinfo(&s, &si) == SIGRTMIN);
  SAYB("  si_overrun > 0", si.si_overrun > 0);
  struct itimerspec off = {{0, 0}, {0, 0}};
  timer_settime(t, 0, &off, NULL);
  sigprocmask(SIG_UNBLOCK, &s, NULL);
  CHECK("timer_settime bad nsec", ({ struct itimerspec b = {.it_value = {0, 1000000000}}; timer_settime(t, 0, &b, NULL); }));
  CHECK("timer_delete", timer_delete(t));
  CHECK("timer_delete again", timer_delete(t));
  CHECK("timer_gettime deleted", timer_gettime(t, &cur));
  CHECK("timer_create bad clock", timer_create(99, &ev, &t));
  struct sigevent badev = {.sigev_notify = SIGEV_SIGNAL, .sigev_signo = 99};
  CHECK("timer_create bad signal", timer_create(CLOCK_MONOTONIC, &badev, &t));

  /* SIGEV_THREAD_ID: to one thread of ours. */
  long ttid = 0;
  pthread_t th;
  pthread_create(&th, NULL, thread_waits, &ttid);
  while (ttid == 0) usleep(1000);
  struct sigevent tev = {.sigev_notify = SIGEV_THREAD_ID, .sigev_signo = SIGRTMIN, .sigev_value.sival_int = 8};
  tev._sigev_un._tid = ttid;
  CHECK("timer_create SIGEV_THREAD_ID", timer_create(CLOCK_MONOTONIC, &tev, &t));
  hits = 0;
  timer_settime(t, 0, &its, NULL);
  while (hits == 0) usleep(1000);
  say("thread timer: taken by that thread = %d, si_value = %d", last_tid == ttid, last_value);
  timer_delete(t);
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, NULL, 0);
  tev._sigev_un._tid = gone;
  CHECK("timer_create SIGEV_THREAD_ID to a reaped tid", timer_create(CLOCK_MONOTONIC, &tev, &t));
  pthread_cancel(th);
  pthread_join(th, NULL);
  /* SIGEV_NONE: armed, never signals, time still counts. */
  struct sigevent none = {.sigev_notify = SIGEV_NONE};
  CHECK("timer_create SIGEV_NONE", timer_create(CLOCK_MONOTONIC, &none, &t));
  timer_settime(t, 0, &its, NULL);
  CHECK("timer_gettime SIGEV_NONE", timer_gettime(t, &cur));
  SAYB("  armed", ns_of(cur.it_value) > 0);
  timer_delete(t);
}

int main(void) {
  clocks();
  sleeps();
  interrupted();
  timerfds();
  itimers();
  posix_timers();
  return 0;
}
