/* getdents64: a directory's names (sorted), d_type, mount points in a listing, and errors. */
#include "check.h"

struct linux_dirent64 {
  uint64_t d_ino;
  int64_t d_off;
  unsigned short d_reclen;
  unsigned char d_type;
  char d_name[];
};

static int cmp(const void *a, const void *b) { return strcmp(*(char *const *)a, *(char *const *)b); }

static const char *dtype(unsigned char t) {
  switch (t) {
    case DT_REG: return "reg";
    case DT_DIR: return "dir";
    case DT_LNK: return "lnk";
    case DT_FIFO: return "fifo";
    case DT_SOCK: return "sock";
    case DT_CHR: return "chr";
    case DT_UNKNOWN: return "unknown";
    default: return "?";
  }
}

/** Reads a whole directory with getdents64 into names[] ("name:type"); returns the count or -errno. */
static int list(int fd, char **names, int max, int bufsize) {
  char *buf = malloc(bufsize);
  int n = 0;
  for (;;) {
    long r = syscall(SYS_getdents64, fd, buf, bufsize);
    if (r < 0) {
      int e = errno;
      free(buf);
      return -e;
    }
    if (r == 0) break;
    for (long off = 0; off < r;) {
      struct linux_dirent64 *d = (struct linux_dirent64 *)(buf + off);
      if (n < max) {
        names[n] = malloc(strlen(d->d_name) + 16);
        sprintf(names[n], "%s:%s", d->d_name, dtype(d->d_type));
        n++;
      }
      off += d->d_reclen;
    }
  }
  free(buf);
  qsort(names, n, sizeof *names, cmp);
  return n;
}

static void show_dir(const char *label, const char *path, int bufsize) {
  char *names[512];
  int fd = open(path, O_RDONLY | O_DIRECTORY);
  if (fd < 0) {
    report(label, -1, errno);
    return;
  }
  int n = list(fd, names, 512, bufsize);
  close(fd);
  if (n < 0) {
    report(label, -1, -n);
    return;
  }
  printf("%s:", label);
  for (int i = 0; i < n; i++) {
    printf(" %s", names[i]);
    free(names[i]);
  }
  printf("\n");
  fflush(stdout);
}

/** Whether / lists a name (the root's full listing is the host's, so only these are shown). */
static void root_has(const char *const *want, int count) {
  char *names[512];
  int fd = open("/", O_RDONLY | O_DIRECTORY);
  int n = list(fd, names, 512, 4096);
  close(fd);
  for (int w = 0; w < count; w++) {
    int found = 0;
    for (int i = 0; i < n; i++) {
      size_t len = strlen(want[w]);
      if (strncmp(names[i], want[w], len) == 0 && names[i][len] == ':') {
        found = 1;
        say("getdents / has %s", names[i]);
      }
    }
    if (!found) say("getdents / lacks %s", want[w]);
  }
  for (int i = 0; i < n; i++) free(names[i]);
}

int main(void) {
  mkdir("d", 0755);
  show_dir("empty dir", "d", 4096);
  put_file("d/b", "", 0644);
  put_file("d/a", "", 0644);
  mkdir("d/sub", 0755);
  symlink("a", "d/link");
  mkfifo("d/fifo", 0644);
  put_file("d/with space", "", 0644);
  put_file("d/é", "", 0644);
  for (int i = 0; i < 60; i++) {
    char name[32];
    sprintf(name, "d/many%02d", i);
    put_file(name, "", 0644);
  }
  show_dir("d", "d", 4096);
  show_dir("d small buffer", "d", 64);
  unlink("d/b");
  rmdir("d/sub");
  show_dir("d after removals", "d", 4096);

  /* A buffer too small for even one entry: EINVAL. */
  int fd = open("d", O_RDONLY | O_DIRECTORY);
  char tiny[8];
  CHECK("getdents64 tiny buffer", syscall(SYS_getdents64, fd, tiny, sizeof tiny));
  CHECK("getdents64 badptr", syscall(SYS_getdents64, fd, BADPTR, 4096));
  CHECK("getdents64 badfd", syscall(SYS_getdents64, 999, tiny, 4096));
  int ffd = open("d/a", O_RDONLY);
  char buf[4096];
  CHECK("getdents64 on a file", syscall(SYS_getdents64, ffd, buf, sizeof buf));
  int pfd = open("d", O_PATH);
  CHECK("getdents64 on O_PATH", syscall(SYS_getdents64, pfd, buf, sizeof buf));
  /* After reading to the end, 0; after rewinding, the entries again. */
  while (syscall(SYS_getdents64, fd, buf, sizeof buf) > 0) {}
  CHECK("getdents64 at end", syscall(SYS_getdents64, fd, buf, sizeof buf));
  CHECK("lseek 0", lseek(fd, 0, SEEK_SET));
  CHECK_OK("getdents64 after rewind", syscall(SYS_getdents64, fd, buf, sizeof buf));

  /* A directory removed while open: empty. */
  mkdir("gone", 0755);
  int gfd = open("gone", O_RDONLY | O_DIRECTORY);
  rmdir("gone");
  CHECK("getdents64 removed dir", syscall(SYS_getdents64, gfd, buf, sizeof buf));

  static const char *const want[] = {"proc", "tmp", "dev", "sys", "etc", "usr", "var"};
  root_has(want, 7);
  show_dir("/proc/self/fd (before more opens)", "/proc/self/fd", 4096);
  return 0;
}
