/* umask, chdir, fchdir, getcwd, chroot (in a child), sync, fsync, fdatasync, syncfs. */
#include "check.h"

/** getcwd relative to where the program started (the work directory's own path differs per run). */
static char start[PATH_MAX];
static void cwd_is(const char *label) {
  char buf[PATH_MAX];
  if (getcwd(buf, sizeof buf) == NULL) {
    report(label, -1, errno);
    return;
  }
  size_t n = strlen(start);
  if (strncmp(buf, start, n) == 0) say("%s: <start>%s", label, buf + n);
  else say("%s: %s", label, buf);
}

int main(void) {
  struct stat st;
  getcwd(start, sizeof start);
  CHECK("umask 022 (old)", umask(022));
  CHECK("umask 077", umask(077));
  CHECK("umask 0777", umask(0777));
  CHECK("umask high bits", umask(0170777));
  CHECK("umask read back", umask(027));
  put_file("f027", "", 0666);
  show("f027 (umask 027)", "f027", 0);
  mkdir("d027", 0777);
  show("d027 (umask 027)", "d027", 0);
  umask(0);
  mkdir("u0", 0777);
  show("u0 (umask 0)", "u0", 0);
  umask(022);

  mkdir("d", 0755);
  mkdir("d/e", 0755);
  mkdir("noexec", 0644);
  put_file("f", "x", 0644);
  symlink("d", "ld");
  cwd_is("getcwd");
  CHECK("chdir d", chdir("d"));
  cwd_is("getcwd after chdir d");
  CHECK("chdir ..", chdir(".."));
  CHECK("chdir ld/e", chdir("ld/e"));
  cwd_is("getcwd after chdir ld/e (physical)");
  CHECK("chdir ../..", chdir("../.."));
  CHECK("chdir file", chdir("f"));
  CHECK("chdir missing", chdir("missing"));
  CHECK("chdir empty", chdir(""));
  CHECK("chdir badptr", chdir(BADPTR));
  CHECK("chdir name256", chdir(long_name(256)));
  CHECK("chdir f/", chdir("f/"));
  CHECK("chdir noexec (root)", chdir("noexec"));
  CHECK("chdir back", chdir(start));
  CHECK("chdir /proc", chdir("/proc"));
  cwd_is("getcwd in /proc");
  CHECK("chdir /proc/self", chdir("/proc/self"));
  CHECK("stat status via cwd", stat("status", &st));
  CHECK("chdir /", chdir("/"));
  cwd_is("getcwd in /");
  CHECK("chdir /..", chdir("/.."));
  cwd_is("getcwd in /..");
  chdir(start);
  int dfd = open("d", O_RDONLY | O_DIRECTORY);
  int ffd = open("f", O_RDONLY);
  int pfd = open("d/e", O_PATH);
  CHECK("fchdir", fchdir(dfd));
  cwd_is("getcwd after fchdir");
  CHECK("fchdir file", fchdir(ffd));
  CHECK("fchdir badfd", fchdir(999));
  CHECK("fchdir O_PATH", fchdir(pfd));
  cwd_is("getcwd after fchdir O_PATH");
  chdir(start);
  char small[4];
  CHECK("getcwd size 1", syscall(SYS_getcwd, small, 1));
  CHECK("getcwd size 0", syscall(SYS_getcwd, small, 0));
  CHECK("getcwd badptr", syscall(SYS_getcwd, BADPTR, 4096));
  CHECK("getcwd raw returns length+1 == strlen+1", syscall(SYS_getcwd, (char[PATH_MAX]){0}, PATH_MAX) == (long)strlen(start) + 1);
  /* The working directory removed: getcwd says so. */
  mkdir("gone", 0755);
  pid_t pid = fork();
  if (pid == 0) {
    chdir("gone");
    rmdir("../gone");
    char buf[PATH_MAX];
    CHECK("getcwd of removed dir", syscall(SYS_getcwd, buf, sizeof buf));
    CHECK("stat . of removed dir", stat(".", &st));
    CHECK("open creat in removed dir", open("x", O_CREAT | O_RDWR, 0644));
    _exit(0);
  }
  say_wait("removed-cwd child", pid);

  /* chroot, in a child (as root). */
  mkdir("jail", 0755);
  mkdir("jail/sub", 0755);
  put_file("jail/inside", "inside", 0644);
  symlink("/inside", "jail/abslink");
  symlink("../../../../inside", "jail/sub/uplink");
  pid = fork();
  if (pid == 0) {
    CHECK("chroot file", chroot("f"));
    CHECK("chroot missing", chroot("missing"));
    CHECK("chroot empty", chroot(""));
    CHECK("chroot badptr", chroot(BADPTR));
    CHECK("chroot jail", chroot("jail"));
    cwd_is("getcwd after chroot (outside the root)");
    CHECK("chdir /", chdir("/"));
    cwd_is("getcwd in jail");
    say("/inside holds %s", get_file("/inside"));
    say("/abslink holds %s", get_file("/abslink"));
    say("/sub/uplink holds %s", get_file("/sub/uplink"));
    say("/../../inside holds %s", get_file("/../../inside"));
    CHECK("stat /f (outside)", stat("/f", &st));
    CHECK("chdir sub", chdir("sub"));
    cwd_is("getcwd in jail/sub");
    _exit(0);
  }
  say_wait("chroot child", pid);

  /* sync family */
  int wfd = open("f", O_RDWR);
  sync();
  say("sync done");
  CHECK("fsync", fsync(wfd));
  CHECK("fdatasync", fdatasync(wfd));
  CHECK("syncfs", syncfs(wfd));
  CHECK("fsync rdonly", fsync(ffd));
  CHECK("fsync dir", fsync(dfd));
  CHECK("fsync badfd", fsync(999));
  CHECK("fdatasync badfd", fdatasync(999));
  CHECK("syncfs badfd", syncfs(999));
  int p[2];
  pipe(p);
  CHECK("fsync pipe", fsync(p[0]));
  CHECK("fsync O_PATH", fsync(pfd));
  CHECK("sync_file_range", sync_file_range(wfd, 0, 0, SYNC_FILE_RANGE_WRITE));
  CHECK("sync_file_range bad flags", sync_file_range(wfd, 0, 0, 0x80));
  return 0;
}
