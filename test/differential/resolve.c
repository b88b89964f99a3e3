/* Path resolution and open(2)/openat2(2): symlinks, "..", trailing slashes,
 * empty paths, dirfds, O_NOFOLLOW, O_DIRECTORY, O_PATH, O_TMPFILE, O_CREAT|O_EXCL,
 * and openat2's RESOLVE_ flags and struct checks. */
#include "check.h"
#include <linux/openat2.h>

static long oa2(int dirfd, const char *path, uint64_t flags, uint64_t mode, uint64_t resolve) {
  struct open_how how = {.flags = flags, .mode = mode, .resolve = resolve};
  return syscall(SYS_openat2, dirfd, path, &how, sizeof how);
}

/** An fd's result: "= ok" and closed, or "= -1 ERRNO". */
#define OPEN(label, expr) do { errno = 0; long r_ = (long)(expr); int e_ = errno; report_ok((label), r_, e_); if (r_ >= 0) close((int)r_); } while (0)

/** Whether two paths name the same object. */
static void same(const char *label, const char *a, const char *b) {
  struct stat sa, sb;
  if (stat(a, &sa) < 0 || stat(b, &sb) < 0) {
    report(label, -1, errno);
    return;
  }
  say("%s: %s", label, sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino ? "same" : "different");
}

/** What an fd opened by openat2 names, as a type and a file's content. */
static void what(const char *label, long fd) {
  if (fd < 0) {
    report(label, fd, errno);
    return;
  }
  struct stat st;
  fstat((int)fd, &st);
  char buf[64] = "";
  if (S_ISREG(st.st_mode)) {
    ssize_t n = pread((int)fd, buf, sizeof buf - 1, 0);
    buf[n < 0 ? 0 : n] = 0;
    buf[strcspn(buf, "\n")] = 0; /* the first line: /proc files hold pids */
  }
  say("%s: %s %s", label, type_name(st.st_mode), buf);
  close((int)fd);
}

int main(void) {
  char name[32], prev[32];
  struct stat st;
  umask(022);
  put_file("f", "top", 0644);
  mkdir("d", 0755);
  mkdir("d/e", 0755);
  put_file("d/f", "in-d", 0644);
  put_file("d/e/f", "in-e", 0644);
  symlink("f", "lf");
  symlink("d", "ld");
  symlink("d/", "ldslash");
  symlink("missing", "dangling");
  symlink("newtarget", "dangling2");
  symlink("loop1", "loop2");
  symlink("loop2", "loop1");
  symlink("self", "self");
  symlink("..", "d/up");
  symlink("/etc", "d/abs");
  symlink("../f", "d/e/upf");
  symlink("", "empty-link");

  /* A chain of symlinks: c0 -> f, c1 -> c0, ..., c40 -> c39. Linux follows at most 40. */
  symlink("f", "c0");
  for (int i = 1; i <= 40; i++) {
    sprintf(name, "c%d", i);
    sprintf(prev, "c%d", i - 1);
    symlink(prev, name);
  }
  CHECK("stat c39 (40 links)", stat("c39", &st));
  CHECK("stat c40 (41 links)", stat("c40", &st));
  CHECK("lstat c40", lstat("c40", &st));
  OPEN("open c39", open("c39", O_RDONLY));
  OPEN("open c40", open("c40", O_RDONLY));
  CHECK("stat loop1", stat("loop1", &st));
  CHECK("stat self", stat("self", &st));
  CHECK("stat loop1/x", stat("loop1/x", &st));
  CHECK("stat empty-link", stat("empty-link", &st));
  CHECK("lstat empty-link", lstat("empty-link", &st));
  /* Chains in the middle of a path count too: ld/../c39 follows 41 links. */
  CHECK("stat ld/../c38", stat("ld/../c38", &st));
  CHECK("stat ld/../c39", stat("ld/../c39", &st));

  /* "..": physical, stops at /, crosses mount points. */
  same("/.. is /", "/..", "/");
  same("/../.. is /", "/../..", "/");
  same("/proc/.. is /", "/proc/..", "/");
  same("/proc/self/.. is /proc", "/proc/self/..", "/proc");
  same("/dev/.. is /", "/dev/..", "/");
  same("/tmp/.. is /", "/tmp/..", "/");
  same("ld/.. is .", "ld/..", ".");
  same("d/up is .", "d/up", ".");
  same("d/e/upf is d/f", "d/e/upf", "d/f");
  same("d/abs is /etc", "d/abs", "/etc");
  same("f/.. (ENOTDIR)", "f/..", ".");

  /* Trailing slashes and dots. */
  OPEN("open f/", open("f/", O_RDONLY));
  OPEN("open f/.", open("f/.", O_RDONLY));
  OPEN("open f//", open("f//", O_RDONLY));
  OPEN("open d/", open("d/", O_RDONLY));
  OPEN("open d/.", open("d/.", O_RDONLY));
  OPEN("open d//e//f", open("d//e//f", O_RDONLY));
  OPEN("open lf/", open("lf/", O_RDONLY));
  OPEN("open ld/", open("ld/", O_RDONLY));
  OPEN("open ldslash", open("ldslash", O_RDONLY));
  OPEN("open ldslash nofollow", open("ldslash", O_RDONLY | O_NOFOLLOW));
  OPEN("open creat new/", open("new/", O_RDWR | O_CREAT, 0644));
  OPEN("open creat d/", open("d/", O_RDWR | O_CREAT, 0644));
  OPEN("open creat excl d/", open("d/", O_RDWR | O_CREAT | O_EXCL, 0644));
  OPEN("open creat .", open(".", O_RDONLY | O_CREAT, 0644));
  OPEN("open creat excl ..", open("..", O_RDONLY | O_CREAT | O_EXCL, 0644));
  OPEN("open creat f/", open("f/", O_RDWR | O_CREAT, 0644));
  CHECK("stat new", stat("new", &st));
  CHECK("stat d/f/", stat("d/f/", &st));
  CHECK("stat ld/f", stat("ld/f", &st));

  /* Empty paths. */
  OPEN("open empty", open("", O_RDONLY));
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  int ffd = open("f", O_RDONLY);
  OPEN("openat dfd empty", openat(dfd, "", O_RDONLY));
  OPEN("open badptr", open(BADPTR, O_RDONLY));
  OPEN("open name256", open(long_name(256), O_RDONLY));
  OPEN("open creat name256", open(long_name(256), O_RDWR | O_CREAT, 0644));
  OPEN("open creat name255", open(long_name(255), O_RDWR | O_CREAT, 0644));
  OPEN("open pathmax", open(long_path(), O_RDONLY));

  /* dirfds. */
  what("openat dfd f", openat(dfd, "f", O_RDONLY));
  what("openat dfd e/f", openat(dfd, "e/f", O_RDONLY));
  what("openat dfd ../f", openat(dfd, "../f", O_RDONLY));
  what("openat AT_FDCWD f", openat(AT_FDCWD, "f", O_RDONLY));
  OPEN("openat badfd rel", openat(999, "f", O_RDONLY));
  OPEN("openat -1 rel", openat(-1, "f", O_RDONLY));
  OPEN("openat badfd abs", openat(999, "/etc/passwd", O_RDONLY));
  OPEN("openat file dirfd", openat(ffd, "x", O_RDONLY));
  OPEN("openat file dirfd .", openat(ffd, ".", O_RDONLY));

  /* O_NOFOLLOW, O_DIRECTORY. */
  OPEN("open lf O_NOFOLLOW", open("lf", O_RDONLY | O_NOFOLLOW));
  OPEN("open ld/f O_NOFOLLOW", open("ld/f", O_RDONLY | O_NOFOLLOW));
  OPEN("open dangling O_NOFOLLOW", open("dangling", O_RDONLY | O_NOFOLLOW));
  OPEN("open lf O_NOFOLLOW|O_PATH", open("lf", O_PATH | O_NOFOLLOW));
  OPEN("open f O_DIRECTORY", open("f", O_RDONLY | O_DIRECTORY));
  OPEN("open ld O_DIRECTORY", open("ld", O_RDONLY | O_DIRECTORY));
  OPEN("open ld O_DIRECTORY|O_NOFOLLOW", open("ld", O_RDONLY | O_DIRECTORY | O_NOFOLLOW));
  OPEN("open missing O_DIRECTORY", open("missing", O_RDONLY | O_DIRECTORY));
  OPEN("open O_CREAT|O_DIRECTORY", open("newdir", O_RDONLY | O_CREAT | O_DIRECTORY, 0755));
  OPEN("open d O_WRONLY", open("d", O_WRONLY));
  OPEN("open d O_RDWR", open("d", O_RDWR));
  OPEN("open d O_RDONLY|O_TRUNC", open("d", O_RDONLY | O_TRUNC));
  OPEN("open d O_CREAT", open("d", O_RDONLY | O_CREAT, 0644));
  OPEN("open missing", open("missing", O_RDONLY));
  OPEN("open missing/x", open("missing/x", O_RDONLY | O_CREAT, 0644));
  OPEN("open f/x creat", open("f/x", O_RDONLY | O_CREAT, 0644));

  /* O_PATH: a handle that opens nothing. */
  int pfd = open("f", O_PATH);
  char c;
  CHECK("read O_PATH", read(pfd, &c, 1));
  CHECK("fstat O_PATH", fstat(pfd, &st));
  say_stat("fstat O_PATH", &st);
  int pdfd = open("d", O_PATH);
  what("openat O_PATH dirfd f", openat(pdfd, "f", O_RDONLY));
  what("open /proc/self/fd/N of O_PATH", open(((void)sprintf(name, "/proc/self/fd/%d", pfd), name), O_RDONLY));
  OPEN("open missing O_PATH", open("missing", O_PATH));
  OPEN("open dangling O_PATH", open("dangling", O_PATH));
  OPEN("open dangling O_PATH|O_NOFOLLOW", open("dangling", O_PATH | O_NOFOLLOW));
  CHECK("fcntl F_GETFL O_PATH has O_PATH", (fcntl(pfd, F_GETFL) & O_PATH) != 0);
  close(pfd);
  close(pdfd);

  /* O_TMPFILE, and linking it in. */
  int tfd = open(".", O_TMPFILE | O_RDWR, 0600);
  report_ok("open O_TMPFILE", tfd, errno);
  CHECK("write tmpfile", write(tfd, "tmp", 3));
  CHECK("fstat tmpfile", fstat(tfd, &st));
  say_stat("fstat tmpfile", &st);
  sprintf(name, "/proc/self/fd/%d", tfd);
  CHECK("linkat tmpfile via /proc/self/fd", linkat(AT_FDCWD, name, AT_FDCWD, "was-tmp", AT_SYMLINK_FOLLOW));
  show("stat was-tmp", "was-tmp", 1);
  say("was-tmp holds: %s", get_file("was-tmp"));
  CHECK("linkat tmpfile AT_EMPTY_PATH", linkat(tfd, "", AT_FDCWD, "was-tmp2", AT_EMPTY_PATH));
  show("stat was-tmp2", "was-tmp2", 1);
  sprintf(prev, "/proc/self/fd/%d", ffd);
  CHECK("linkat named file via /proc/self/fd", linkat(AT_FDCWD, prev, AT_FDCWD, "f-again", AT_SYMLINK_FOLLOW));
  show("stat f-again", "f-again", 1);
  CHECK("linkat named file AT_EMPTY_PATH", linkat(ffd, "", AT_FDCWD, "f-again2", AT_EMPTY_PATH));
  show("stat f-again2", "f-again2", 1);
  CHECK("linkat /proc/self/fd nofollow", linkat(AT_FDCWD, prev, AT_FDCWD, "f-again3", 0));
  CHECK("linkat tmpfile onto existing", linkat(AT_FDCWD, name, AT_FDCWD, "f", AT_SYMLINK_FOLLOW));
  close(tfd);
  tfd = open("d", O_TMPFILE | O_RDWR | O_EXCL, 0600);
  report_ok("open O_TMPFILE|O_EXCL", tfd, errno);
  sprintf(name, "/proc/self/fd/%d", tfd);
  CHECK("linkat O_EXCL tmpfile", linkat(AT_FDCWD, name, AT_FDCWD, "never", AT_SYMLINK_FOLLOW));
  close(tfd);
  OPEN("open O_TMPFILE rdonly", open(".", O_TMPFILE | O_RDONLY, 0600));
  OPEN("open O_TMPFILE on file", open("f", O_TMPFILE | O_RDWR, 0600));
  OPEN("open O_TMPFILE missing", open("missing", O_TMPFILE | O_RDWR, 0600));
  OPEN("open O_TMPFILE|O_CREAT", syscall(SYS_open, ".", O_TMPFILE | O_CREAT | O_RDWR, 0600));

  /* O_CREAT|O_EXCL, O_CREAT through a dangling symlink. */
  OPEN("open excl f", open("f", O_RDWR | O_CREAT | O_EXCL, 0644));
  OPEN("open excl lf", open("lf", O_RDWR | O_CREAT | O_EXCL, 0644));
  OPEN("open excl dangling", open("dangling", O_RDWR | O_CREAT | O_EXCL, 0644));
  OPEN("open creat dangling O_NOFOLLOW", open("dangling", O_RDWR | O_CREAT | O_NOFOLLOW, 0644));
  OPEN("open creat dangling2", open("dangling2", O_RDWR | O_CREAT, 0600));
  show("stat newtarget", "newtarget", 0);
  OPEN("open creat loop", open("loop1", O_RDWR | O_CREAT, 0600));
  OPEN("open excl loop", open("loop1", O_RDWR | O_CREAT | O_EXCL, 0600));
  OPEN("open creat excl new2", open("new2", O_RDWR | O_CREAT | O_EXCL, 0640));
  show("stat new2", "new2", 0);
  OPEN("open trunc", open("new2", O_RDWR | O_TRUNC));
  OPEN("open unknown flag bits", open("f", O_RDONLY | 0x40000000));

  /* openat2: the struct. */
  struct open_how how = {.flags = O_RDONLY};
  struct {
    struct open_how how;
    uint64_t extra;
  } big = {.how = {.flags = O_RDONLY}, .extra = 0};
  OPEN("openat2 size 0", syscall(SYS_openat2, AT_FDCWD, "f", &how, 0));
  OPEN("openat2 size 23", syscall(SYS_openat2, AT_FDCWD, "f", &how, 23));
  OPEN("openat2 size 24", syscall(SYS_openat2, AT_FDCWD, "f", &how, 24));
  OPEN("openat2 size 32 zero tail", syscall(SYS_openat2, AT_FDCWD, "f", &big, 32));
  big.extra = 1;
  OPEN("openat2 size 32 nonzero tail", syscall(SYS_openat2, AT_FDCWD, "f", &big, 32));
  OPEN("openat2 size 4097", syscall(SYS_openat2, AT_FDCWD, "f", &how, 4097));
  OPEN("openat2 size -1", syscall(SYS_openat2, AT_FDCWD, "f", &how, (size_t)-1));
  OPEN("openat2 badptr how", syscall(SYS_openat2, AT_FDCWD, "f", BADPTR, 24));
  OPEN("openat2 badptr path", syscall(SYS_openat2, AT_FDCWD, BADPTR, &how, 24));
  OPEN("openat2 NULL how", syscall(SYS_openat2, AT_FDCWD, "f", NULL, 24));
  OPEN("openat2 unknown flag", oa2(AT_FDCWD, "f", O_RDONLY | 0x40000000, 0, 0));
  OPEN("openat2 flag bit 32", oa2(AT_FDCWD, "f", 1ULL << 32, 0, 0));
  OPEN("openat2 mode without O_CREAT", oa2(AT_FDCWD, "f", O_RDONLY, 0644, 0));
  OPEN("openat2 mode 010000", oa2(AT_FDCWD, "x2", O_RDWR | O_CREAT, 010000, 0));
  OPEN("openat2 mode with O_TMPFILE", oa2(AT_FDCWD, ".", O_RDWR | O_TMPFILE, 0600, 0));
  OPEN("openat2 unknown resolve", oa2(AT_FDCWD, "f", O_RDONLY, 0, 0x40));
  OPEN("openat2 BENEATH|IN_ROOT", oa2(AT_FDCWD, "f", O_RDONLY, 0, RESOLVE_BENEATH | RESOLVE_IN_ROOT));
  OPEN("openat2 O_PATH|O_RDWR", oa2(AT_FDCWD, "f", O_PATH | O_RDWR, 0, 0));
  OPEN("openat2 O_PATH|O_CLOEXEC", oa2(AT_FDCWD, "f", O_PATH | O_CLOEXEC, 0, 0));
  OPEN("openat2 O_CREAT|O_DIRECTORY", oa2(AT_FDCWD, "x3", O_CREAT | O_DIRECTORY, 0, 0));
  OPEN("openat2 empty", oa2(AT_FDCWD, "", O_RDONLY, 0, 0));
  what("openat2 plain", oa2(AT_FDCWD, "f", O_RDONLY, 0, 0));

  /* RESOLVE_BENEATH */
  what("BENEATH f", oa2(dfd, "f", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH e/../f", oa2(dfd, "e/../f", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH e/upf", oa2(dfd, "e/upf", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH ../f", oa2(dfd, "../f", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH /etc", oa2(dfd, "/etc", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH abs link", oa2(dfd, "abs", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH up link", oa2(dfd, "up", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH .", oa2(dfd, ".", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH AT_FDCWD f", oa2(AT_FDCWD, "f", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH AT_FDCWD ld/f", oa2(AT_FDCWD, "ld/f", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH missing", oa2(dfd, "missing", O_RDONLY, 0, RESOLVE_BENEATH));
  what("BENEATH creat", oa2(dfd, "created-beneath", O_RDWR | O_CREAT, 0600, RESOLVE_BENEATH));
  what("BENEATH creat ../x", oa2(dfd, "../x", O_RDWR | O_CREAT, 0600, RESOLVE_BENEATH));

  /* RESOLVE_IN_ROOT: "/" and ".." stop at dirfd. */
  what("IN_ROOT f", oa2(dfd, "f", O_RDONLY, 0, RESOLVE_IN_ROOT));
  what("IN_ROOT /f", oa2(dfd, "/f", O_RDONLY, 0, RESOLVE_IN_ROOT));
  what("IN_ROOT ../../f", oa2(dfd, "../../f", O_RDONLY, 0, RESOLVE_IN_ROOT));
  what("IN_ROOT e/upf", oa2(dfd, "e/upf", O_RDONLY, 0, RESOLVE_IN_ROOT));
  what("IN_ROOT up/e/f", oa2(dfd, "up/e/f", O_RDONLY, 0, RESOLVE_IN_ROOT));
  what("IN_ROOT abs link", oa2(dfd, "abs", O_RDONLY, 0, RESOLVE_IN_ROOT));
  what("IN_ROOT /", oa2(dfd, "/", O_RDONLY, 0, RESOLVE_IN_ROOT));

  /* RESOLVE_NO_SYMLINKS */
  what("NO_SYMLINKS f", oa2(AT_FDCWD, "f", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
  what("NO_SYMLINKS lf", oa2(AT_FDCWD, "lf", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
  what("NO_SYMLINKS ld/f", oa2(AT_FDCWD, "ld/f", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));
  what("NO_SYMLINKS lf O_PATH|O_NOFOLLOW", oa2(AT_FDCWD, "lf", O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_SYMLINKS));
  what("NO_SYMLINKS /proc/self/status", oa2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_SYMLINKS));

  /* RESOLVE_NO_MAGICLINKS */
  sprintf(name, "/proc/self/fd/%d", ffd);
  what("NO_MAGICLINKS /proc/self/fd/N", oa2(AT_FDCWD, name, O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
  what("magic /proc/self/fd/N", oa2(AT_FDCWD, name, O_RDONLY, 0, 0));
  what("NO_MAGICLINKS /proc/self/fd/N O_PATH|O_NOFOLLOW", oa2(AT_FDCWD, name, O_PATH | O_NOFOLLOW, 0, RESOLVE_NO_MAGICLINKS));
  what("NO_MAGICLINKS /proc/self/status", oa2(AT_FDCWD, "/proc/self/status", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
  what("NO_MAGICLINKS /proc/self/cwd/f", oa2(AT_FDCWD, "/proc/self/cwd/f", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));
  what("NO_MAGICLINKS lf", oa2(AT_FDCWD, "lf", O_RDONLY, 0, RESOLVE_NO_MAGICLINKS));

  /* RESOLVE_NO_XDEV: /proc and /dev are mount points both natively and sandboxed. */
  int rootfd = open("/", O_RDONLY | O_DIRECTORY);
  int procfd = open("/proc", O_RDONLY | O_DIRECTORY);
  what("NO_XDEV f", oa2(AT_FDCWD, "f", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV / etc", oa2(rootfd, "etc", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV / proc", oa2(rootfd, "proc", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV / proc/self", oa2(rootfd, "proc/self", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /proc ..", oa2(procfd, "..", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /proc self/status", oa2(procfd, "self/status", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /proc/self/cwd (magic)", oa2(AT_FDCWD, "/proc/self/cwd", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /dev/null", oa2(AT_FDCWD, "/dev/null", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV absolute from cwd", oa2(AT_FDCWD, "/etc", O_RDONLY, 0, RESOLVE_NO_XDEV));
  /* /dev/shm is a mount inside /dev, natively and sandboxed (there a tmpfs of
   * the sandbox's own, which the sentry must know of): every way across its
   * edge is a crossing, and ".." out of it lands on /dev. */
  int devfd = open("/dev", O_RDONLY | O_DIRECTORY);
  int shmfd = open("/dev/shm", O_RDONLY | O_DIRECTORY);
  same("/dev/shm/.. is /dev", "/dev/shm/..", "/dev");
  what("NO_XDEV / dev", oa2(rootfd, "dev", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /dev shm", oa2(devfd, "shm", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /dev ../proc", oa2(devfd, "../proc", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /dev/shm .", oa2(shmfd, ".", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /dev/shm ..", oa2(shmfd, "..", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /dev/shm ../shm", oa2(shmfd, "../shm", O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("plain /dev/shm ..", oa2(shmfd, "..", O_RDONLY, 0, 0));
  what("BENEATH /dev/shm ..", oa2(shmfd, "..", O_RDONLY, 0, RESOLVE_BENEATH));
  what("IN_ROOT /dev/shm ../..", oa2(shmfd, "../..", O_RDONLY, 0, RESOLVE_IN_ROOT));
  /* Symlinks in /dev/shm (named by pid: natively it is the host's, shared). */
  char up[64], abs[64];
  snprintf(up, sizeof up, "/dev/shm/tsvisor-diff-up-%d", (int)getpid());
  snprintf(abs, sizeof abs, "/dev/shm/tsvisor-diff-abs-%d", (int)getpid());
  CHECK("symlink in /dev/shm to ..", symlink("..", up));
  CHECK("symlink in /dev/shm to /etc", symlink("/etc", abs));
  what("NO_XDEV /dev/shm link to ..", oa2(shmfd, strrchr(up, '/') + 1, O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("NO_XDEV /dev/shm link to /etc", oa2(shmfd, strrchr(abs, '/') + 1, O_RDONLY, 0, RESOLVE_NO_XDEV));
  what("/dev/shm link to /etc", oa2(shmfd, strrchr(abs, '/') + 1, O_RDONLY, 0, 0));
  unlink(up);
  unlink(abs);
  close(devfd);
  close(shmfd);

  /* RESOLVE_CACHED: never with O_CREAT, O_TRUNC or O_TMPFILE. */
  what("CACHED O_CREAT", oa2(AT_FDCWD, "f", O_RDWR | O_CREAT, 0600, RESOLVE_CACHED));
  what("CACHED O_TRUNC", oa2(AT_FDCWD, "f", O_RDWR | O_TRUNC, 0, RESOLVE_CACHED));
  what("CACHED O_TMPFILE", oa2(AT_FDCWD, ".", O_RDWR | O_TMPFILE, 0600, RESOLVE_CACHED));
  stat("d/e/f", &st);
  what("CACHED d/e/f", oa2(AT_FDCWD, "d/e/f", O_RDONLY, 0, RESOLVE_CACHED));
  return 0;
}
