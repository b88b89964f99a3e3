/*
 * Permission checks on the fd forms of chmod, chown and the utime family:
 * fchmod, fchown, futimens and the *at calls that name an fd with
 * AT_EMPTY_PATH (fchmodat2, fchownat, utimensat). The program (root) makes
 * files; a child as uid/gid 1000 changes what it may and is refused what it
 * may not; then root with CAP_FOWNER and CAP_CHOWN dropped. Sandboxed, the
 * sentry must not make these changes with rights of its own: the answers,
 * and the files afterwards, must be the host kernel's, as natively.
 */
#include "check.h"
#include <grp.h>
#include <linux/capability.h>

#define FCHMODAT2(d, p, m, f) syscall(SYS_fchmodat2, (d), (p), (m), (f))

static struct timespec explicit_times[2] = {{1, 0}, {2, 0}};
static struct timespec now_times[2] = {{0, UTIME_NOW}, {0, UTIME_NOW}};

static void show_times(const char *label, const char *path) {
  struct stat st;
  if (lstat(path, &st) < 0) {
    report(label, -1, errno);
    return;
  }
  /* Only whether the explicit times took: "now" differs between runs. */
  say("%s: explicit atime=%d mtime=%d", label, st.st_atim.tv_sec == 1, st.st_mtim.tv_sec == 2);
}

/* Every fd form on fd, labelled with what fd is. */
static void chmod_forms(const char *what, int fd, mode_t mode) {
  char label[128];
  snprintf(label, sizeof label, "fchmod %s", what);
  CHECK(label, fchmod(fd, mode));
  snprintf(label, sizeof label, "fchmodat2 AT_EMPTY_PATH %s", what);
  CHECK(label, FCHMODAT2(fd, "", mode, AT_EMPTY_PATH));
}

static void chown_forms(const char *what, int fd, uid_t uid, gid_t gid) {
  char label[128];
  snprintf(label, sizeof label, "fchown %s to %d:%d", what, (int)uid, (int)gid);
  CHECK(label, fchown(fd, uid, gid));
  snprintf(label, sizeof label, "fchownat AT_EMPTY_PATH %s to %d:%d", what, (int)uid, (int)gid);
  CHECK(label, fchownat(fd, "", uid, gid, AT_EMPTY_PATH));
}

static void utime_forms(const char *what, int fd) {
  char label[128];
  snprintf(label, sizeof label, "futimens times %s", what);
  CHECK(label, futimens(fd, explicit_times));
  snprintf(label, sizeof label, "futimens NULL %s", what);
  CHECK(label, futimens(fd, NULL));
  snprintf(label, sizeof label, "futimens UTIME_NOW %s", what);
  CHECK(label, futimens(fd, now_times));
  snprintf(label, sizeof label, "utimensat AT_EMPTY_PATH times %s", what);
  CHECK(label, utimensat(fd, "", explicit_times, AT_EMPTY_PATH));
  snprintf(label, sizeof label, "utimensat AT_EMPTY_PATH NULL %s", what);
  CHECK(label, utimensat(fd, "", NULL, AT_EMPTY_PATH));
  snprintf(label, sizeof label, "futimesat NULL path %s", what);
  CHECK(label, syscall(SYS_futimesat, fd, NULL, NULL));
}

/* Drops capabilities from the effective set only (the ids stay 0). */
static int drop_effective(unsigned long long caps) {
  struct __user_cap_header_struct header = {_LINUX_CAPABILITY_VERSION_3, 0};
  struct __user_cap_data_struct data[2];
  if (syscall(SYS_capget, &header, data) < 0) return -1;
  data[0].effective &= ~(uint32_t)caps;
  data[1].effective &= ~(uint32_t)(caps >> 32);
  return (int)syscall(SYS_capset, &header, data);
}

static void as_user(void) {
  gid_t groups[1] = {1000};
  CHECK("setgroups", setgroups(1, groups));
  CHECK("setgid", setgid(1000));
  CHECK("setuid", setuid(1000));

  /* Its own file: chmod and its own group are fine, another owner is not. */
  int mine = open("mine", O_RDWR);
  chmod_forms("own file", mine, 0600);
  show("mine after chmod", "mine", 0);
  chmod_forms("own file setuid", mine, 04640);
  show("mine after chmod 04640", "mine", 0);
  chown_forms("own file", mine, 2000, -1);
  chown_forms("own file", mine, 0, 0);
  chown_forms("own file", mine, -1, 0);
  chown_forms("own file", mine, -1, 1000);
  chown_forms("own file", mine, 1000, 1000);
  show("mine after chown", "mine", 0);
  utime_forms("own file", mine);
  CHECK("utimensat AT_EMPTY_PATH times own file (again)", utimensat(mine, "", explicit_times, AT_EMPTY_PATH));
  show_times("mine times", "mine");

  /* Root's file, opened read-only: no change but a time set by a writer, which it is not. */
  int ro = open("root644", O_RDONLY);
  chmod_forms("root644 rdonly", ro, 0666);
  chown_forms("root644 rdonly", ro, 1000, 1000);
  chown_forms("root644 rdonly", ro, -1, -1);
  utime_forms("root644 rdonly", ro);

  /* Root's file that anyone may write: "now" yes, chosen times no. */
  int rw = open("root666", O_RDWR);
  utime_forms("root666 rdwr", rw);
  chmod_forms("root666 rdwr", rw, 0600);

  /* O_PATH fds: the *at forms reach the file, the f* forms are EBADF. */
  int path_root = open("root600", O_PATH);
  chmod_forms("root600 O_PATH", path_root, 0666);
  chown_forms("root600 O_PATH", path_root, 1000, 1000);
  utime_forms("root600 O_PATH", path_root);
  int path_mine = open("mine", O_PATH);
  chmod_forms("own file O_PATH", path_mine, 0644);
  chown_forms("own file O_PATH", path_mine, -1, 1000);
  utime_forms("own file O_PATH", path_mine);
  show("mine after O_PATH", "mine", 0);
  int path_link = open("rootlink", O_PATH | O_NOFOLLOW);
  chown_forms("root symlink O_PATH", path_link, 1000, 1000);
  CHECK("fchmodat2 AT_EMPTY_PATH|NOFOLLOW root symlink O_PATH",
        FCHMODAT2(path_link, "", 0777, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW));

  /* A directory of root's, opened to read. */
  int dir = open("rootdir", O_RDONLY | O_DIRECTORY);
  chmod_forms("rootdir", dir, 0777);
  chown_forms("rootdir", dir, 1000, 1000);
  utime_forms("rootdir", dir);
  CHECK("fchownat bad flags", fchownat(mine, "", 1000, 1000, AT_EMPTY_PATH | 0x2));
  CHECK("fchmodat2 bad flags", FCHMODAT2(mine, "", 0644, AT_EMPTY_PATH | 0x2));
  CHECK("utimensat NULL path with flags", syscall(SYS_utimensat, mine, NULL, NULL, AT_EMPTY_PATH));
  CHECK("fchownat AT_EMPTY_PATH badfd", fchownat(999, "", 1000, 1000, AT_EMPTY_PATH));
  CHECK("fchmodat2 AT_EMPTY_PATH badfd", FCHMODAT2(999, "", 0644, AT_EMPTY_PATH));
  CHECK("futimens badfd", futimens(999, NULL));
}

/* "other" as each root child starts with it. */
static void reset_other(void) {
  chown("other", 1000, 1000);
  chmod("other", 0644);
}

/* Root, with the capabilities that pass over ownership dropped. */
static void as_root_without(const char *what, unsigned long long caps) {
  char label[128];
  snprintf(label, sizeof label, "drop %s", what);
  CHECK(label, drop_effective(caps));
  int other = open("other", O_RDONLY);
  char tag[64];
  snprintf(tag, sizeof tag, "other's file without %s", what);
  /* The changes that need ownership first, before a chown may make it root's. */
  chmod_forms(tag, other, 0640);
  utime_forms(tag, other);
  chown_forms(tag, other, 0, 0);
  chown_forms(tag, other, -1, 1000);
}

int main(void) {
  umask(022);
  chmod(".", 0755); /* the work directory: enterable by uid 1000 */
  put_file("mine", "mine", 0644);
  chown("mine", 1000, 1000);
  put_file("root644", "public", 0644);
  put_file("root600", "secret", 0600);
  put_file("root666", "shared", 0666);
  symlink("root644", "rootlink");
  mkdir("rootdir", 0755);
  put_file("other", "other", 0644);
  chown("other", 1000, 1000);

  pid_t pid = fork();
  if (pid == 0) {
    as_user();
    _exit(0);
  }
  say_wait("user child", pid);

  reset_other();
  pid = fork();
  if (pid == 0) {
    as_root_without("CAP_FOWNER", 1ULL << CAP_FOWNER);
    _exit(0);
  }
  say_wait("root without CAP_FOWNER", pid);
  show("other after no FOWNER", "other", 0);

  reset_other();
  pid = fork();
  if (pid == 0) {
    as_root_without("CAP_CHOWN", 1ULL << CAP_CHOWN);
    _exit(0);
  }
  say_wait("root without CAP_CHOWN", pid);
  show("other after no CHOWN", "other", 0);

  reset_other();
  pid = fork();
  if (pid == 0) {
    as_root_without("nothing", 0);
    _exit(0);
  }
  say_wait("root with all", pid);
  show("other after root", "other", 0);

  show("root644 after", "root644", 0);
  show("root600 after", "root600", 0);
  show("root666 after", "root666", 0);
  show("rootlink after", "rootlink", 0);
  show("rootdir after", "rootdir", 0);
  show_times("root644 times", "root644");
  show_times("root600 times", "root600");
  return 0;
}
