/* The client side of --console-socket, as containerd's shim and conmon are:
 * listen on a unix socket, take one connection, receive the pty master by
 * SCM_RIGHTS (the message is the slave's name), then copy everything the
 * master reads to stdout until the terminal hangs up (EIO: no slave left).
 *
 *   console-receiver SOCK [INPUT]   INPUT is written to the master first.
 * Prints "ready" on stderr once it listens, and "name=<message>" on receipt.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  struct sockaddr_un a = {0};
  a.sun_family = AF_UNIX;
  strncpy(a.sun_path, argv[1], sizeof a.sun_path - 1);
  unlink(argv[1]);
  if (bind(s, (struct sockaddr *)&a, sizeof a) < 0 || listen(s, 1) < 0) { perror("bind"); return 1; }
  fprintf(stderr, "ready\n");
  int c = accept(s, NULL, NULL);
  if (c < 0) { perror("accept"); return 1; }
  char name[256] = {0};
  union { struct cmsghdr h; char b[CMSG_SPACE(sizeof(int))]; } cb;
  struct iovec iov = {name, sizeof name - 1};
  struct msghdr m = {0};
  m.msg_iov = &iov;
  m.msg_iovlen = 1;
  m.msg_control = cb.b;
  m.msg_controllen = sizeof cb.b;
  if (recvmsg(c, &m, 0) < 0) { perror("recvmsg"); return 1; }
  struct cmsghdr *h = CMSG_FIRSTHDR(&m);
  if (!h || h->cmsg_type != SCM_RIGHTS) { fprintf(stderr, "no fd received\n"); return 1; }
  int master;
  memcpy(&master, CMSG_DATA(h), sizeof master);
  fprintf(stderr, "name=%s\n", name);
  close(c);
  if (argc > 2 && write(master, argv[2], strlen(argv[2])) < 0) { perror("write"); return 1; }
  char buf[4096];
  for (;;) {
    ssize_t n = read(master, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break; /* EIO: the last slave closed */
    if (write(1, buf, (size_t)n) < 0) return 1;
  }
  return 0;
}
