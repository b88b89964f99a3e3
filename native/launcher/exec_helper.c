/* The OCI exec helper (`tsvisor exec`): a small process inside a running
 * sandbox that starts further processes there on request.
 *
 * Why a helper inside, and not a second launcher that setns()es in: a
 * process started from inside already is in the sandbox's namespaces, its
 * root and cgroups, and under the very filter (seccomp listener) or tracer
 * (ptrace) of its sandbox, so the sentry serves it with no new platform
 * state on either platform. The program's process forks it (twice, so that
 * it is re-parented to the sandbox's init and never shows as the program's
 * child) after its filter is on and before it execs; it runs as root in the
 * sandbox's user namespace so that it may start processes as any user.
 *
 * Requests arrive on a SOCK_SEQPACKET socket from tsvisor (the daemon of
 * `tsvisor create`), one message each:
 *   "EXEC" then NUL-terminated fields: u<uid> g<gid> G<gid>... c<cwd> k<caps> t (a
 *   terminal) a<arg>... e<VAR=value>..., with the new process's stdin,
 *   stdout and stderr by SCM_RIGHTS (none with a terminal).
 * Answered on the same socket: "PIDN<pid in the sandbox>", or for a terminal
 * "PIDN<pid> <helper's pid> <master's fd number>", after which the helper
 * holds the master until tsvisor, which takes it with pidfd_getfd, says
 * "DONE"; or "FAIL<message>". Answers are plain write()s: the sentry may
 * emulate sendmsg (an address can lie in its msghdr), and nothing of ours
 * needs to go through it. Exits go to the report
 * socket (a stream) as lines "X <pid> <status>", status as a shell gives it
 * (128 + signal for a killed process).
 */
#define _GNU_SOURCE
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#define MAX_FIELDS 4096
#define MAX_GROUPS 64

extern char **environ;

struct exec_req {
  uid_t uid;
  gid_t gid;
  gid_t groups[MAX_GROUPS];
  int ngroups;
  /* k<B:E:P:I:A>: the process's capabilities (caps.c); none given: all kept. */
  int has_caps;
  unsigned long long caps[CAPS_SETS];
  const char *cwd;
  int tty;
  char *argv[MAX_FIELDS];
  char *envp[MAX_FIELDS];
  int fds[3];
  int nfds;
};

static void reply(int sock, const char *tag, const char *text) {
  char buf[1024];
  int n = snprintf(buf, sizeof buf, "%s%s", tag, text);
  if (n < 0 || (size_t)n >= sizeof buf) n = (int)sizeof buf - 1;
  if (write(sock, buf, (size_t)n) < 0) { /* tsvisor is gone: the next poll ends us */ }
}

/* Splits the payload into fields; returns 0, or -1 for a malformed request. */
static int parse_request(char *p, size_t len, struct exec_req *r) {
  int nargs = 0, nenv = 0;
  char *end = p + len;
  r->uid = 0;
  r->gid = 0;
  r->ngroups = 0;
  r->cwd = "/";
  r->tty = 0;
  while (p < end) {
    char *z = memchr(p, 0, (size_t)(end - p));
    if (!z) return -1;
    char k = p[0], *v = p + 1;
    if (k == 'u') r->uid = (uid_t)strtoul(v, NULL, 10);
    else if (k == 'g') r->gid = (gid_t)strtoul(v, NULL, 10);
    else if (k == 'G' && r->ngroups < MAX_GROUPS) r->groups[r->ngroups++] = (gid_t)strtoul(v, NULL, 10);
    else if (k == 'c') r->cwd = v;
    else if (k == 'k') {
      if (caps_parse(v, r->caps) < 0) return -1;
      r->has_caps = 1;
    }
    else if (k == 't') r->tty = 1;
    else if (k == 'a' && nargs < MAX_FIELDS - 1) r->argv[nargs++] = v;
    else if (k == 'e' && nenv < MAX_FIELDS - 1) r->envp[nenv++] = v;
    else return -1;
    p = z + 1;
  }
  r->argv[nargs] = NULL;
  r->envp[nenv] = NULL;
  return nargs > 0 ? 0 : -1;
}

/* A new pty of the sandbox's devpts: the master, and the slave's path in name. */
static int open_pty(char *name, size_t cap) {
  int master = open("/dev/ptmx", O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (master < 0) return -1;
  int unlock = 0;
  unsigned int n;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0 || ioctl(master, TIOCGPTN, &n) < 0) {
    close(master);
    return -1;
  }
  snprintf(name, cap, "/dev/pts/%u", n);
  return master;
}

/* Reports a failure of the new process on its own stderr, as a shell would. */
static __attribute__((noreturn)) void child_fail(const char *what, const char *arg, int status) {
  dprintf(2, "tsvisor: exec: %s %s: %s\n", what, arg, strerror(errno));
  _exit(status);
}

static __attribute__((noreturn)) void exec_child(struct exec_req *r, const char *pty) {
  sigset_t none;
  sigemptyset(&none);
  sigprocmask(SIG_SETMASK, &none, NULL);
  signal(SIGCHLD, SIG_DFL);
  setsid();
  if (pty) {
    int fd = open(pty, O_RDWR);
    if (fd < 0) _exit(LAUNCHER_FAIL);
    if (ioctl(fd, TIOCSCTTY, 0) < 0) _exit(LAUNCHER_FAIL);
    for (int i = 0; i <= 2; i++) dup2(fd, i);
    if (fd > 2) close(fd);
  } else {
    /* dup first to numbers above 2, so that one fd moving onto 0..2 cannot close another. */
    int high[3];
    for (int i = 0; i < 3; i++) high[i] = fcntl(r->fds[i], F_DUPFD, 10);
    for (int i = 0; i < 3; i++) dup2(high[i], i);
  }
  syscall(SYS_close_range, 3, ~0U, 0);
  if (r->has_caps && caps_before_ids(r->caps, r->uid != 0) < 0) child_fail("capabilities", "(bounding set)", LAUNCHER_FAIL);
  if (setgroups((size_t)r->ngroups, r->groups) < 0) child_fail("setgroups", "", LAUNCHER_FAIL);
  if (setresgid(r->gid, r->gid, r->gid) < 0) child_fail("setgid", "", LAUNCHER_FAIL);
  if (setresuid(r->uid, r->uid, r->uid) < 0) child_fail("setuid", "", LAUNCHER_FAIL);
  if (r->has_caps && caps_after_ids(r->caps) < 0) child_fail("capabilities", "", LAUNCHER_FAIL);
  if (chdir(r->cwd) < 0) child_fail("chdir", r->cwd, LAUNCHER_FAIL);
  /* Last, as for the program: the container's own seccomp profile (runc does the same for exec). */
  if (seccomp_profile_install() < 0) child_fail("seccomp", "(linux.seccomp)", LAUNCHER_FAIL);
  environ = r->envp;
  execvp(r->argv[0], r->argv);
  child_fail("exec", r->argv[0], errno == ENOENT ? 127 : 126);
}

static void handle_request(int sock, char *payload, size_t len, int *fds, int nfds) {
  struct exec_req r;
  memset(&r, 0, sizeof r);
  int ok = parse_request(payload, len, &r) == 0 && (r.tty ? nfds == 0 : nfds == 3);
  if (!ok) {
    reply(sock, "FAIL", "malformed exec request");
    return;
  }
  for (int i = 0; i < nfds; i++) r.fds[i] = fds[i];
  char pty[64];
  int master = -1;
  if (r.tty && (master = open_pty(pty, sizeof pty)) < 0) {
    reply(sock, "FAIL", "cannot open a terminal (/dev/ptmx)");
    return;
  }
  pid_t pid = fork();
  if (pid == 0) exec_child(&r, r.tty ? pty : NULL);
  if (pid < 0) {
    reply(sock, "FAIL", "fork failed");
  } else if (master < 0) {
    char num[16];
    snprintf(num, sizeof num, "%d", pid);
    reply(sock, "PIDN", num);
  } else {
    char text[64];
    snprintf(text, sizeof text, "%d %d %d", pid, getpid(), master);
    reply(sock, "PIDN", text);
    char ack[8];
    while (read(sock, ack, sizeof ack) < 0 && errno == EINTR) {}
  }
  if (master >= 0) close(master);
}

static void reap(int report) {
  int status;
  pid_t p;
  while ((p = waitpid(-1, &status, WNOHANG)) > 0) {
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    dprintf(report, "X %d %d\n", p, code);
  }
}

static void on_chld(int sig) { (void)sig; }

static __attribute__((noreturn)) void helper_main(int sock, int report) {
  setsid(); /* out of the program's session and process group: its terminal's signals are not ours */
  rename_process("tsvisor-exec");
  int null = open("/dev/null", O_RDWR | O_CLOEXEC);
  if (null >= 0) {
    for (int i = 0; i <= 2; i++) dup2(null, i);
    close(null);
  }
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old);
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_chld;
  sigaction(SIGCHLD, &sa, NULL);
  static char msg[65536];
  for (;;) {
    struct pollfd p = {sock, POLLIN, 0};
    /* SIGCHLD only wakes us here (ppoll's mask), so no exit goes unreported. */
    int n = ppoll(&p, 1, NULL, &old);
    if (n < 0 && errno == EINTR) {
      reap(report);
      continue;
    }
    if (n < 0) _exit(LAUNCHER_FAIL);
    if (!(p.revents & POLLIN)) _exit(0); /* tsvisor hung up */
    union {
      struct cmsghdr h;
      char b[CMSG_SPACE(3 * sizeof(int))];
    } c;
    struct iovec iov = {msg, sizeof msg - 1};
    struct msghdr m = {0};
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = c.b;
    m.msg_controllen = sizeof c.b;
    ssize_t got = recvmsg(sock, &m, MSG_CMSG_CLOEXEC);
    if (got <= 0) _exit(0);
    int fds[3], nfds = 0;
    for (struct cmsghdr *h = CMSG_FIRSTHDR(&m); h; h = CMSG_NXTHDR(&m, h)) {
      if (h->cmsg_level != SOL_SOCKET || h->cmsg_type != SCM_RIGHTS) continue;
      int k = (int)((h->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < k; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(h) + i * sizeof(int), sizeof fd);
        if (nfds < 3) fds[nfds++] = fd;
        else close(fd);
      }
    }
    if (got >= 4 && memcmp(msg, "EXEC", 4) == 0) handle_request(sock, msg + 4, (size_t)got - 4, fds, nfds);
    else reply(sock, "FAIL", "unknown request");
    for (int i = 0; i < nfds; i++) close(fds[i]);
  }
}

void start_exec_helper(int sock, int report) {
  pid_t first = fork();
  if (first < 0) die_errno("fork the exec helper");
  if (first == 0) {
    pid_t helper = fork();
    if (helper == 0) helper_main(sock, report);
    _exit(helper < 0 ? LAUNCHER_FAIL : 0);
  }
  int status;
  while (waitpid(first, &status, 0) < 0 && errno == EINTR) {}
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) die("could not start the exec helper");
  close(sock);
  close(report);
}
