/* 16 threads, each making trapped syscalls (getppid, open, stat) in a loop
 * and checking every answer: prints one line with the totals, exits 1 on a
 * wrong answer. The ptrace and seccomp platforms must both serve concurrent
 * traps from many threads of one process. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define THREADS 16

static int rounds;
static pid_t parent;
static const char *path;

static void *work(void *arg) {
  long bad = 0;
  for (int i = 0; i < rounds; i++) {
    if (getppid() != parent) bad++;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) bad++;
    else {
      char c;
      if (read(fd, &c, 1) != 1) bad++;
      close(fd);
    }
    struct stat st;
    if (stat(path, &st) < 0 || !S_ISREG(st.st_mode)) bad++;
  }
  return (void *)bad;
}

int main(int argc, char **argv) {
  rounds = argc > 1 ? atoi(argv[1]) : 200;
  path = argc > 2 ? argv[2] : "/etc/passwd";
  parent = getppid();
  pthread_t t[THREADS];
  for (int i = 0; i < THREADS; i++)
    if (pthread_create(&t[i], NULL, work, NULL) != 0) return 2;
  long bad = 0;
  for (int i = 0; i < THREADS; i++) {
    void *r;
    pthread_join(t[i], &r);
    bad += (long)r;
  }
  printf("threads %d rounds %d bad %ld\n", THREADS, rounds, bad);
  return bad ? 1 : 0;
}
