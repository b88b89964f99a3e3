/*
 * fd-attr PATH: the fd forms of chown, chmod and utimes on PATH, for
 * containers that have no compiler (test/oci-rootfs.test.ts builds it
 * static). PATH is opened read-only and O_PATH; each call prints
 * "LABEL: 0" or "LABEL: ERRNO-NUMBER", the same under tsvisor as under runc.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

static void say(const char *label, long r) {
  printf("%s: %d\n", label, r < 0 ? errno : 0);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: fd-attr PATH\n");
    return 2;
  }
  int fd = open(argv[1], O_RDONLY);
  int path_fd = open(argv[1], O_PATH);
  if (fd < 0 || path_fd < 0) {
    perror(argv[1]);
    return 1;
  }
  struct timespec times[2] = {{1, 0}, {2, 0}};
  say("fchown fd", fchown(fd, 0, 0));
  say("fchownat AT_EMPTY_PATH fd", fchownat(fd, "", 0, 0, AT_EMPTY_PATH));
  say("fchownat AT_EMPTY_PATH O_PATH", fchownat(path_fd, "", 0, 0, AT_EMPTY_PATH));
  say("fchmod fd", fchmod(fd, 0666));
  say("fchmodat2 AT_EMPTY_PATH fd", syscall(SYS_fchmodat2, fd, "", 0666, AT_EMPTY_PATH));
  say("fchmodat2 AT_EMPTY_PATH O_PATH", syscall(SYS_fchmodat2, path_fd, "", 0666, AT_EMPTY_PATH));
  say("futimens fd", futimens(fd, times));
  say("utimensat AT_EMPTY_PATH O_PATH", utimensat(path_fd, "", times, AT_EMPTY_PATH));
  return 0;
}
