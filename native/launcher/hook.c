/* `hook` mode: run one OCI hook in a sandbox's namespaces.
 *
 *   hook --mntns-of PID --ns-of PID [--userns] -- PATH ARGV0 ARGS...
 *
 * Joins the mount namespace of --mntns-of (which also makes its root our root
 * and cwd), and the uts, ipc, net, cgroup and pid namespaces of --ns-of (with
 * --userns its user namespace too, last: joining it first would leave no
 * capability over the host-owned namespaces still to join). A namespace we
 * are in already is skipped. Then forks, so that the hook is in the pid
 * namespace, and execs PATH as ARGV0 ARGS... with our stdio and environment
 * (the state JSON is on stdin). Exits with the hook's status; a hook killed
 * by a signal kills us with it, so the caller sees the same.
 *
 * Node cannot do this itself: setns(CLONE_NEWNS) is refused to a process
 * with threads.
 */
#define _GNU_SOURCE
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

struct ns_kind {
  const char *name;
  int flag;
};

/* The order they are joined in: user last (see above). */
static const struct ns_kind OTHER_NAMESPACES[] = {
    {"uts", CLONE_NEWUTS}, {"ipc", CLONE_NEWIPC}, {"net", CLONE_NEWNET}, {"cgroup", CLONE_NEWCGROUP}, {"pid", CLONE_NEWPID},
};

/* An fd of PID's namespace NAME, or -1 when it is ours already. */
static int open_namespace(const char *pid, const char *name) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%s/ns/%s", pid, name);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die_errno("open %s", path);
  char own[64];
  snprintf(own, sizeof own, "/proc/self/ns/%s", name);
  struct stat theirs, ours;
  if (fstat(fd, &theirs) < 0) die_errno("stat %s", path);
  if (stat(own, &ours) == 0 && ours.st_dev == theirs.st_dev && ours.st_ino == theirs.st_ino) {
    close(fd);
    return -1;
  }
  return fd;
}

static void join(int fd, int flag, const char *name) {
  if (fd < 0) return;
  if (setns(fd, flag) < 0) die_errno("setns(%s)", name);
  close(fd);
}

static const char *pid_arg(const char *opt, const char *v) {
  if (!*v || strspn(v, "0123456789") != strlen(v)) die("%s: not a pid: %s", opt, v);
  return v;
}

int hook_main(int argc, char **argv) {
  const char *mntns_of = NULL, *ns_of = NULL;
  int with_userns = 0;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (strcmp(argv[i], "--userns") == 0) { with_userns = 1; continue; }
    if (i + 1 >= argc) die("option %s needs a value", argv[i]);
    if (strcmp(argv[i], "--mntns-of") == 0) mntns_of = pid_arg(argv[i], argv[i + 1]);
    else if (strcmp(argv[i], "--ns-of") == 0) ns_of = pid_arg(argv[i], argv[i + 1]);
    else die("unknown option %s", argv[i]);
    i++;
  }
  if (!mntns_of || !ns_of || argc - i < 2) die("usage: hook --mntns-of PID --ns-of PID [--userns] -- PATH ARGV0 ARGS...");
  const char *path = argv[i];
  char **hook_argv = argv + i + 1;

  /* Every fd first: once in the new mount namespace, /proc is another one. */
  int mnt = open_namespace(mntns_of, "mnt");
  int others[sizeof OTHER_NAMESPACES / sizeof *OTHER_NAMESPACES];
  for (size_t k = 0; k < sizeof OTHER_NAMESPACES / sizeof *OTHER_NAMESPACES; k++)
    others[k] = open_namespace(ns_of, OTHER_NAMESPACES[k].name);
  int user = with_userns ? open_namespace(ns_of, "user") : -1;

  join(mnt, CLONE_NEWNS, "mnt");
  for (size_t k = 0; k < sizeof OTHER_NAMESPACES / sizeof *OTHER_NAMESPACES; k++)
    join(others[k], OTHER_NAMESPACES[k].flag, OTHER_NAMESPACES[k].name);
  join(user, CLONE_NEWUSER, "user");
  /* A startContainer hook runs as the container's root, as runc's do. */
  if (with_userns) become_namespace_root();

  /* The caller's timeout kills us: the hook must not outlive that. */
  pid_t child = fork();
  if (child < 0) die_errno("fork");
  if (child == 0) {
    if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno("prctl(PR_SET_PDEATHSIG)");
    execv(path, hook_argv);
    die_errno("exec %s", path);
  }
  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) die_errno("waitpid");
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  int sig = WTERMSIG(status);
  signal(sig, SIG_DFL);
  raise(sig);
  return 128 + sig;
}
