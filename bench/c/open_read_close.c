/* open_read_close PATH ITERATIONS REPETITIONS
 *
 * Times ITERATIONS rounds of open(PATH, O_RDONLY), read up to 4 KiB, close,
 * REPETITIONS times, and prints one "ns_per_iter <float>" line per
 * repetition. Under tsvisor the open names a path, so it is trapped and
 * served by the sentry (path walk) and the gofer (the host open, the fd
 * passed back and installed into the task); read and close only touch an fd
 * the sentry handed out, so they run natively. The loop therefore measures
 * the cost of the sandbox's file-open control path plus the native data path.
 *
 * At the end it prints "opens_total <n>" (warm-up included), so a harness
 * can compare it with the number of trapped opens. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* One round; returns the byte count so a broken sandbox fails loudly
 * instead of timing a loop of errors. */
static ssize_t once(const char *path, char *buf) {
  int fd = open(path, O_RDONLY);
  if (fd < 0) {
    fprintf(stderr, "open_read_close: open %s: %s\n", path, strerror(errno));
    exit(1);
  }
  ssize_t n = read(fd, buf, 4096);
  if (n < 0) {
    fprintf(stderr, "open_read_close: read %s: %s\n", path, strerror(errno));
    exit(1);
  }
  if (close(fd) < 0) {
    fprintf(stderr, "open_read_close: close %s: %s\n", path, strerror(errno));
    exit(1);
  }
  return n;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: open_read_close PATH [ITERATIONS [REPETITIONS]]\n");
    return 2;
  }
  const char *path = argv[1];
  long iterations = argc > 2 ? atol(argv[2]) : 20000;
  long reps = argc > 3 ? atol(argv[3]) : 5;
  if (iterations <= 0 || reps <= 0) {
    fprintf(stderr, "open_read_close: bad ITERATIONS or REPETITIONS\n");
    return 2;
  }
  static char buf[4096];
  long bytes = 0;
  long warm = iterations / 10 < 100 ? 100 : iterations / 10;
  for (long i = 0; i < warm; i++) bytes += once(path, buf);
  for (long r = 0; r < reps; r++) {
    double t0 = now_ns();
    for (long i = 0; i < iterations; i++) bytes += once(path, buf);
    double t1 = now_ns();
    printf("ns_per_iter %.2f\n", (t1 - t0) / (double)iterations);
    fflush(stdout);
  }
  if (bytes == 0) {
    fprintf(stderr, "open_read_close: %s read back empty\n", path);
    return 1;
  }
  printf("opens_total %ld\n", warm + iterations * reps);
  return 0;
}
