/* getppid_loop ITERATIONS REPETITIONS
 *
 * Times ITERATIONS raw getppid syscalls, REPETITIONS times, and prints one
 * "ns_per_call <float>" line per repetition. getppid is the cheapest syscall
 * that any sandbox must answer itself (it names a pid), so under tsvisor and
 * under the C floor supervisor each call is exactly one trap and one reply:
 * the loop measures the trap round trip and nothing else.
 *
 * syscall(SYS_getppid) rather than getppid(): glibc does not cache it today,
 * but the raw call makes sure no libc ever answers it from userspace.
 * clock_gettime(CLOCK_MONOTONIC) goes through the vDSO, so the clock itself
 * is never trapped.
 *
 * At the end it prints "calls_total <n>" (warm-up included), so a harness
 * can check the supervisor saw exactly one trap per call. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv) {
  long iterations = argc > 1 ? atol(argv[1]) : 200000;
  long reps = argc > 2 ? atol(argv[2]) : 5;
  if (iterations <= 0 || reps <= 0) {
    fprintf(stderr, "usage: getppid_loop ITERATIONS REPETITIONS\n");
    return 2;
  }
  /* The sum keeps the compiler from treating the calls as dead, and a
   * failing call (-1) would show up as an error instead of a fast figure. */
  long sum = 0;
  /* Warm-up: fault in the code, let the supervisor's JIT and caches settle. */
  long warm = iterations / 10 < 1000 ? 1000 : iterations / 10;
  for (long i = 0; i < warm; i++) sum += syscall(SYS_getppid);
  for (long r = 0; r < reps; r++) {
    double t0 = now_ns();
    for (long i = 0; i < iterations; i++) sum += syscall(SYS_getppid);
    double t1 = now_ns();
    printf("ns_per_call %.2f\n", (t1 - t0) / (double)iterations);
    fflush(stdout);
  }
  if (sum < 0) {
    fprintf(stderr, "getppid_loop: getppid failed\n");
    return 1;
  }
  printf("calls_total %ld\n", warm + iterations * reps);
  return 0;
}
