/* notify_floor CMD [ARGS...]
 *
 * The "C floor" of DESIGN.md: the least a seccomp-user-notification
 * supervisor can do per trapped syscall on this kernel. It runs CMD with a
 * filter that sends getppid to the supervisor and allows everything else,
 * and answers every notification with one blocking RECV and one SEND
 * (val = 1), with SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP set so the kernel hands
 * the wake-up straight to the waiting side (without it the two sides land on
 * different vCPUs and the round trip roughly doubles). No policy, no memory
 * reads, no allocation: whatever tsvisor costs above this is its own.
 *
 * At exit it prints "notify_floor: notifications N vmhwm_kb K" to stderr
 * (K is its own peak RSS, for the memory figure) and exits with CMD's status. */
#define _GNU_SOURCE
#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* Debian 12's 6.1 uapi headers predate these (added in Linux 6.6). */
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

static void die(const char *what) {
  fprintf(stderr, "notify_floor: %s: %s\n", what, strerror(errno));
  exit(125);
}

/* Set by main before the child can exit; read by the SIGCHLD handler. */
static volatile int listener_fd = -1;

/* A blocked RECV does not return when the last task of the filter exits
 * normally (nothing is pending), so the child's exit must break the loop from
 * outside. Closing the listener from the handler has no race: if SIGCHLD
 * lands inside the ioctl, it returns EINTR; if it lands just before, the
 * ioctl finds the fd closed and returns EBADF. Either way the loop ends. */
static void on_sigchld(int sig) {
  (void)sig;
  int fd = listener_fd;
  listener_fd = -1;
  if (fd >= 0) close(fd);
}

static int install_filter(void) {
  struct sock_filter code[] = {
      /* A foreign arch's numbers mean other syscalls: refuse, do not guess. */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_USER_NOTIF),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
  int fd = (int)syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_NEW_LISTENER, &prog);
  if (fd < 0) die("seccomp(SECCOMP_SET_MODE_FILTER)");
  return fd;
}

static void send_fd(int sock, int fd) {
  char data = 'L';
  struct iovec iov = {.iov_base = &data, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  memset(&u, 0, sizeof(u));
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &fd, sizeof(int));
  if (sendmsg(sock, &msg, 0) != 1) die("sendmsg(listener)");
}

static int recv_fd(int sock) {
  char data;
  struct iovec iov = {.iov_base = &data, .iov_len = 1};
  union {
    char buf[CMSG_SPACE(sizeof(int))];
    struct cmsghdr align;
  } u;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = u.buf, .msg_controllen = sizeof(u.buf)};
  if (recvmsg(sock, &msg, 0) != 1) die("recvmsg(listener)");
  struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
  if (!c || c->cmsg_type != SCM_RIGHTS) {
    fprintf(stderr, "notify_floor: the child sent no listener\n");
    exit(125);
  }
  int fd;
  memcpy(&fd, CMSG_DATA(c), sizeof(int));
  return fd;
}

static long vmhwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: notify_floor CMD [ARGS...]\n");
    return 2;
  }
  int sv[2];
  if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0) die("socketpair");

  /* SIGCHLD stays blocked until the handler and listener_fd are in place,
   * so an early exit of the child cannot be missed. */
  sigset_t chld, old;
  sigemptyset(&chld);
  sigaddset(&chld, SIGCHLD);
  sigprocmask(SIG_BLOCK, &chld, &old);

  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    sigprocmask(SIG_SETMASK, &old, NULL);
    close(sv[0]);
    int listener = install_filter();
    send_fd(sv[1], listener);
    close(listener);
    close(sv[1]);
    execvp(argv[1], argv + 1);
    fprintf(stderr, "notify_floor: exec %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  close(sv[1]);
  int fd = recv_fd(sv[0]);
  close(sv[0]);
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0) < 0)
    die("ioctl(SECCOMP_IOCTL_NOTIF_SET_FLAGS, SYNC_WAKE_UP)");
  listener_fd = fd;
  struct sigaction sa;
  memset(&sa, 0, sizeof(sa));
  sa.sa_handler = on_sigchld;
  sa.sa_flags = SA_NOCLDSTOP; /* no SA_RESTART: the blocked RECV must return */
  sigaction(SIGCHLD, &sa, NULL);
  sigprocmask(SIG_SETMASK, &old, NULL);

  /* Allocated once: the loop itself does nothing but the two ioctls. The
   * kernel insists the receive buffer is zeroed, hence the memset. */
  struct seccomp_notif req;
  struct seccomp_notif_resp resp;
  unsigned long handled = 0;
  for (;;) {
    memset(&req, 0, sizeof(req));
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, &req) < 0) {
      /* ENOENT: the task died with its notification pending; go on. */
      if (errno == ENOENT) continue;
      break; /* EINTR or EBADF: the child exited (see on_sigchld) */
    }
    resp.id = req.id;
    resp.val = 1;
    resp.error = 0;
    resp.flags = 0;
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &resp) < 0 && errno != ENOENT) break;
    handled++;
  }

  int status;
  while (waitpid(child, &status, 0) < 0)
    if (errno != EINTR) die("waitpid");
  fprintf(stderr, "notify_floor: notifications %lu vmhwm_kb %ld\n", handled, vmhwm_kb());
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
