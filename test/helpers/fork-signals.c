/* fork under a stream of caught signals, with a handler installed without
 * SA_RESTART (as busybox ash installs its SIGCHLD one): Linux restarts a
 * fork that a signal interrupts, so none fails with EINTR, natively or in
 * the sandbox. Prints "forks N eintr E other O". */
#define _GNU_SOURCE
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <unistd.h>

static volatile sig_atomic_t ticks;
static void on_alarm(int sig) { (void)sig; ticks++; }

int main(int argc, char **argv) {
  int n = argc > 1 ? atoi(argv[1]) : 300;
  struct sigaction sa = {0};
  sa.sa_handler = on_alarm; /* no SA_RESTART */
  if (sigaction(SIGALRM, &sa, NULL) < 0) return perror("sigaction"), 1;
  struct itimerval every = {{0, 100}, {0, 100}};
  if (setitimer(ITIMER_REAL, &every, NULL) < 0) return perror("setitimer"), 1;
  int eintr = 0, other = 0;
  for (int i = 0; i < n; i++) {
    pid_t pid = fork();
    if (pid == 0) _exit(0);
    if (pid < 0) {
      if (errno == EINTR) eintr++;
      else other++;
      continue;
    }
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR) {}
  }
  struct itimerval off = {{0, 0}, {0, 0}};
  setitimer(ITIMER_REAL, &off, NULL);
  printf("forks %d eintr %d other %d\n", n, eintr, other);
  return 0;
}
