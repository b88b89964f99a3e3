/* `app` mode: start the sandbox's first process, the second wall.
 *
 * The launcher joins the gofer's mount namespace (where the sandbox root is
 * mounted), then clones a child into fresh user, mount, pid, ipc, uts, cgroup
 * and (with --net none) net namespaces. The launcher stays outside as the
 * child's parent: it writes the id maps, reports the child's host pid, and
 * waits, exiting with the child's status. The child (pid 1 of the sandbox):
 *   mounts the sandbox's own procfs, pivot_roots into the root, sets
 *   no_new_privs, installs the sentry's filter with a new listener, waits for
 *   the sentry to take the listener (by pidfd_getfd), closes it, and execs.
 * Both die with their parent (PR_SET_PDEATHSIG): if tsvisor dies, the
 * launcher dies, pid 1 dies, and the kernel kills the rest of the namespace.
 *
 * Control messages on fd 3 (SOCK_SEQPACKET to the sentry):
 *   <- FILT  the BPF program (struct sock_filter[])
 *   -> HPID  the child's pid on the host (launcher); with --init yes the
 *            program is that child's only child, pid 2 of the sandbox
 *   -> PROC  an O_PATH fd of the sandbox's procfs (child)
 *   -> LSTN  the fd number the listener will get (child, before seccomp())
 *   -> TRAC  instead of LSTN with --platform ptrace: trace me (the program's
 *            process, before seccomp() with SECCOMP_RET_TRACE and no listener)
 *   <- GOGO  the sentry holds the listener (or traces the program): exec
 */
#define _GNU_SOURCE
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <net/if.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_CGROUPS 8
#define MAX_SYSCTLS 256
#define MAX_MQUEUES 16

struct jail_opts {
  const char *mntns_of, *root, *cwd, *hostname;
  /* --terminal: the program's controlling terminal, a path in the sandbox. */
  const char *terminal;
  /* One cgroup.procs file per controller tsvisor limits (memory, pids). */
  const char *cgroup_procs[MAX_CGROUPS];
  int n_cgroups;
  int new_net;
  int with_init;
  /* --platform ptrace: the filter traps with SECCOMP_RET_TRACE and makes no listener. */
  int traced;
  /* OCI: the exec helper's sockets, the start gate, the program's ids (-1: none). */
  int exec_fd, exec_report_fd, start_fd;
  /* --net-ready-fd: the child's host pid goes out here, and it is held until a
   * byte comes back (tsvisor configures its network namespace meanwhile). */
  int net_ready_fd;
  /* --root-ready-fd: the gofer launcher's readiness (one byte once the
   * sandbox's root is mounted, EOF if it failed), awaited before joining
   * its mount namespace: tsvisor starts both at once. */
  int root_ready_fd;
  const char *user;
  /* OCI process.capabilities: bounding, effective, permitted, inheritable,
   * ambient, as bit masks (--caps B:E:P:I:A in hex); has_caps 0: not given. */
  int has_caps;
  unsigned long long caps[CAPS_SETS];
  /* OCI linux.seccomp: the profile's fd and seccomp(2) flags (-1: none). */
  int seccomp_fd;
  unsigned int seccomp_flags;
  /* OCI linux.sysctl: KEY=VALUE, written in the sandbox's namespaces. */
  const char *sysctls[MAX_SYSCTLS];
  int n_sysctls;
  /* OCI mqueue mounts: where each goes (the gofer launcher made the place). */
  const char *mqueues[MAX_MQUEUES];
  int n_mqueues;
  /* OCI linux.uidMappings / gidMappings as uid_map / gid_map text
   * ("NS HOST SIZE" lines); empty: the one-to-one map. */
  char uid_map[ID_MAP_TEXT], gid_map[ID_MAP_TEXT];
  char **argv;
};


/* --uid-map / --gid-map NS:HOST:SIZE[,NS:HOST:SIZE...] into uid_map text,
 * checked as the kernel checks it (so that a bad map is a clear message, not
 * an EINVAL from the write): at most 340 ranges, sizes of at least 1, both
 * sides within u32, no two ranges overlapping on either side. */
void parse_id_map(const char *opt, const char *v, char *text) {
  unsigned long long ns[MAX_ID_RANGES], host[MAX_ID_RANGES], size[MAX_ID_RANGES];
  int n = 0;
  size_t used = 0;
  const char *p = v;
  for (;;) {
    if (n == MAX_ID_RANGES) die("%s: more than %d ranges", opt, MAX_ID_RANGES);
    unsigned long long f[3];
    for (int k = 0; k < 3; k++) {
      char *end;
      if (*p < '0' || *p > '9') die("%s %s: expected NS:HOST:SIZE[,...]", opt, v);
      errno = 0;
      f[k] = strtoull(p, &end, 10);
      if (errno || f[k] > 0xffffffffULL) die("%s %s: not a 32-bit id", opt, v);
      p = end;
      if (k < 2 && *p++ != ':') die("%s %s: expected NS:HOST:SIZE[,...]", opt, v);
    }
    if (f[2] == 0) die("%s %s: a range of size 0", opt, v);
    if (f[0] + f[2] > 0x100000000ULL || f[1] + f[2] > 0x100000000ULL) die("%s %s: a range runs past 4294967295", opt, v);
    for (int k = 0; k < n; k++) {
      if (f[0] < ns[k] + size[k] && ns[k] < f[0] + f[2]) die("%s %s: ranges overlap inside", opt, v);
      if (f[1] < host[k] + size[k] && host[k] < f[1] + f[2]) die("%s %s: ranges overlap on the host", opt, v);
    }
    ns[n] = f[0], host[n] = f[1], size[n] = f[2];
    n++;
    int w = snprintf(text + used, ID_MAP_TEXT - used, "%llu %llu %llu\n", f[0], f[1], f[2]);
    if (w < 0 || (size_t)w >= ID_MAP_TEXT - used) die("%s: the map is longer than the kernel takes", opt);
    used += (size_t)w;
    if (*p == '\0') break;
    if (*p++ != ',') die("%s %s: expected NS:HOST:SIZE[,...]", opt, v);
  }
}

static void parse(int argc, char **argv, struct jail_opts *o) {
  memset(o, 0, sizeof *o);
  o->new_net = 1;
  o->exec_fd = o->exec_report_fd = o->start_fd = o->net_ready_fd = o->root_ready_fd = o->seccomp_fd = -1;
  int i = 1;
  for (; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) { i++; break; }
    if (i + 1 >= argc) die("option %s needs a value", argv[i]);
    const char *v = argv[++i];
    if (strcmp(argv[i - 1], "--mntns-of") == 0) o->mntns_of = v;
    else if (strcmp(argv[i - 1], "--root") == 0) o->root = v;
    else if (strcmp(argv[i - 1], "--cwd") == 0) o->cwd = v;
    else if (strcmp(argv[i - 1], "--hostname") == 0) o->hostname = v;
    else if (strcmp(argv[i - 1], "--exec-fd") == 0) o->exec_fd = fd_option(argv[i - 1], v, CONTROL_FD + 1);
    else if (strcmp(argv[i - 1], "--exec-report-fd") == 0) o->exec_report_fd = fd_option(argv[i - 1], v, CONTROL_FD + 1);
    else if (strcmp(argv[i - 1], "--start-fd") == 0) o->start_fd = fd_option(argv[i - 1], v, CONTROL_FD + 1);
    else if (strcmp(argv[i - 1], "--net-ready-fd") == 0) o->net_ready_fd = fd_option(argv[i - 1], v, CONTROL_FD + 1);
    else if (strcmp(argv[i - 1], "--root-ready-fd") == 0) o->root_ready_fd = fd_option(argv[i - 1], v, CONTROL_FD + 1);
    else if (strcmp(argv[i - 1], "--user") == 0) o->user = v;
    else if (strcmp(argv[i - 1], "--uid-map") == 0) parse_id_map("--uid-map", v, o->uid_map);
    else if (strcmp(argv[i - 1], "--gid-map") == 0) parse_id_map("--gid-map", v, o->gid_map);
    else if (strcmp(argv[i - 1], "--seccomp-fd") == 0) o->seccomp_fd = fd_option(argv[i - 1], v, CONTROL_FD + 1);
    else if (strcmp(argv[i - 1], "--seccomp-flags") == 0) o->seccomp_flags = (unsigned int)strtoul(v, NULL, 10);
    else if (strcmp(argv[i - 1], "--mqueue") == 0) {
      if (o->n_mqueues == MAX_MQUEUES) die("at most %d --mqueue", MAX_MQUEUES);
      o->mqueues[o->n_mqueues++] = v;
    }
    else if (strcmp(argv[i - 1], "--sysctl") == 0) {
      if (o->n_sysctls == MAX_SYSCTLS) die("at most %d --sysctl", MAX_SYSCTLS);
      if (!strchr(v, '=') || *v == '=') die("--sysctl %s: expected KEY=VALUE", v);
      o->sysctls[o->n_sysctls++] = v;
    }
    else if (strcmp(argv[i - 1], "--caps") == 0) {
      if (caps_parse(v, o->caps) < 0) die("--caps %s: expected five hex masks B:E:P:I:A", v);
      o->has_caps = 1;
    }
    else if (strcmp(argv[i - 1], "--terminal") == 0) {
      if (strncmp(v, "/dev/pts/", 9) != 0 || !v[9] || strspn(v + 9, "0123456789") != strlen(v + 9))
        die("--terminal must be /dev/pts/N, not %s", v);
      o->terminal = v;
    }
    else if (strcmp(argv[i - 1], "--cgroup-procs") == 0) {
      if (o->n_cgroups == MAX_CGROUPS) die("at most %d --cgroup-procs", MAX_CGROUPS);
      o->cgroup_procs[o->n_cgroups++] = v;
    }
    else if (strcmp(argv[i - 1], "--init") == 0) {
      if (strcmp(v, "yes") == 0) o->with_init = 1;
      else if (strcmp(v, "no") == 0) o->with_init = 0;
      else die("--init must be yes or no, not %s", v);
    }
    else if (strcmp(argv[i - 1], "--platform") == 0) {
      if (strcmp(v, "ptrace") == 0) o->traced = 1;
      else if (strcmp(v, "seccomp") == 0) o->traced = 0;
      else die("--platform must be seccomp or ptrace, not %s", v);
    }
    else if (strcmp(argv[i - 1], "--net") == 0) {
      if (strcmp(v, "none") == 0) o->new_net = 1;
      else if (strcmp(v, "host") == 0) o->new_net = 0;
      else die("--net must be none or host, not %s", v);
    } else die("unknown option %s", argv[i - 1]);
  }
  if ((o->uid_map[0] == '\0') != (o->gid_map[0] == '\0')) die("--uid-map and --gid-map go together");
  if (!o->mntns_of || !o->root || i >= argc)
    die("usage: app --mntns-of PID --root DIR [--cwd DIR] [--net none|host] [--init yes|no] "
        "[--platform seccomp|ptrace] [--cgroup-procs FILE]... [--mqueue DST]... [--terminal /dev/pts/N] -- CMD...");
  o->argv = argv + i;
}

static void loopback_up(void) {
  int s = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (s < 0) die_errno("socket for lo");
  struct ifreq ifr;
  memset(&ifr, 0, sizeof ifr);
  strcpy(ifr.ifr_name, "lo");
  if (ioctl(s, SIOCGIFFLAGS, &ifr) < 0) die_errno("SIOCGIFFLAGS lo");
  ifr.ifr_flags |= IFF_UP | IFF_RUNNING;
  if (ioctl(s, SIOCSIFFLAGS, &ifr) < 0) die_errno("SIOCSIFFLAGS lo");
  close(s);
}

/* Defense in depth, as runc does: the sentry already refuses these names, but
 * the host kernel's view of the sandbox should not offer them either. */
static void mask_proc(const char *root) {
  static const char *masked[] = {"kcore", "keys", "latency_stats", "timer_list", "sched_debug", "kmsg", "sysrq-trigger"};
  static const char *read_only[] = {"sys", "bus", "fs", "irq"};
  char null_dev[4096], path[4096];
  if (snprintf(null_dev, sizeof null_dev, "%s/dev/null", root) >= (int)sizeof null_dev) die("root path too long");
  for (size_t i = 0; i < sizeof masked / sizeof *masked; i++) {
    if (snprintf(path, sizeof path, "%s/proc/%s", root, masked[i]) >= (int)sizeof path) die("root path too long");
    if (access(path, F_OK) < 0) continue;
    if (mount(null_dev, path, NULL, MS_BIND, NULL) < 0) die_errno("mask %s", path);
  }
  for (size_t i = 0; i < sizeof read_only / sizeof *read_only; i++) {
    if (snprintf(path, sizeof path, "%s/proc/%s", root, read_only[i]) >= (int)sizeof path) die("root path too long");
    if (access(path, F_OK) < 0) continue;
    if (mount(path, path, NULL, MS_BIND | MS_REC, NULL) < 0) die_errno("bind %s", path);
    if (mount(NULL, path, NULL, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0)
      die_errno("make %s read-only", path);
  }
}

static void enter_root(const struct jail_opts *o) {
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) die_errno("make / private");
  /* The root tree was mounted in the gofer's namespace, so in ours (owned by
   * the new user namespace) it is locked: pivot_root refuses a locked mount.
   * A bind of it made here is ours, and can become the root. */
  if (mount(o->root, o->root, NULL, MS_BIND | MS_REC, NULL) < 0) die_errno("bind the sandbox root");
  char proc[4096];
  snprintf(proc, sizeof proc, "%s/proc", o->root);
  /* This procfs belongs to the new pid namespace: the sentry reads the
   * sandbox's processes through it, with the sandbox's pid numbers. */
  if (mount("proc", proc, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL) < 0) die_errno("mount proc");
  mask_proc(o->root);
  /* Our ipc namespace's message queues, in our mount namespace: what the
   * sentry's mount table and /proc/self/mountinfo show. */
  for (int i = 0; i < o->n_mqueues; i++) mount_mqueue(o->root, o->mqueues[i]);
  if (chdir(o->root) < 0) die_errno("chdir %s", o->root);
  if (syscall(SYS_pivot_root, ".", ".") < 0) die_errno("pivot_root");
  if (umount2(".", MNT_DETACH) < 0) die_errno("detach the old root");
  if (chdir("/") < 0) die_errno("chdir /");
  if (o->cwd && chdir(o->cwd) < 0 && chdir("/") < 0) die_errno("chdir /");
}

/* --user UID:GID[:G1,G2...]: the program's ids, set after the exec helper
 * (which stays root) left. Under the filter: the sentry sees them. */
static void set_user(const char *spec) {
  char *end;
  unsigned long uid = strtoul(spec, &end, 10);
  if (*end != ':') die("--user %s: expected UID:GID[:GROUPS]", spec);
  unsigned long gid = strtoul(end + 1, &end, 10);
  gid_t groups[64];
  size_t n = 0;
  while (*end == ':' || *end == ',') {
    if (n == 64) die("--user %s: too many groups", spec);
    groups[n++] = (gid_t)strtoul(end + 1, &end, 10);
  }
  if (*end) die("--user %s: expected UID:GID[:GROUPS]", spec);
  if (setgroups(n, groups) < 0) die_errno("setgroups");
  if (setresgid((gid_t)gid, (gid_t)gid, (gid_t)gid) < 0) die_errno("setgid %lu", gid);
  if (setresuid((uid_t)uid, (uid_t)uid, (uid_t)uid) < 0) die_errno("setuid %lu", uid);
}

/* OCI: between the sentry's GOGO and the exec. The exec helper forks from
 * here (under the filter, still root, all capabilities); the program waits
 * for `start`. */
static void before_exec(const struct jail_opts *o) {
  if (o->exec_fd >= 0) start_exec_helper(o->exec_fd, o->exec_report_fd);
  if (o->has_caps && caps_before_ids(o->caps, o->user != NULL) < 0) die_errno("process.capabilities: the bounding set");
  if (o->user) set_user(o->user);
  if (o->has_caps && caps_after_ids(o->caps) < 0) die_errno("process.capabilities");
  if (o->start_fd < 0) return;
  char go;
  ssize_t n;
  do n = read(o->start_fd, &go, 1);
  while (n < 0 && errno == EINTR);
  /* EOF: tsvisor went away (or the container is deleted) before start. */
  if (n != 1) _exit(LAUNCHER_FAIL);
}

/* The signals the launcher and the sandbox's init pass on. They are blocked
 * from before the clone until each of the two has its handler: one that
 * comes meanwhile (tsvisor forwards a SIGTERM as soon as it gets one, and the
 * launcher starts beside the gofer) then waits instead of being lost, as an
 * init's default disposition would drop it. */
static const int FORWARDED_SIGNALS[] = {SIGTERM, SIGHUP, SIGINT, SIGQUIT, SIGUSR1, SIGUSR2};
static sigset_t mask_before_clone;

static void block_forwarded_signals(void) {
  sigset_t set;
  sigemptyset(&set);
  for (size_t i = 0; i < sizeof FORWARDED_SIGNALS / sizeof *FORWARDED_SIGNALS; i++) sigaddset(&set, FORWARDED_SIGNALS[i]);
  if (sigprocmask(SIG_BLOCK, &set, &mask_before_clone) < 0) die_errno("sigprocmask");
}

static void unblock_forwarded_signals(void) {
  if (sigprocmask(SIG_SETMASK, &mask_before_clone, NULL) < 0) die_errno("sigprocmask");
}

static __attribute__((noreturn)) void exec_program(const struct jail_opts *o) {
  if (seccomp_profile_install() < 0) die_errno("linux.seccomp: install the profile");
  execvp(o->argv[0], o->argv);
  int err = errno;
  fprintf(stderr, "tsvisor: %s: %s\n", o->argv[0], strerror(err));
  _exit(err == ENOENT ? 127 : 126);
}

static void install_filter_and_exec(const struct jail_opts *o) {
  /* The program's process: what was sent to it waits no longer (pid 2 under
   * an init dies of a SIGTERM as natively; as pid 1 it ignores it, as natively). */
  unblock_forwarded_signals();
  static struct sock_filter insns[BPF_MAXINSNS];
  size_t len = control_recv("FILT", insns, sizeof insns);
  if (len == 0 || len % sizeof(struct sock_filter) != 0) die("bad filter from the sentry");
  struct sock_fprog prog = {(unsigned short)(len / sizeof(struct sock_filter)), insns};

  /* Before the filter: setsid and TIOCSCTTY are ours to make, not the program's. */
  if (o->terminal) take_terminal(o->terminal);
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die_errno("PR_SET_NO_NEW_PRIVS");
  if (o->traced) {
    /* The sentry seizes us (PTRACE_SEIZE) on TRAC and answers GOGO once it
     * traces us: the program's first instruction runs traced. Both go
     * before the filter: once it is on, a trapped syscall made while no
     * tracer is attached fails with ENOSYS, and with --strict the receive
     * of GOGO is trapped too. */
    control_send("TRAC", "", 0, -1);
    char go[8];
    control_recv("GOGO", go, sizeof go);
    if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) die_errno("seccomp(SECCOMP_SET_MODE_FILTER)");
    before_exec(o);
    syscall(SYS_close_range, 3, ~0U, 0);
    exec_program(o);
  }
  /* The listener takes the lowest free fd: tell the sentry which, so it can
   * fetch it with pidfd_getfd. Once the filter is on, every trapped syscall of
   * ours waits for the sentry, which is why it must not depend on us to get it. */
  int probe = fcntl(CONTROL_FD, F_DUPFD_CLOEXEC, 0);
  if (probe < 0) die_errno("probe fd");
  close(probe);
  char num[16];
  int n = snprintf(num, sizeof num, "%d", probe);
  control_send("LSTN", num, (size_t)n, -1);
  /* WAIT_KILLABLE_RECV: once the sentry has received a trap, only a fatal
   * signal ends the wait. Otherwise a signal caught by a handler without
   * SA_RESTART would make the call fail with EINTR while the sentry works
   * on it: kill(), stat(), open() of a file, calls Linux never interrupts. */
  int listener = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER,
                              SECCOMP_FILTER_FLAG_NEW_LISTENER | SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV, &prog);
  if (listener < 0) die_errno("seccomp(SECCOMP_SET_MODE_FILTER)");
  if (listener != probe) die("listener fd %d, announced %d", listener, probe);
  char go[8];
  control_recv("GOGO", go, sizeof go);
  close(listener);
  before_exec(o);
  /* Only stdio crosses into the program. */
  syscall(SYS_close_range, 3, ~0U, 0);
  exec_program(o);
}

static pid_t init_app_pid;

static void init_forward(int sig) {
  if (init_app_pid > 0) kill(init_app_pid, sig);
}

/* pid 1 of the sandbox when the program must not be pid 1 (tsvisor do): a
 * real init that reaps orphans, passes on the signals it is sent from
 * outside, and ends the sandbox with the program's status. It is our code,
 * outside the sentry's filter, and holds nothing the program could use. */
/* The launcher's command line (argv[0] to the end of the last argument),
 * which pid 1 inherits: it names host paths (the state folder, the gofer's
 * pid), so init writes its own name over it. */
static char *arg_area;
static size_t arg_area_len;

void remember_arg_area(int argc, char **argv) {
  arg_area = argv[0];
  arg_area_len = (size_t)(argv[argc - 1] + strlen(argv[argc - 1]) - argv[0]);
}

void rename_process(const char *name) {
  size_t size = strlen(name) + 1;
  if (prctl(PR_SET_NAME, name) < 0) die_errno("prctl(PR_SET_NAME)");
  if (arg_area_len < size) return;
  memset(arg_area, 0, arg_area_len + 1);
  memcpy(arg_area, name, size);
  /* A last byte that is not NUL makes /proc/1/cmdline end at the first NUL
   * (the kernel's setproctitle() rule), not run on over the zeroed rest. */
  arg_area[arg_area_len] = ' ';
}

/* The OCI fds belong to the program's process and the exec helper only. */
static void close_oci_fds(const struct jail_opts *o) {
  if (o->exec_fd >= 0) close(o->exec_fd);
  if (o->exec_report_fd >= 0) close(o->exec_report_fd);
  if (o->start_fd >= 0) close(o->start_fd);
}

static __attribute__((noreturn)) void run_init(pid_t app, const struct jail_opts *o) {
  init_app_pid = app;
  close(CONTROL_FD);
  close_oci_fds(o);
  rename_process("tsvisor-init");
  /* Not dumpable: its memory and fds are out of the program's reach even
   * though both are root in the sandbox's user namespace. */
  if (prctl(PR_SET_DUMPABLE, 0) < 0) die_errno("prctl(PR_SET_DUMPABLE)");
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = init_forward;
  for (size_t i = 0; i < sizeof FORWARDED_SIGNALS / sizeof *FORWARDED_SIGNALS; i++) sigaction(FORWARDED_SIGNALS[i], &sa, NULL);
  unblock_forwarded_signals();
  for (;;) {
    int status;
    pid_t r = waitpid(-1, &status, 0);
    if (r < 0) {
      if (errno == EINTR) continue;
      _exit(LAUNCHER_FAIL);
    }
    if (r != app) continue; /* an orphan, reaped */
    if (WIFEXITED(status)) _exit(WEXITSTATUS(status));
    if (WIFSIGNALED(status)) _exit(128 + WTERMSIG(status));
  }
}

/* OCI linux.sysctl, as runc writes it: KEY with its dots as slashes under
 * /proc/sys. The kernel picks the namespace by the writer, so net.* land in
 * our network namespace and the ipc keys in our ipc namespace (the parser
 * admits no other kind). Dots becoming slashes leave no ".." to climb out. */
static void apply_sysctls(const struct jail_opts *o) {
  for (int i = 0; i < o->n_sysctls; i++) {
    const char *kv = o->sysctls[i], *eq = strchr(kv, '=');
    char path[4096];
    int n = snprintf(path, sizeof path, "/proc/sys/%.*s", (int)(eq - kv), kv);
    if (n < 0 || n >= (int)sizeof path) die("linux.sysctl: key too long");
    for (char *c = path + 10; *c; c++) if (*c == '.') *c = '/';
    int fd = open(path, O_WRONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) die_errno("linux.sysctl %.*s", (int)(eq - kv), kv);
    size_t len = strlen(eq + 1);
    if (write(fd, eq + 1, len) != (ssize_t)len) die_errno("linux.sysctl %.*s = %s", (int)(eq - kv), kv, eq + 1);
    close(fd);
  }
}

/* With a spec's id maps, the host root we still are after the clone (and
 * the pivot_root) is not the namespace's root (it shows as 65534 inside,
 * and owns files as host root): become the namespace's root, as runc's init
 * does, so that pid 1, the program and the exec helper run as the host ids
 * the map gives. With the one-to-one map we are root already and nothing
 * changes. A map without a root leaves us as we are (the program's --user
 * ids come later). */
void become_namespace_root(void) {
  if (getuid() == 0) return;
  if (setgroups(0, NULL) < 0) die_errno("setgroups in the user namespace");
  if (setresgid(0, 0, 0) < 0 && errno != EINVAL) die_errno("setgid 0 in the user namespace");
  if (setresuid(0, 0, 0) < 0 && errno != EINVAL) die_errno("setuid 0 in the user namespace");
}

static void child_main(const struct jail_opts *o, int sync_read) {
  char go;
  /* The network gate is the launcher's alone. */
  if (o->net_ready_fd >= 0) close(o->net_ready_fd);
  /* Wait until the launcher wrote our id maps (and tsvisor set up our
   * network namespace); EOF means it died. */
  if (read(sync_read, &go, 1) != 1) _exit(LAUNCHER_FAIL);
  close(sync_read);
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno("prctl(PR_SET_PDEATHSIG)");
  if (o->new_net) loopback_up();
  if (o->hostname && sethostname(o->hostname, strlen(o->hostname)) < 0) die_errno("sethostname");
  apply_sysctls(o);
  enter_root(o);
  /* After the root is ours: the way to it (tsvisor's state folder) is host
   * root's, which only the host root we still are may walk. */
  become_namespace_root();
  int procfd = open("/proc", O_PATH | O_DIRECTORY | O_CLOEXEC);
  if (procfd < 0) die_errno("open /proc");
  control_send("PROC", "", 0, procfd);
  close(procfd);
  if (o->with_init) {
    pid_t app = fork();
    if (app < 0) die_errno("fork the program");
    if (app > 0) run_init(app, o);
  }
  install_filter_and_exec(o);
}

static pid_t child_pid;

/* --net-ready-fd: tells tsvisor the pid whose network namespace to set up
 * (veth, addresses, routes, nftables), and holds the child, which has done
 * nothing yet, until that is done: the program never runs on a network
 * half made. EOF or anything but "g" means it could not be done. */
static void await_network(int fd, const char *hpid, size_t len) {
  char line[20];
  memcpy(line, hpid, len);
  line[len] = '\n';
  if (write(fd, line, len + 1) != (ssize_t)(len + 1)) die_errno("report the pid for the network setup");
  char go = 0;
  ssize_t r;
  do r = read(fd, &go, 1);
  while (r < 0 && errno == EINTR);
  if (r != 1 || go != 'g') die("the sandbox's network could not be set up");
  close(fd);
}

static void forward_signal(int sig) {
  if (child_pid > 0) kill(child_pid, sig);
}

/* The gofer launcher says 'r' once the sandbox's root is mounted in its
 * namespace; EOF means it failed, and it said why. Until then there is no
 * root to join: what came before (the cgroups, whose joining costs an RCU
 * grace period each) overlapped with its work. */
static void await_root(int fd) {
  char c;
  ssize_t n;
  do n = read(fd, &c, 1);
  while (n < 0 && errno == EINTR);
  if (n != 1) {
    fprintf(stderr, "tsvisor-launcher: the sandbox's root was not set up (the gofer launcher says why above)\n");
    exit(LAUNCHER_FAIL);
  }
  close(fd);
}

/* The same message queues in the gofer's mount namespace (ours), where the
 * sandbox's files are served from: mounted from the child's ipc namespace,
 * which this launcher joins for good (it has no other use for one), as host
 * root, before the child runs. The child mounts its own view (enter_root). */
static void share_mqueues(const struct jail_opts *o, pid_t child) {
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/ns/ipc", child);
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) die_errno("open %s", path);
  if (setns(fd, CLONE_NEWIPC) < 0) die_errno("setns(the sandbox's ipc namespace)");
  close(fd);
  for (int i = 0; i < o->n_mqueues; i++) mount_mqueue(o->root, o->mqueues[i]);
}

int jail_main(int argc, char **argv) {
  struct jail_opts o;
  parse(argc, argv, &o);
  /* Read before the clone: pid 1, the program and the exec helper all get a copy. */
  if (o.seccomp_fd >= 0) seccomp_profile_read(o.seccomp_fd, o.seccomp_flags);
  /* The cgroups tsvisor made for this sandbox (do --memory, --pids-limit):
   * join them before the clone, so that pid 1 and all it starts are in them
   * from their first page and first fork, and the sandbox's cgroup namespace
   * is rooted there. */
  for (int i = 0; i < o.n_cgroups; i++) write_file(o.cgroup_procs[i], "0");
  die_with_parent();
  if (o.root_ready_fd >= 0) await_root(o.root_ready_fd);

  char nspath[64];
  snprintf(nspath, sizeof nspath, "/proc/%s/ns/mnt", o.mntns_of);
  int nsfd = open(nspath, O_RDONLY | O_CLOEXEC);
  if (nsfd < 0) die_errno("open %s", nspath);
  if (setns(nsfd, CLONE_NEWNS) < 0) die_errno("setns(mount namespace of the gofer)");
  close(nsfd);

  int sync_pipe[2];
  if (pipe2(sync_pipe, O_CLOEXEC) < 0) die_errno("pipe");
  block_forwarded_signals();
  unsigned long flags = CLONE_NEWUSER | CLONE_NEWNS | CLONE_NEWPID | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP;
  if (o.new_net) flags |= CLONE_NEWNET;
  pid_t pid = (pid_t)syscall(SYS_clone, flags | SIGCHLD, 0, NULL, NULL, 0);
  if (pid < 0) die_errno("clone into new namespaces");
  if (pid == 0) {
    close(sync_pipe[1]);
    child_main(&o, sync_pipe[0]);
  }
  close(sync_pipe[0]);
  child_pid = pid;
  close_oci_fds(&o);

  /* Without a spec's maps, root inside is root outside for file ownership
   * (the image's files keep their owners) but holds capabilities only over
   * its own namespaces. With them, ids are the spec's. */
  char path[64];
  snprintf(path, sizeof path, "/proc/%d/uid_map", pid);
  write_file(path, o.uid_map[0] ? o.uid_map : "0 0 4294967295\n");
  snprintf(path, sizeof path, "/proc/%d/gid_map", pid);
  write_file(path, o.gid_map[0] ? o.gid_map : "0 0 4294967295\n");
  if (o.n_mqueues > 0) share_mqueues(&o, pid);
  char hpid[16];
  int n = snprintf(hpid, sizeof hpid, "%d", pid);
  control_send("HPID", hpid, (size_t)n, -1);
  if (o.net_ready_fd >= 0) await_network(o.net_ready_fd, hpid, (size_t)n);
  if (write(sync_pipe[1], "g", 1) != 1) die_errno("release the child");
  close(sync_pipe[1]);
  close(CONTROL_FD);

  /* The terminal's job-control signals reach the program directly (same
   * process group); the launcher must not die of them and take it along. */
  signal(SIGINT, SIG_IGN);
  signal(SIGQUIT, SIG_IGN);
  signal(SIGTSTP, SIG_IGN);
  signal(SIGTTIN, SIG_IGN);
  signal(SIGTTOU, SIG_IGN);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = forward_signal;
  sigaction(SIGTERM, &sa, NULL);
  sigaction(SIGHUP, &sa, NULL);
  sigaction(SIGUSR1, &sa, NULL);
  sigaction(SIGUSR2, &sa, NULL);
  unblock_forwarded_signals();

  int status;
  for (;;) {
    pid_t r = waitpid(pid, &status, 0);
    if (r == pid) break;
    if (r < 0 && errno != EINTR) die_errno("waitpid");
  }
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  if (WIFSIGNALED(status)) return 128 + WTERMSIG(status);
  return LAUNCHER_FAIL;
}
