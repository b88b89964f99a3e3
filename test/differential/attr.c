/* chmod, fchmod, fchmodat(2), chown, lchown, fchownat, utimensat, futimesat, truncate, ftruncate, fallocate. */
#include "check.h"
#include <sys/time.h>
#include <time.h>

#define FCHMODAT2(d, p, m, f) syscall(SYS_fchmodat2, (d), (p), (m), (f))

static void times_of(const char *label, const char *path, int follow) {
  struct stat st;
  int r = follow ? stat(path, &st) : lstat(path, &st);
  if (r < 0) {
    report(label, r, errno);
    return;
  }
  say("%s: atime=%lld.%09ld mtime=%lld.%09ld", label, (long long)st.st_atim.tv_sec, st.st_atim.tv_nsec,
      (long long)st.st_mtim.tv_sec, st.st_mtim.tv_nsec);
}

/** UTIME_NOW: the time is now, so only "recent" (within a minute of time()) is printed. */
static void recent(const char *label, const char *path) {
  struct stat st;
  stat(path, &st);
  time_t now = time(NULL);
  say("%s: mtime recent=%d atime recent=%d", label, st.st_mtim.tv_sec > now - 60 && st.st_mtim.tv_sec <= now + 1,
      st.st_atim.tv_sec > now - 60 && st.st_atim.tv_sec <= now + 1);
}

int main(void) {
  umask(022);
  put_file("f", "hello world", 0644);
  mkdir("d", 0755);
  symlink("f", "lf");
  symlink("missing", "dangling");
  int ffd = open("f", O_RDWR);
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  int pfd = open("lf", O_PATH | O_NOFOLLOW);
  int rofd = open("f", O_RDONLY);

  /* chmod family */
  CHECK("chmod", chmod("f", 0600));
  show("after chmod", "f", 0);
  CHECK("chmod all bits", chmod("f", 07777));
  show("after chmod 07777", "f", 0);
  CHECK("chmod extra bits", chmod("f", 0170644));
  show("after chmod 0170644", "f", 0);
  CHECK("chmod via symlink", chmod("lf", 0640));
  show("lf target after chmod", "f", 0);
  show("lf itself", "lf", 0);
  CHECK("chmod dangling", chmod("dangling", 0644));
  CHECK("chmod missing", chmod("missing", 0644));
  CHECK("chmod empty", chmod("", 0644));
  CHECK("chmod badptr", chmod(BADPTR, 0644));
  CHECK("chmod name256", chmod(long_name(256), 0644));
  CHECK("chmod f/", chmod("f/", 0644));
  CHECK("chmod /proc/self/status", chmod("/proc/self/status", 0644));
  CHECK("fchmod", fchmod(ffd, 0604));
  show("after fchmod", "f", 0);
  CHECK("fchmod badfd", fchmod(999, 0644));
  CHECK("fchmod O_PATH", fchmod(pfd, 0644));
  CHECK("fchmod rdonly fd", fchmod(rofd, 0644));
  CHECK("fchmodat", fchmodat(dfd, "../f", 0640, 0));
  show("after fchmodat", "f", 0);
  CHECK("fchmodat badfd", fchmodat(999, "f", 0640, 0));
  CHECK("fchmodat raw flags ignored", syscall(SYS_fchmodat, AT_FDCWD, "f", 0644, AT_SYMLINK_NOFOLLOW));
  CHECK("fchmodat2 NOFOLLOW symlink", FCHMODAT2(AT_FDCWD, "lf", 0600, AT_SYMLINK_NOFOLLOW));
  CHECK("fchmodat2 NOFOLLOW file", FCHMODAT2(AT_FDCWD, "f", 0600, AT_SYMLINK_NOFOLLOW));
  show("after fchmodat2 NOFOLLOW file", "f", 0);
  CHECK("fchmodat2 AT_EMPTY_PATH", FCHMODAT2(ffd, "", 0644, AT_EMPTY_PATH));
  show("after fchmodat2 AT_EMPTY_PATH", "f", 0);
  CHECK("fchmodat2 AT_EMPTY_PATH O_PATH symlink", FCHMODAT2(pfd, "", 0644, AT_EMPTY_PATH));
  CHECK("fchmodat2 bad flags", FCHMODAT2(AT_FDCWD, "f", 0644, 0x2));
  CHECK("glibc fchmodat NOFOLLOW symlink", fchmodat(AT_FDCWD, "lf", 0600, AT_SYMLINK_NOFOLLOW));

  /* chown family (as root) */
  CHECK("chown", chown("f", 1000, 1000));
  show("after chown", "f", 0);
  CHECK("chown -1 -1", chown("f", -1, -1));
  show("after chown -1 -1", "f", 0);
  CHECK("chown gid only", chown("f", -1, 2000));
  show("after chown gid", "f", 0);
  CHECK("chown via symlink", chown("lf", 3000, -1));
  show("after chown via lf", "f", 0);
  show("lf itself", "lf", 0);
  CHECK("lchown", lchown("lf", 4000, 4000));
  show("lf after lchown", "lf", 0);
  show("f after lchown", "f", 0);
  CHECK("lchown dangling", lchown("dangling", 5, 5));
  CHECK("chown dangling", chown("dangling", 5, 5));
  CHECK("chown missing", chown("missing", 5, 5));
  CHECK("chown empty", chown("", 5, 5));
  CHECK("chown badptr", chown(BADPTR, 5, 5));
  CHECK("fchown", fchown(ffd, 0, 0));
  show("after fchown", "f", 0);
  CHECK("fchown badfd", fchown(999, 0, 0));
  CHECK("fchown O_PATH", fchown(pfd, 0, 0));
  CHECK("fchownat NOFOLLOW", fchownat(AT_FDCWD, "lf", 6, 6, AT_SYMLINK_NOFOLLOW));
  show("lf after fchownat", "lf", 0);
  CHECK("fchownat AT_EMPTY_PATH", fchownat(ffd, "", 7, 7, AT_EMPTY_PATH));
  show("f after fchownat AT_EMPTY_PATH", "f", 0);
  CHECK("fchownat AT_EMPTY_PATH O_PATH symlink", fchownat(pfd, "", 8, 8, AT_EMPTY_PATH));
  show("lf after fchownat O_PATH", "lf", 0);
  CHECK("fchownat bad flags", fchownat(AT_FDCWD, "f", 0, 0, 0x2));
  CHECK("fchownat dirfd", fchownat(dfd, "../f", 0, 0, 0));
  show("after fchownat dirfd", "f", 0);
  chmod("f", 06755);
  CHECK("chown clears setuid", chown("f", 0, 0));
  show("after chown of setuid file", "f", 0);
  chmod("f", 0644);

  /* utimensat, futimesat */
  struct timespec ts[2] = {{1000000000, 123456789}, {1200000000, 987654321}};
  CHECK("utimensat", utimensat(AT_FDCWD, "f", ts, 0));
  times_of("after utimensat", "f", 1);
  struct timespec omit_a[2] = {{0, UTIME_OMIT}, {1300000000, 5}};
  CHECK("utimensat OMIT atime", utimensat(AT_FDCWD, "f", omit_a, 0));
  times_of("after OMIT atime", "f", 1);
  struct timespec now_m[2] = {{1100000000, 0}, {0, UTIME_NOW}};
  CHECK("utimensat NOW mtime", utimensat(AT_FDCWD, "f", now_m, 0));
  recent("after NOW mtime", "f");
  CHECK("utimensat NULL", utimensat(AT_FDCWD, "f", NULL, 0));
  recent("after NULL", "f");
  struct timespec both_omit[2] = {{0, UTIME_OMIT}, {0, UTIME_OMIT}};
  CHECK("utimensat both OMIT missing", utimensat(AT_FDCWD, "missing", both_omit, 0));
  CHECK("utimensat missing", utimensat(AT_FDCWD, "missing", ts, 0));
  struct timespec bad_ns[2] = {{0, 1000000000}, {0, 0}};
  CHECK("utimensat bad nsec", utimensat(AT_FDCWD, "f", bad_ns, 0));
  struct timespec neg_ns[2] = {{0, -1}, {0, 0}};
  CHECK("utimensat negative nsec", utimensat(AT_FDCWD, "f", neg_ns, 0));
  CHECK("utimensat bad flags", utimensat(AT_FDCWD, "f", ts, 0x2));
  CHECK("utimensat badptr times", utimensat(AT_FDCWD, "f", BADPTR, 0));
  CHECK("utimensat badptr path", utimensat(AT_FDCWD, BADPTR, ts, 0));
  CHECK("utimensat NOFOLLOW symlink", utimensat(AT_FDCWD, "lf", ts, AT_SYMLINK_NOFOLLOW));
  times_of("lf after NOFOLLOW", "lf", 0);
  CHECK("utimensat dangling", utimensat(AT_FDCWD, "dangling", ts, 0));
  CHECK("utimensat raw NULL path on fd", syscall(SYS_utimensat, ffd, NULL, ts, 0));
  times_of("after utimensat(fd, NULL)", "f", 1);
  CHECK("utimensat raw NULL path AT_FDCWD", syscall(SYS_utimensat, AT_FDCWD, NULL, ts, 0));
  CHECK("utimensat raw NULL path with flags", syscall(SYS_utimensat, ffd, NULL, ts, AT_SYMLINK_NOFOLLOW));
  CHECK("utimensat raw NULL path badfd", syscall(SYS_utimensat, 999, NULL, ts, 0));
  CHECK("utimensat AT_EMPTY_PATH", utimensat(ffd, "", ts, AT_EMPTY_PATH));
  CHECK("utimensat empty", utimensat(AT_FDCWD, "", ts, 0));
  CHECK("futimens", futimens(ffd, ts));
  times_of("after futimens", "f", 1);
  CHECK("futimens badfd", futimens(999, ts));
  struct timeval tv[2] = {{1400000000, 111111}, {1500000000, 222222}};
  CHECK("futimesat", futimesat(dfd, "../f", tv));
  times_of("after futimesat", "f", 1);
  struct timeval bad_tv[2] = {{0, 1000000}, {0, 0}};
  CHECK("futimesat bad usec", futimesat(AT_FDCWD, "f", bad_tv));
  CHECK("futimesat badfd", futimesat(999, "f", tv));
  CHECK("futimesat NULL", futimesat(AT_FDCWD, "f", NULL));
  recent("after futimesat NULL", "f");
  CHECK("utimes", utimes("f", tv));
  times_of("after utimes", "f", 1);

  /* truncate, ftruncate, fallocate */
  CHECK("truncate grow", truncate("f", 100));
  show("after truncate 100", "f", 0);
  CHECK("truncate shrink", truncate("f", 3));
  say("after truncate 3: %s", get_file("f"));
  CHECK("truncate negative", truncate("f", -1));
  CHECK("truncate dir", truncate("d", 0));
  CHECK("truncate missing", truncate("missing", 0));
  CHECK("truncate via symlink", truncate("lf", 5));
  show("after truncate via lf", "f", 0);
  CHECK("truncate fifo", (mkfifo("fifo", 0644), truncate("fifo", 0)));
  CHECK("truncate empty", truncate("", 0));
  CHECK("truncate badptr", truncate(BADPTR, 0));
  CHECK("truncate f/", truncate("f/", 0));
  CHECK("ftruncate", ftruncate(ffd, 10));
  show("after ftruncate", "f", 0);
  CHECK("ftruncate negative", ftruncate(ffd, -1));
  CHECK("ftruncate rdonly fd", ftruncate(rofd, 0));
  CHECK("ftruncate badfd", ftruncate(999, 0));
  CHECK("ftruncate dir", ftruncate(dfd, 0));
  CHECK("ftruncate O_PATH", ftruncate(pfd, 0));
  CHECK("fallocate", fallocate(ffd, 0, 0, 4096));
  show("after fallocate", "f", 0);
  CHECK("fallocate KEEP_SIZE", fallocate(ffd, FALLOC_FL_KEEP_SIZE, 0, 8192));
  show("after fallocate KEEP_SIZE", "f", 0);
  CHECK("fallocate bad mode", fallocate(ffd, 0x1000, 0, 10));
  CHECK("fallocate zero len", fallocate(ffd, 0, 0, 0));
  CHECK("fallocate negative offset", fallocate(ffd, 0, -1, 10));
  CHECK("fallocate rdonly", fallocate(rofd, 0, 0, 10));
  CHECK("fallocate badfd", fallocate(999, 0, 0, 10));
  CHECK("fallocate PUNCH_HOLE without KEEP_SIZE", fallocate(ffd, FALLOC_FL_PUNCH_HOLE, 0, 10));
  return 0;
}
