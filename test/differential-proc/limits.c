/*
 * Resource limits and scheduling: getrlimit/setrlimit/prlimit64 (enforced:
 * EMFILE past RLIMIT_NOFILE, SIGXFSZ/EFBIG past RLIMIT_FSIZE), getrusage and
 * times of a busy child, affinity, scheduler and priority calls, getcpu.
 * The limits a run starts with depend on who started it, so only changes
 * and relations are printed.
 */
#include "proc.h"
#include <sys/times.h>

#ifndef SYS_prlimit64
#define SYS_prlimit64 302
#endif


static void nofile(void) {
  struct rlimit rl, got;
  CHECK("getrlimit NOFILE", getrlimit(RLIMIT_NOFILE, &rl));
  rl.rlim_cur = 10;
  CHECK("setrlimit NOFILE soft 10", setrlimit(RLIMIT_NOFILE, &rl));
  getrlimit(RLIMIT_NOFILE, &got);
  say("NOFILE soft now = %lu, hard unchanged = %d", (unsigned long)got.rlim_cur, got.rlim_max == rl.rlim_max);
  int n = 0;
  int e = 0;
  for (;;) {
    int fd = open("/dev/null", O_RDONLY);
    if (fd < 0) {
      e = errno;
      break;
    }
    n++;
  }
  say("opened before the limit = %d, then %s", n, errname(e));
  CHECK("dup past the limit", dup(0));
  CHECK("fcntl F_DUPFD at the limit", fcntl(0, F_DUPFD, 10));
  CHECK("dup2 to the limit", dup2(0, 10));
  int sv[2];
  CHECK("pipe past the limit", pipe(sv));
}

/* Results are kept until the limit is raised again: stdout may be a file that the limit also binds. */
static char held[1024];
static size_t nheld;
#define HOLD(label, expr)                                                                              \
  do {                                                                                                 \
    errno = 0;                                                                                         \
    long r_ = (long)(expr);                                                                            \
    nheld += snprintf(held + nheld, sizeof held - nheld, "%s = %ld%s%s\n", (label), r_, r_ < 0 ? " " : "", \
                      r_ < 0 ? errname(errno) : "");                                                   \
  } while (0)

static void fsize(void) {
  struct rlimit saved, rl;
  getrlimit(RLIMIT_FSIZE, &saved);
  rl = saved;
  rl.rlim_cur = 10;
  HOLD("setrlimit FSIZE soft 10", setrlimit(RLIMIT_FSIZE, &rl));
  signal(SIGXFSZ, SIG_IGN);
  int fd = open("big", O_WRONLY | O_CREAT | O_TRUNC, 0644);
  HOLD("write 20 bytes (a short write up to the limit)", write(fd, "0123456789abcdefghij", 20));
  HOLD("write past the limit, SIGXFSZ ignored", write(fd, "x", 1));
  HOLD("ftruncate past the limit", ftruncate(fd, 100));
  HOLD("pwrite below the limit", pwrite(fd, "y", 1, 5));
  close(fd);
  setrlimit(RLIMIT_FSIZE, &saved);
  fputs(held, stdout);
  show("the file", "big", 0);
  setrlimit(RLIMIT_FSIZE, &rl);
  signal(SIGXFSZ, SIG_DFL);
  fd = open("big", O_WRONLY | O_APPEND);
  fflush(stdout);
  write(fd, "z", 1); /* killed by SIGXFSZ */
  _exit(0);
}

static void raise_hard(void) {
  /* Raising a hard limit needs CAP_SYS_RESOURCE: uid 1000 has none. */
  setgid(1000);
  setuid(1000);
  struct rlimit rl;
  getrlimit(RLIMIT_CORE, &rl);
  rl.rlim_max = rl.rlim_cur = 1000;
  CHECK("uid 1000 lower CORE hard to 1000", setrlimit(RLIMIT_CORE, &rl));
  rl.rlim_max = 2000;
  CHECK("uid 1000 raise CORE hard", setrlimit(RLIMIT_CORE, &rl));
  rl.rlim_max = 1000;
  rl.rlim_cur = 1000;
  CHECK("uid 1000 raise CORE soft to hard", setrlimit(RLIMIT_CORE, &rl));
  /* prlimit on a process of another user: EPERM. */
  CHECK("uid 1000 prlimit64 root parent read", syscall(SYS_prlimit64, getppid(), RLIMIT_CORE, NULL, &rl));
  CHECK("uid 1000 prlimit64 root parent write", syscall(SYS_prlimit64, getppid(), RLIMIT_CORE, &rl, NULL));
}

static volatile int thread_done;

static void *thread_id_then_wait(void *arg) {
  *(volatile long *)arg = syscall(SYS_gettid);
  while (!thread_done) usleep(1000);
  return NULL;
}

static void rlimit_errors(void) {
  struct rlimit rl;
  getrlimit(RLIMIT_CORE, &rl);
  struct rlimit bad = {rl.rlim_max == RLIM_INFINITY ? 100 : rl.rlim_max, 10};
  CHECK("setrlimit soft above hard", setrlimit(RLIMIT_CORE, &bad));
  CHECK("getrlimit resource 99", syscall(SYS_getrlimit, 99, &rl));
  CHECK("setrlimit resource 99", syscall(SYS_setrlimit, 99, &rl));
  CHECK("getrlimit bad pointer", syscall(SYS_getrlimit, RLIMIT_CORE, BADPTR));
  CHECK("setrlimit bad pointer", syscall(SYS_setrlimit, RLIMIT_CORE, BADPTR));
  CHECK("prlimit64 bad resource", syscall(SYS_prlimit64, 0, 99, NULL, &rl));
  CHECK("prlimit64 nothing", syscall(SYS_prlimit64, 0, RLIMIT_CORE, NULL, NULL));
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, NULL, 0);
  CHECK("prlimit64 a reaped pid", syscall(SYS_prlimit64, gone, RLIMIT_CORE, NULL, &rl));
  CHECK("prlimit64 negative pid", syscall(SYS_prlimit64, -1, RLIMIT_CORE, NULL, &rl));

  /* prlimit64 on a child: set from the parent, seen by the child. */
  int go[2], rep[2];
  pipe(go);
  pipe(rep);
  pid_t p = fork();
  if (p == 0) {
    char c;
    read(go[0], &c, 1);
    struct rlimit r;
    getrlimit(RLIMIT_CORE, &r);
    put_long(rep[1], (long)r.rlim_cur);
    _exit(0);
  }
  struct rlimit nl = {123, rl.rlim_max}, old;
  CHECK("prlimit64 child set", syscall(SYS_prlimit64, p, RLIMIT_CORE, &nl, &old));
  SAYB("prlimit64 child old soft == ours", old.rlim_cur == rl.rlim_cur);
  write(go[1], "x", 1);
  say("child sees CORE soft = %ld", get_long(rep[0]));
  waitpid(p, NULL, 0);
  /* A thread's id names its process's limits (a task that never trapped, in the sandbox). */
  long ttid = 0;
  pthread_t th;
  pthread_create(&th, NULL, thread_id_then_wait, &ttid);
  while (ttid == 0) usleep(1000);
  CHECK("prlimit64 by a thread's tid", syscall(SYS_prlimit64, ttid, RLIMIT_CORE, NULL, &old));
  SAYB("  the process's limit", old.rlim_cur == rl.rlim_cur);
  thread_done = 1;
  pthread_join(th, NULL);
  CHECK("prlimit64 self by pid", syscall(SYS_prlimit64, getpid(), RLIMIT_CORE, NULL, &old));
  SAYB("prlimit64 self == getrlimit", old.rlim_cur == rl.rlim_cur);
  struct rlimit in = {50, rl.rlim_max};
  CHECK("prlimit64 set and get", syscall(SYS_prlimit64, 0, RLIMIT_CORE, &in, &old));
  getrlimit(RLIMIT_CORE, &old);
  say("CORE soft now = %lu", (unsigned long)old.rlim_cur);
}

static void usage(void) {
  struct rusage ru;
  CHECK("getrusage SELF", getrusage(RUSAGE_SELF, &ru));
  CHECK("getrusage CHILDREN", getrusage(RUSAGE_CHILDREN, &ru));
  CHECK("getrusage THREAD", getrusage(RUSAGE_THREAD, &ru));
  CHECK("getrusage bad who", getrusage(99, &ru));
  CHECK("getrusage bad pointer", getrusage(RUSAGE_SELF, BADPTR));
  struct rusage before;
  getrusage(RUSAGE_CHILDREN, &before);
  struct tms tb;
  times(&tb);
  clock_t cbefore = tb.tms_cutime + tb.tms_cstime;
  pid_t p = fork();
  if (p == 0) {
    /* Busy until the child's own CPU clock shows 50 ms: a cause, not a threshold. */
    struct timespec t;
    do {
      busy(100000);
      clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &t);
    } while (t.tv_sec == 0 && t.tv_nsec < 50 * 1000 * 1000);
    _exit(0);
  }
  waitpid(p, NULL, 0);
  getrusage(RUSAGE_CHILDREN, &ru);
  long us = (ru.ru_utime.tv_sec - before.ru_utime.tv_sec) * 1000000 + (ru.ru_utime.tv_usec - before.ru_utime.tv_usec) +
            (ru.ru_stime.tv_sec - before.ru_stime.tv_sec) * 1000000 + (ru.ru_stime.tv_usec - before.ru_stime.tv_usec);
  SAYB("children's rusage grew by the busy child's CPU time", us >= 50000);
  clock_t t = times(&tb);
  SAYB("times returns", t != (clock_t)-1);
  SAYB("times: children's time grew", tb.tms_cutime + tb.tms_cstime > cbefore);
  CHECK("times bad pointer", syscall(SYS_times, BADPTR));
  CHECK("times null", syscall(SYS_times, NULL) > 0);
}

static void sched(void) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CHECK("sched_getaffinity", sched_getaffinity(0, sizeof set, &set));
  int n = CPU_COUNT(&set);
  SAYB("affinity has CPUs", n >= 1);
  CHECK("sched_getaffinity raw (bytes)", syscall(SYS_sched_getaffinity, 0, sizeof set, &set));
  CHECK("sched_getaffinity too short", syscall(SYS_sched_getaffinity, 0, 4, &set));
  CHECK("sched_getaffinity bad pointer", syscall(SYS_sched_getaffinity, 0, sizeof set, BADPTR));
  int first = -1;
  for (int i = 0; i < CPU_SETSIZE; i++)
    if (CPU_ISSET(i, &set)) {
      first = i;
      break;
    }
  cpu_set_t one;
  CPU_ZERO(&one);
  CPU_SET(first, &one);
  CHECK("sched_setaffinity one CPU", sched_setaffinity(0, sizeof one, &one));
  cpu_set_t got;
  sched_getaffinity(0, sizeof got, &got);
  say("CPUs now = %d, the one asked = %d", CPU_COUNT(&got), CPU_ISSET(first, &got) ? 1 : 0);
  unsigned cpu = 99, node = 99;
  CHECK("getcpu", syscall(SYS_getcpu, &cpu, &node, NULL));
  SAYB("getcpu is the pinned CPU", (int)cpu == first);
  cpu_set_t none;
  CPU_ZERO(&none);
  CHECK("sched_setaffinity empty", sched_setaffinity(0, sizeof none, &none));
  pid_t gone = fork();
  if (gone == 0) _exit(0);
  waitpid(gone, NULL, 0);
  CHECK("sched_getaffinity a reaped pid", sched_getaffinity(gone, sizeof got, &got));
  sched_setaffinity(0, sizeof set, &set);

  CHECK("sched_getscheduler", sched_getscheduler(0));
  CHECK("sched_getscheduler -1", sched_getscheduler(-1));
  CHECK("sched_getscheduler a reaped pid", sched_getscheduler(gone));
  struct sched_param sp;
  CHECK("sched_getparam", sched_getparam(0, &sp));
  say("priority = %d", sp.sched_priority);
  CHECK("sched_get_priority_max FIFO", sched_get_priority_max(SCHED_FIFO));
  CHECK("sched_get_priority_min FIFO", sched_get_priority_min(SCHED_FIFO));
  CHECK("sched_get_priority_max OTHER", sched_get_priority_max(SCHED_OTHER));
  CHECK("sched_get_priority_max bad", sched_get_priority_max(99));
  sp.sched_priority = 0;
  CHECK("sched_setscheduler BATCH", sched_setscheduler(0, SCHED_BATCH, &sp));
  CHECK("sched_getscheduler after", sched_getscheduler(0));
  CHECK("sched_setscheduler OTHER", sched_setscheduler(0, SCHED_OTHER, &sp));
  sp.sched_priority = 5;
  CHECK("sched_setscheduler OTHER with a priority", sched_setscheduler(0, SCHED_OTHER, &sp));
  CHECK("sched_setscheduler bad policy", sched_setscheduler(0, 99, &sp));
  struct timespec ts;
  CHECK("sched_rr_get_interval", sched_rr_get_interval(0, &ts));
  CHECK("sched_yield", sched_yield());

  errno = 0;
  int prio = getpriority(PRIO_PROCESS, 0);
  say("getpriority self = %d (errno %s)", prio, errno ? errname(errno) : "none");
  CHECK("setpriority +5 (lower)", setpriority(PRIO_PROCESS, 0, prio + 5));
  say("getpriority after = %d", getpriority(PRIO_PROCESS, 0) - prio);
  CHECK("setpriority bad which", setpriority(99, 0, 0));
  errno = 0;
  CHECK("getpriority a reaped pid", getpriority(PRIO_PROCESS, gone));
  CHECK("getpriority own group", getpriority(PRIO_PGRP, 0) - prio - 5 <= 0);
  say("nice beyond 19 clamps = %d", (setpriority(PRIO_PROCESS, 0, 100), getpriority(PRIO_PROCESS, 0)));
}

static void unprivileged_sched(void) {
  setgid(1000);
  setuid(1000);
  int prio = getpriority(PRIO_PROCESS, 0);
  CHECK("uid 1000 setpriority higher", setpriority(PRIO_PROCESS, 0, prio - 1));
  CHECK("uid 1000 setpriority lower", setpriority(PRIO_PROCESS, 0, prio + 1));
  CHECK("uid 1000 setpriority back", setpriority(PRIO_PROCESS, 0, prio));
  CHECK("uid 1000 setpriority root's parent", setpriority(PRIO_PROCESS, getppid(), 19));
  struct sched_param sp = {.sched_priority = 1};
  CHECK("uid 1000 sched_setscheduler FIFO", sched_setscheduler(0, SCHED_FIFO, &sp));
  cpu_set_t set;
  sched_getaffinity(0, sizeof set, &set);
  CHECK("uid 1000 sched_setaffinity root's parent", sched_setaffinity(getppid(), sizeof set, &set));
}

int main(void) {
  in_child("RLIMIT_NOFILE", nofile);
  in_child("RLIMIT_FSIZE", fsize);
  in_child("raising limits", raise_hard);
  in_child("rlimit errors", rlimit_errors);
  in_child("rusage", usage);
  in_child("scheduling", sched);
  in_child("scheduling as uid 1000", unprivileged_sched);
  return 0;
}
