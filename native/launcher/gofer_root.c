/* `gofer` mode: build the sandbox's root tree in a private mount namespace and
 * exec the gofer into it. Nothing here is visible on the host; the tree goes
 * away with the last process of the namespace (the gofer and the sandbox).
 *
 * STATE/layer   tmpfs holding the overlay's upper and work dirs (throwaway)
 * STATE/merged  overlay: lower = --lower (read-only), upper in STATE/layer
 * merged/tmp    a fresh tmpfs
 * merged/dev    a tmpfs with null, zero, full, random, urandom, tty bound from
 *               the host and the fd/stdin/stdout/stderr links
 * merged/sys    a small read-only tmpfs: CPU counts and empty class folders
 */
#define _GNU_SOURCE
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

/* dst = a + "/" + b, or die: a truncated path would mount in the wrong place. */
static void join(char *dst, size_t cap, const char *a, const char *b) {
  if ((size_t)snprintf(dst, cap, "%s/%s", a, b) >= cap) die("path too long: %s/%s", a, b);
}

static void mount_or_die(const char *src, const char *dst, const char *type, unsigned long flags, const char *data) {
  if (mount(src, dst, type, flags, data) < 0) die_errno("mount %s on %s", type ? type : (src ? src : "(bind)"), dst);
}

static void bind_device(const char *dev_dir, const char *name) {
  char host[256], target[4096];
  join(host, sizeof host, "/dev", name);
  join(target, sizeof target, dev_dir, name);
  struct stat st;
  if (stat(host, &st) < 0) return; /* the host lacks it (a tty-less run has no /dev/tty user): skip */
  int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0666);
  if (fd < 0) die_errno("create %s", target);
  close(fd);
  mount_or_die(host, target, NULL, MS_BIND, NULL);
  mount_or_die(NULL, target, NULL, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC, NULL);
}

/* The program's terminal, when its stdio is one: bound at the same name
 * (/dev/pts/N) so that ttyname() and `tty` find it, as they do natively. */
static void bind_terminal(const char *dev_dir, const char *tty) {
  struct stat st;
  if (strncmp(tty, "/dev/pts/", 9) != 0 || strchr(tty + 9, '/') || stat(tty, &st) < 0 || !S_ISCHR(st.st_mode))
    die("--tty %s: not a terminal under /dev/pts", tty);
  char target[4096];
  join(target, sizeof target, dev_dir, tty + 5); /* "pts/N" */
  int fd = open(target, O_CREAT | O_WRONLY | O_CLOEXEC, 0620);
  if (fd < 0) die_errno("create %s", target);
  close(fd);
  mount_or_die(tty, target, NULL, MS_BIND, NULL);
}

static void make_dev(const char *merged, char *const *ttys, int nttys) {
  char dev[4096], path[4096];
  join(dev, sizeof dev, merged, "dev");
  mkdir_p(dev, 0755);
  mount_or_die("tsvisor-dev", dev, "tmpfs", MS_NOSUID | MS_NOEXEC, "mode=755,size=64k");
  static const char *devices[] = {"null", "zero", "full", "random", "urandom", "tty"};
  for (size_t i = 0; i < sizeof devices / sizeof *devices; i++) bind_device(dev, devices[i]);
  static const char *links[][2] = {
      {"fd", "/proc/self/fd"}, {"stdin", "/proc/self/fd/0"}, {"stdout", "/proc/self/fd/1"},
      {"stderr", "/proc/self/fd/2"}};
  for (size_t i = 0; i < sizeof links / sizeof *links; i++) {
    join(path, sizeof path, dev, links[i][0]);
    if (symlink(links[i][1], path) < 0) die_errno("symlink %s", path);
  }
  join(path, sizeof path, dev, "shm");
  mkdir_p(path, 01777);
  mount_or_die("tsvisor-shm", path, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  join(path, sizeof path, dev, "pts");
  mkdir_p(path, 0755);
  for (int i = 0; i < nttys; i++) bind_terminal(dev, ttys[i]);
}

/* Copies a small host file (a sysfs attribute) into the sandbox's /sys. */
static void copy_small_file(const char *from, const char *to) {
  char buf[4096];
  int in = open(from, O_RDONLY | O_CLOEXEC);
  if (in < 0) return; /* the host lacks it: so does the sandbox */
  ssize_t n = read(in, buf, sizeof buf);
  close(in);
  if (n < 0) return;
  int out = open(to, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0444);
  if (out < 0) die_errno("create %s", to);
  if (write(out, buf, (size_t)n) != n) die_errno("write %s", to);
  close(out);
}

/* A minimal, read-only /sys: what programs read to size themselves (the
 * CPUs online, possible and present), and empty cgroup and class folders. */
static void make_sys(const char *merged) {
  char sys[4096], cpu[4096], path[4096], host[4096];
  join(sys, sizeof sys, merged, "sys");
  mkdir_p(sys, 0555);
  mount_or_die("tsvisor-sys", sys, "tmpfs", MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=555,size=64k");
  join(cpu, sizeof cpu, sys, "devices/system/cpu");
  mkdir_p(cpu, 0755);
  static const char *cpu_files[] = {"online", "possible", "present", "kernel_max"};
  for (size_t i = 0; i < sizeof cpu_files / sizeof *cpu_files; i++) {
    join(host, sizeof host, "/sys/devices/system/cpu", cpu_files[i]);
    join(path, sizeof path, cpu, cpu_files[i]);
    copy_small_file(host, path);
  }
  static const char *dirs[] = {"fs/cgroup", "class", "kernel", "bus", "dev"};
  for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++) {
    join(path, sizeof path, sys, dirs[i]);
    mkdir_p(path, 0755);
  }
  mount_or_die(NULL, sys, NULL, MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, "mode=555");
}

int gofer_root_main(int argc, char **argv) {
  const char *lower = NULL, *state = NULL;
  int ready_fd = -1;
  char *ttys[3];
  int nttys = 0;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (i + 1 >= argc) die("option %s needs a value", argv[i]);
    if (strcmp(argv[i], "--lower") == 0) lower = argv[++i];
    else if (strcmp(argv[i], "--state") == 0) state = argv[++i];
    else if (strcmp(argv[i], "--ready-fd") == 0) ready_fd = atoi(argv[++i]);
    else if (strcmp(argv[i], "--tty") == 0) {
      if (nttys == 3) die("at most three --tty");
      ttys[nttys++] = argv[++i];
    }
    else die("unknown option %s", argv[i]);
  }
  if (!lower || !state || i >= argc) die("usage: gofer --lower DIR --state DIR [--ready-fd N] [--tty /dev/pts/N]... -- CMD...");

  die_with_parent();
  if (unshare(CLONE_NEWNS) < 0) die_errno("unshare(CLONE_NEWNS)");
  /* Nothing we mount may reach the host, and host mount events need not reach us. */
  mount_or_die(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL);

  char layer[4096], upper[4096], work[4096], merged[4096], opts[12288], tmp[4096];
  join(layer, sizeof layer, state, "layer");
  join(upper, sizeof upper, layer, "upper");
  join(work, sizeof work, layer, "work");
  join(merged, sizeof merged, state, "merged");
  mkdir_p(layer, 0700);
  mkdir_p(merged, 0755);
  mount_or_die("tsvisor-layer", layer, "tmpfs", MS_NOSUID, "mode=700");
  mkdir_p(upper, 0755);
  mkdir_p(work, 0700);
  /* The root's own mode and owner show through from the lower layer. */
  struct stat lst;
  if (stat(lower, &lst) < 0) die_errno("stat %s", lower);
  if (!S_ISDIR(lst.st_mode)) die("%s is not a directory", lower);
  chmod(upper, lst.st_mode & 07777);
  if (chown(upper, lst.st_uid, lst.st_gid) < 0) die_errno("chown %s", upper);
  if (snprintf(opts, sizeof opts, "lowerdir=%s,upperdir=%s,workdir=%s", lower, upper, work) >= (int)sizeof opts)
    die("overlay options too long");
  mount_or_die("tsvisor-root", merged, "overlay", 0, opts);

  join(tmp, sizeof tmp, merged, "tmp");
  mkdir_p(tmp, 01777);
  mount_or_die("tsvisor-tmp", tmp, "tmpfs", MS_NOSUID | MS_NODEV, "mode=1777");
  make_dev(merged, ttys, nttys);
  make_sys(merged);
  join(tmp, sizeof tmp, merged, "proc");
  mkdir_p(tmp, 0555);

  /* The tree is ready: the sandbox may start while the gofer itself boots. */
  if (ready_fd >= 0) {
    if (write(ready_fd, "r", 1) != 1) die_errno("signal readiness");
    close(ready_fd);
  }
  execvp(argv[i], argv + i);
  die_errno("exec %s", argv[i]);
}
