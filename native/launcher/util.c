/* Small helpers shared by the launcher's two modes. */
#define _GNU_SOURCE
#include "launcher.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

static void vreport(const char *fmt, va_list ap, int err) {
  char msg[1024];
  vsnprintf(msg, sizeof msg, fmt, ap);
  if (err) fprintf(stderr, "tsvisor-launcher: %s: %s\n", msg, strerror(err));
  else fprintf(stderr, "tsvisor-launcher: %s\n", msg);
}

void die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vreport(fmt, ap, 0);
  va_end(ap);
  _exit(LAUNCHER_FAIL);
}

void die_errno(const char *fmt, ...) {
  int err = errno;
  va_list ap;
  va_start(ap, fmt);
  vreport(fmt, ap, err);
  va_end(ap);
  _exit(LAUNCHER_FAIL);
}

void write_file(const char *path, const char *text) {
  int fd = open(path, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die_errno("open %s", path);
  size_t len = strlen(text);
  if (write(fd, text, len) != (ssize_t)len) die_errno("write %s", path);
  close(fd);
}

/* Fail closed: when the process that started us dies, so do we (and through
 * the same mechanism, everything below us). */
int fd_option(const char *opt, const char *value, int min) {
  char *end;
  long fd = strtol(value, &end, 10);
  if (!*value || *end || fd < min || fd > 1 << 20) die("%s: not an fd number from %d: %s", opt, min, value);
  return (int)fd;
}

void die_with_parent(void) {
  pid_t parent = getppid();
  if (prctl(PR_SET_PDEATHSIG, SIGKILL) < 0) die_errno("prctl(PR_SET_PDEATHSIG)");
  if (getppid() != parent) _exit(LAUNCHER_FAIL); /* it died before the prctl */
}

void mkdir_p(const char *path, mode_t mode) {
  char buf[4096];
  if (strlen(path) >= sizeof buf) die("path too long: %s", path);
  strcpy(buf, path);
  for (char *p = buf + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(buf, mode) < 0 && errno != EEXIST) die_errno("mkdir %s", buf);
    *p = '/';
  }
  if (mkdir(buf, mode) < 0 && errno != EEXIST) die_errno("mkdir %s", buf);
}

void control_send(const char *tag, const void *payload, size_t len, int fd_to_pass) {
  char buf[4 + 4096];
  if (len > sizeof buf - 4) die("control message too long");
  memcpy(buf, tag, 4);
  if (len) memcpy(buf + 4, payload, len);
  struct iovec iov = {buf, 4 + len};
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(sizeof(int))];
  } c;
  if (fd_to_pass >= 0) {
    memset(&c, 0, sizeof c);
    msg.msg_control = c.b;
    msg.msg_controllen = sizeof c.b;
    struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
    h->cmsg_level = SOL_SOCKET;
    h->cmsg_type = SCM_RIGHTS;
    h->cmsg_len = CMSG_LEN(sizeof(int));
    memcpy(CMSG_DATA(h), &fd_to_pass, sizeof(int));
  }
  if (sendmsg(CONTROL_FD, &msg, MSG_NOSIGNAL) < 0) die_errno("send %.4s to the sentry", tag);
}

/* Receives one message into buf (tag stripped), returns the payload length.
 * The sentry speaks first only with the tags we expect; anything else is a bug. */
size_t control_recv(const char *want_tag, void *buf, size_t cap) {
  static char msg[4 + 65536];
  ssize_t n;
  do n = recv(CONTROL_FD, msg, sizeof msg, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0) die_errno("receive %.4s from the sentry", want_tag);
  if (n == 0) _exit(LAUNCHER_FAIL); /* the sentry is gone: nothing to report to */
  if (n < 4 || memcmp(msg, want_tag, 4) != 0) die("expected %.4s from the sentry", want_tag);
  if ((size_t)(n - 4) > cap) die("%.4s payload too long", want_tag);
  memcpy(buf, msg + 4, (size_t)(n - 4));
  return (size_t)(n - 4);
}
