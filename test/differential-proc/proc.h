/*
 * Helpers for the process differential programs (test/differential-proc/),
 * on top of ../differential/check.h. Pids differ between a native run and a
 * sandboxed one (the sandbox has its own pid namespace), so these programs
 * print relations between pids ("child's getppid == parent's getpid = 1"),
 * never the numbers themselves.
 */
#ifndef TSVISOR_PROC_CHECK_H
#define TSVISOR_PROC_CHECK_H

#include "../differential/check.h"
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <time.h>

/** A relation as a check: "label = 1" when it holds, "label = 0" when not. */
#define SAYB(label, cond) say("%s = %d", (label), (cond) ? 1 : 0)

/** Writes/reads one long through a pipe (child to parent reports). */
static __attribute__((unused)) void put_long(int fd, long v) {
  if (write(fd, &v, sizeof v) != sizeof v) _exit(90);
}
static __attribute__((unused)) long get_long(int fd) {
  long v = -12345;
  ssize_t n;
  do n = read(fd, &v, sizeof v); while (n < 0 && errno == EINTR);
  return n == sizeof v ? v : -12345;
}

/** The state letter of a process or thread from /proc/<pid>/stat ('?' if unreadable). */
static __attribute__((unused)) char proc_state(pid_t pid) {
  char path[64], buf[512];
  snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) return '?';
  ssize_t n = read(fd, buf, sizeof buf - 1);
  close(fd);
  if (n <= 0) return '?';
  buf[n] = 0;
  char *p = strrchr(buf, ')');
  return p && p[1] == ' ' ? p[2] : '?';
}

/**
 * Waits (up to 10 s, polling every 1 ms) until pid is asleep ('S'), i.e.
 * blocked in the call it was about to make. Not a timing threshold: a way
 * to send a signal once the target is inside its blocking call.
 */
static __attribute__((unused)) int wait_asleep(pid_t pid) {
  for (int i = 0; i < 10000; i++) {
    if (proc_state(pid) == 'S') {
      usleep(20000); /* the state is set just before the task sleeps; let it sleep */
      if (proc_state(pid) == 'S') return 1;
    }
    usleep(1000);
  }
  return 0;
}

/** Waits (up to 10 s) until pid's state is c. */
static __attribute__((unused)) int wait_state(pid_t pid, char c) {
  for (int i = 0; i < 10000; i++) {
    if (proc_state(pid) == c) return 1;
    usleep(1000);
  }
  return 0;
}

/** The status of a reaped child in words. */
static __attribute__((unused)) void say_status(const char *label, int st) {
  if (WIFEXITED(st)) say("%s: exit %d", label, WEXITSTATUS(st));
  else if (WIFSIGNALED(st)) say("%s: signal %d", label, WTERMSIG(st));
  else if (WIFSTOPPED(st)) say("%s: stopped %d", label, WSTOPSIG(st));
  else if (WIFCONTINUED(st)) say("%s: continued", label);
  else say("%s: status %d", label, st);
}

/* Runs fn in a child and waits for it; its output is in line with ours. */
static __attribute__((unused)) void in_child(const char *label, void (*fn)(void)) {
  fflush(stdout);
  pid_t p = fork();
  if (p == 0) {
    fn();
    fflush(stdout);
    _exit(0);
  }
  int st;
  waitpid(p, &st, 0);
  say_status(label, st);
}

/** Burns CPU for about n iterations (the compiler may not drop it). */
static __attribute__((unused)) void busy(long n) {
  volatile long x = 0;
  for (long i = 0; i < n; i++) x += i;
}

#endif
