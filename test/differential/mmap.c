/* mmap of a file: MAP_SHARED writes reach read(), MAP_PRIVATE ones do not. */
#include "check.h"
#include <sys/mman.h>

int main(void) {
  put_file("f", "hello, mapped world", 0644);
  int fd = open("f", O_RDWR);
  int rofd = open("f", O_RDONLY);
  int wofd = open("f", O_WRONLY);
  int dfd = open(".", O_RDONLY | O_DIRECTORY);
  char buf[64];

  char *s = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK("mmap shared", s == MAP_FAILED ? -1 : 0);
  say("mapped: %.19s", s);
  memcpy(s, "HELLO", 5);
  CHECK("msync", msync(s, 4096, MS_SYNC));
  memset(buf, 0, sizeof buf);
  CHECK("pread after shared write", pread(fd, buf, sizeof buf - 1, 0));
  say("file: %s", buf);
  pwrite(fd, "J", 1, 0);
  say("map sees write(): %c", s[0]);

  char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE, rofd, 0);
  CHECK("mmap private", p == MAP_FAILED ? -1 : 0);
  memcpy(p, "PRIVATE", 7);
  memset(buf, 0, sizeof buf);
  pread(fd, buf, sizeof buf - 1, 0);
  say("file after private write: %s", buf);
  say("private map: %.19s", p);
  CHECK("munmap private", munmap(p, 4096));

  CHECK("mmap shared write on rdonly fd", mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_SHARED, rofd, 0) == MAP_FAILED ? -1 : 0);
  CHECK("mmap on wronly fd", mmap(NULL, 4096, PROT_READ, MAP_SHARED, wofd, 0) == MAP_FAILED ? -1 : 0);
  CHECK("mmap dir", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, dfd, 0) == MAP_FAILED ? -1 : 0);
  CHECK("mmap badfd", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, 999, 0) == MAP_FAILED ? -1 : 0);
  CHECK("mmap len 0", mmap(NULL, 0, PROT_READ, MAP_PRIVATE, fd, 0) == MAP_FAILED ? -1 : 0);
  CHECK("mmap unaligned offset", mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 7) == MAP_FAILED ? -1 : 0);
  CHECK("mmap no type", mmap(NULL, 4096, PROT_READ, 0, fd, 0) == MAP_FAILED ? -1 : 0);

  /* Growing the file under a shared map, and a map past the end (SIGBUS region) left alone. */
  CHECK("ftruncate grow", ftruncate(fd, 8192));
  char *g = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
  CHECK("mmap grown", g == MAP_FAILED ? -1 : 0);
  g[5000] = 'X';
  CHECK("pread at 5000", pread(fd, buf, 1, 5000));
  say("byte at 5000: %c", buf[0]);
  CHECK("munmap", munmap(g, 8192));
  CHECK("munmap shared", munmap(s, 4096));

  /* A map outlives its fd and the file's name. */
  char *k = mmap(NULL, 4096, PROT_READ, MAP_SHARED, fd, 0);
  close(fd);
  unlink("f");
  say("after close+unlink: %.5s", k);
  return 0;
}
