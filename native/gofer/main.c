/* tsvisor-gofer --root DIR --sock-fd N [--read-only] [--userns-fd N]
 * Serves the tree at DIR to the sentry at the other end of the
 * SOCK_SEQPACKET socket N (with --userns-fd: from inside that user
 * namespace, as its root: a mapped sandbox's, see enter_user_namespace), and exits when the sentry goes away: 0 when it
 * closed its end, 1 on a socket error or a missing seccomp filter, 2 on bad
 * arguments. It serves under its own seccomp filter (jail.c), installed
 * before the first request. */
#define _GNU_SOURCE
#include "gofer.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define USAGE "usage: tsvisor-gofer --root DIR --sock-fd N [--read-only] [--userns-fd N]"
/* An fd sent by SCM_RIGHTS; more than this many on one request are closed and refused anyway. */
#define MAX_FDS_PER_MESSAGE 16

/* Static: the gofer allocates nothing once jailed (its filter has no mmap or brk). */
static struct gofer_server server;
static struct gofer_request request;
static uint8_t rx[MAX_MESSAGE_BYTES];
static uint8_t tx[MAX_MESSAGE_BYTES];

/* Writes one line to stderr with write(2) alone (no stdio buffers to allocate). */
static void say(const char *format, ...) {
  char line[8192];
  va_list ap;
  va_start(ap, format);
  int n = vsnprintf(line, sizeof line - 1, format, ap);
  va_end(ap);
  if (n < 0) return;
  if ((size_t)n > sizeof line - 2) n = sizeof line - 2;
  line[n++] = '\n';
  for (int at = 0; at < n;) {
    ssize_t w = write(2, line + at, (size_t)(n - at));
    if (w <= 0) return;
    at += (int)w;
  }
}

static void usage_error(const char *message) {
  say("tsvisor-gofer: %s\n%s", message, USAGE);
  exit(2);
}

/* s as a JSON string literal (the messages quote arguments as gofer/main.ts did). */
static const char *quoted(const char *s, char *out, size_t cap) {
  size_t at = 0;
  out[at++] = '"';
  for (; *s && at + 8 < cap; s++) {
    unsigned char c = (unsigned char)*s;
    if (c == '"' || c == '\\') {
      out[at++] = '\\';
      out[at++] = (char)c;
    } else if (c < 0x20) {
      at += (size_t)snprintf(out + at, cap - at, "\\u%04x", c);
    } else {
      out[at++] = (char)c;
    }
  }
  out[at++] = '"';
  out[at] = 0;
  return out;
}

struct args {
  const char *root;
  int sock_fd;
  int userns_fd;
  bool read_only;
};

static void parse_args(int argc, char **argv, struct args *a) {
  char message[8192], q[4096];
  a->root = NULL;
  a->sock_fd = -1;
  a->userns_fd = -1;
  a->read_only = false;
  for (int i = 1; i < argc; i++) {
    const char *arg = argv[i];
    if (strcmp(arg, "--root") == 0 || strcmp(arg, "--sock-fd") == 0 || strcmp(arg, "--userns-fd") == 0) {
      const char *value = argv[i + 1];
      if (value == NULL) {
        snprintf(message, sizeof message, "%s needs a value", arg);
        usage_error(message);
      }
      i++;
      if (strcmp(arg, "--root") == 0) {
        if (value[0] == 0) usage_error("--root must not be empty");
        a->root = value;
      } else {
        size_t length = strlen(value);
        if (length < 1 || length > 9 || strspn(value, "0123456789") != length) {
          snprintf(message, sizeof message, "%s: not an fd number: %s", arg, quoted(value, q, sizeof q));
          usage_error(message);
        }
        *(strcmp(arg, "--sock-fd") == 0 ? &a->sock_fd : &a->userns_fd) = atoi(value);
      }
    } else if (strcmp(arg, "--read-only") == 0) {
      a->read_only = true;
    } else {
      snprintf(message, sizeof message, "unknown argument %s", quoted(arg, q, sizeof q));
      usage_error(message);
    }
  }
  if (a->root == NULL) usage_error("--root is required");
  if (a->sock_fd < 0) usage_error("--sock-fd is required");
}

/* A mapped sandbox's gofer serves from inside the sandbox's user namespace
 * (the launcher made it with the same maps: native/launcher/userns.c), as
 * its root: the task identities it takes are namespace ids, and the file
 * capabilities it makes effective for a task count only over files whose
 * owner and group are mapped (capable_wrt_inode_uidgid()), as for the
 * sandbox's own processes. Entered after the root is open: the path to it
 * (the launcher's state folder) is host root's alone. Its own ids become
 * the namespace's root, so that nothing it does without a task's identity
 * acts as the host's root (an unmapped owner) either. */
static void enter_user_namespace(int fd) {
  if (syscall(SYS_setns, fd, CLONE_NEWUSER) < 0) {
    say("tsvisor-gofer: setns(--userns-fd %d): errno %d", fd, errno);
    exit(1);
  }
  close(fd);
  if (syscall(SYS_setgroups, 0L, NULL) < 0 || syscall(SYS_setresgid, 0L, 0L, 0L) < 0 ||
      syscall(SYS_setresuid, 0L, 0L, 0L) < 0) {
    say("tsvisor-gofer: becoming the user namespace's root: errno %d", errno);
    exit(1);
  }
}

/* recvmsg into rx: the length, or -errno (-EMSGSIZE for a message cut short,
 * its fds closed). fds[] gets the fds that came with it (close-on-exec). */
static long receive(int sock, int *fds, int *fd_count) {
  struct iovec iov = {rx, sizeof rx};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int) * MAX_FDS_PER_MESSAGE)];
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = control.buf, .msg_controllen = sizeof control.buf};
  long n;
  *fd_count = 0;
  do n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
  while (n < 0 && errno == EINTR);
  if (n < 0) return -errno;
  for (struct cmsghdr *c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    for (int i = 0; i < k; i++) {
      int fd;
      memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
      if (*fd_count < MAX_FDS_PER_MESSAGE) fds[(*fd_count)++] = fd;
      else close(fd);
    }
  }
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (int i = 0; i < *fd_count; i++) close(fds[i]);
    *fd_count = 0;
    return -EMSGSIZE;
  }
  return n;
}

static long send_reply(int sock, size_t length, int fd) {
  struct iovec iov = {tx, length};
  union {
    struct cmsghdr align;
    char buf[CMSG_SPACE(sizeof(int))];
  } control;
  struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
  if (fd >= 0) {
    msg.msg_control = control.buf;
    msg.msg_controllen = sizeof control.buf;
    struct cmsghdr *c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(c), &fd, sizeof fd);
  }
  long n;
  do n = sendmsg(sock, &msg, MSG_NOSIGNAL);
  while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : n;
}

static uint32_t header_word(size_t length, size_t at) {
  if (length < at + 4) return 0;
  return (uint32_t)rx[at] | (uint32_t)rx[at + 1] << 8 | (uint32_t)rx[at + 2] << 16 | (uint32_t)rx[at + 3] << 24;
}

/* The reply to bytes that do not decode: id and opcode from the header when present. */
static size_t reply_to_malformed(int errno_value, size_t length) {
  return wire_error_reply(tx, sizeof tx, header_word(length, 0) & 0xffff, header_word(length, 4), errno_value);
}

/* Serves until the sentry goes away: the exit status (0: it closed its end). */
static int serve(int sock) {
  int fds[MAX_FDS_PER_MESSAGE];
  for (;;) {
    int fd_count;
    long received = receive(sock, fds, &fd_count);
    /* Only the socket and fd ops come with an fd (exactly one, the
     * program's): any other fd is closed and its request refused. */
    int request_fd = fd_count == 1 ? fds[0] : -1;
    for (int i = request_fd >= 0 ? 1 : 0; i < fd_count; i++) close(fds[i]);
    if (received == 0) return 0;
    size_t length;
    int fd = -1;
    if (received == -EMSGSIZE) {
      /* Cut short (too large, or fds beyond our capacity): answer the header's id if it arrived. */
      length = reply_to_malformed(EINVAL, sizeof rx);
    } else if (received < 0) {
      say("tsvisor-gofer: recvmsg: errno %ld", -received);
      return 1;
    } else if (fd_count > 1) {
      length = reply_to_malformed(EINVAL, (size_t)received);
    } else {
      bool id_known, op_known;
      int bad = wire_decode_request(rx, (size_t)received, &request, &id_known, &op_known);
      if (bad != 0) {
        length = wire_error_reply(tx, sizeof tx, op_known ? request.op : 0, id_known ? request.id : 0, bad);
      } else if ((wire_op_takes_fd(request.op) ? 1 : 0) != fd_count) {
        length = wire_error_reply(tx, sizeof tx, request.op, request.id, EINVAL);
      } else {
        server.request_fd = request_fd;
        length = gofer_handle(&server, &request, tx, sizeof tx, &fd);
      }
    }
    if (request_fd >= 0) close(request_fd);
    server.request_fd = -1;
    long sent = send_reply(sock, length, fd);
    if (fd >= 0) close(fd); /* the sentry has its own copy now */
    /* EPIPE / ECONNRESET: the sentry is gone. */
    if (sent < 0) return sent == -EPIPE || sent == -ECONNRESET ? 0 : 1;
  }
}

int main(int argc, char **argv) {
  struct args a;
  char message[8192];
  parse_args(argc, argv, &a);

  struct stat st;
  if (fstat(a.sock_fd, &st) < 0) {
    snprintf(message, sizeof message, "--sock-fd %d: not an open fd (errno %d)", a.sock_fd, errno);
    usage_error(message);
  }
  if (!S_ISSOCK(st.st_mode)) {
    snprintf(message, sizeof message, "--sock-fd %d: not a socket", a.sock_fd);
    usage_error(message);
  }

  /* The root is named by our trusted launcher, so this one lookup may follow
   * symlinks; everything after it is relative to the fd and trusts nothing. */
  struct open_how how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC};
  int root_fd = (int)syscall(SYS_openat2, AT_FDCWD, a.root, &how, sizeof how);
  if (root_fd < 0) {
    snprintf(message, sizeof message, "--root %s: cannot open as a directory (errno %d)", a.root, errno);
    usage_error(message);
  }

  /* reopenFd opens a program's object through one of our own magic links
   * (ops.c); the directory is taken now so that no op looks up "/proc". */
  struct open_how proc_how = {.flags = O_PATH | O_DIRECTORY | O_CLOEXEC};
  int proc_fd_dir = (int)syscall(SYS_openat2, AT_FDCWD, "/proc/self/fd", &proc_how, sizeof proc_how);
  server.proc_fd_dir = proc_fd_dir >= 0 ? proc_fd_dir : -errno;

  if (a.userns_fd >= 0) enter_user_namespace(a.userns_fd);

  /* The sentry applies the task's umask to every mode it sends: ours must not apply a second one. */
  umask(0);
  /* A stderr whose reader is gone must not kill the gofer (replies use MSG_NOSIGNAL). */
  signal(SIGPIPE, SIG_IGN);

  server.root_fd = root_fd;
  server.read_only = a.read_only;
  server.request_fd = -1;
  identity_init(&server.identity);

  /* Everything the gofer holds is ready (root fd, socket): from here on it
   * runs jailed, or not at all. */
  int err;
  const char *jail_error = gofer_jail_enter(&err);
  if (jail_error != NULL) {
    if (err != 0) say("tsvisor-gofer: %s: errno %d: refusing to serve without the gofer's seccomp filter", jail_error, err);
    else say("tsvisor-gofer: %s: refusing to serve without the gofer's seccomp filter", jail_error);
    return 1;
  }
  /* _exit: nothing to flush, and exit's atexit handlers are not ours to run jailed. */
  _exit(serve(a.sock_fd));
}
