/* A child stops itself with SIGSTOP; the parent sees it stopped (WUNTRACED),
 * continues it with SIGCONT, sees it continued (WCONTINUED), and reaps it. A
 * tracer must let the stop happen for real (group-stop), not swallow it. */
#define _GNU_SOURCE
#include <signal.h>
#include <stdio.h>
#include <sys/wait.h>
#include <unistd.h>

int main(void) {
  pid_t me = getpid();
  int gate[2];
  if (pipe(gate) < 0) return 2;
  pid_t c = fork();
  if (c < 0) return 2;
  if (c == 0) {
    close(gate[1]);
    raise(SIGSTOP);
    /* Runs only after SIGCONT; it waits until the parent saw it continued
     * (else its exit could be reported first). getppid is a trapped syscall. */
    char b;
    if (read(gate[0], &b, 1) != 0) _exit(8);
    printf("child resumed, parent ok: %d\n", getppid() == me);
    fflush(stdout);
    _exit(7);
  }
  close(gate[0]);
  int st;
  if (waitpid(c, &st, WUNTRACED) != c) return 3;
  printf("stopped: %d by %d\n", WIFSTOPPED(st), WIFSTOPPED(st) ? WSTOPSIG(st) : -1);
  fflush(stdout);
  kill(c, SIGCONT);
  if (waitpid(c, &st, WCONTINUED) != c) return 4;
  printf("continued: %d\n", WIFCONTINUED(st));
  fflush(stdout);
  close(gate[1]);
  if (waitpid(c, &st, 0) != c) return 5;
  printf("exited: %d status %d\n", WIFEXITED(st), WEXITSTATUS(st));
  return 0;
}
