/* POSIX message queues from the command line, for the OCI mqueue test:
 *   mq create NAME     mq_open(O_CREAT|O_EXCL, 0640), max 4 messages of 64
 *   mq send NAME TEXT  mq_send at priority 1
 *   mq recv NAME       mq_receive, printed
 *   mq open NAME       mq_open of an existing queue
 * Each prints "<what>: 0" or "<what>: <errno name>", and exits 0. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <mqueue.h>
#include <stdio.h>
#include <string.h>

static int report(const char *what, int ok) {
  if (ok) printf("%s: 0\n", what);
  else printf("%s: %s\n", what, strerrorname_np(errno));
  return 0;
}

int main(int argc, char **argv) {
  if (argc < 3) return fprintf(stderr, "usage: mq create|send|recv|open NAME [TEXT]\n"), 2;
  const char *op = argv[1], *name = argv[2];
  if (strcmp(op, "create") == 0) {
    struct mq_attr attr = {.mq_maxmsg = 4, .mq_msgsize = 64};
    mqd_t q = mq_open(name, O_CREAT | O_EXCL | O_RDWR, 0640, &attr);
    return report("create", q != (mqd_t)-1);
  }
  mqd_t q = mq_open(name, O_RDWR);
  if (strcmp(op, "open") == 0 || q == (mqd_t)-1) return report("open", q != (mqd_t)-1);
  if (strcmp(op, "send") == 0 && argc == 4) return report("send", mq_send(q, argv[3], strlen(argv[3]), 1) == 0);
  if (strcmp(op, "recv") == 0) {
    char buf[64];
    ssize_t n = mq_receive(q, buf, sizeof buf, NULL);
    if (n >= 0) printf("recv: %.*s\n", (int)n, buf);
    return report("recv", n >= 0);
  }
  return fprintf(stderr, "mq: unknown operation %s\n", op), 2;
}
