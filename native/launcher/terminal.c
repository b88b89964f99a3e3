/* The sandbox's terminal (tsvisor do on a terminal, as docker run -it): a pty
 * of the sandbox's own devpts, whose master tsvisor relays to the host's
 * terminal and whose slave is the program's controlling terminal.
 *
 * gofer mode allocates it (make_console_pty): the devpts is fresh, so this
 * is /dev/pts/0, and it is also bound at /dev/console, in the tree the gofer
 * serves (the sentry's view) and the sandbox's mount namespace copies.
 * app mode hands it to the program (take_terminal).
 */
#define _GNU_SOURCE
#include "launcher.h"

#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/socket.h>
#include <termios.h>
#include <unistd.h>

#ifndef TIOCGPTPEER
#define TIOCGPTPEER _IO('T', 0x41)
#endif

/* One message on sock: "PTY0" + the slave's path in the sandbox, with the
 * master (non-blocking, as tsvisor's event loop reads it) and a slave fd.
 * tsvisor keeps that slave open until the sandbox is gone, so the master
 * never reads EIO (the hang-up of the last slave) before the program has
 * opened its own. */
static void send_pty(int sock, const char *name, int master, int slave) {
  char buf[64];
  int len = snprintf(buf, sizeof buf, "PTY0%s", name);
  struct iovec iov = {buf, (size_t)len};
  union {
    struct cmsghdr h;
    char b[CMSG_SPACE(2 * sizeof(int))];
  } c;
  memset(&c, 0, sizeof c);
  struct msghdr msg = {0};
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = c.b;
  msg.msg_controllen = sizeof c.b;
  struct cmsghdr *h = CMSG_FIRSTHDR(&msg);
  h->cmsg_level = SOL_SOCKET;
  h->cmsg_type = SCM_RIGHTS;
  h->cmsg_len = CMSG_LEN(2 * sizeof(int));
  int fds[2] = {master, slave};
  memcpy(CMSG_DATA(h), fds, sizeof fds);
  if (sendmsg(sock, &msg, MSG_NOSIGNAL) < 0) die_errno("send the terminal to tsvisor");
}

void make_console_pty(const char *dev_dir, int sock) {
  char path[4096], name[32];
  if ((size_t)snprintf(path, sizeof path, "%s/pts/ptmx", dev_dir) >= sizeof path) die("path too long: %s", dev_dir);
  /* O_NOCTTY: it must become the program's controlling terminal, never ours. */
  int master = open(path, O_RDWR | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
  if (master < 0) die_errno("open %s", path);
  int unlock = 0;
  if (ioctl(master, TIOCSPTLCK, &unlock) < 0) die_errno("unlock the sandbox's pty");
  unsigned int n;
  if (ioctl(master, TIOCGPTN, &n) < 0) die_errno("TIOCGPTN");
  /* TIOCGPTPEER opens exactly this master's slave, with no path to race on. */
  int slave = ioctl(master, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
  if (slave < 0) die_errno("TIOCGPTPEER");
  /* /dev/console is the program's terminal, as runc and docker make it. */
  char console[4096], pts[4096];
  if ((size_t)snprintf(console, sizeof console, "%s/console", dev_dir) >= sizeof console ||
      (size_t)snprintf(pts, sizeof pts, "%s/pts/%u", dev_dir, n) >= sizeof pts)
    die("path too long: %s", dev_dir);
  int fd = open(console, O_CREAT | O_WRONLY | O_CLOEXEC, 0620);
  if (fd < 0) die_errno("create %s", console);
  close(fd);
  if (mount(pts, console, NULL, MS_BIND, NULL) < 0) die_errno("bind %s on %s", pts, console);
  snprintf(name, sizeof name, "/dev/pts/%u", n);
  send_pty(sock, name, master, slave);
  close(master);
  close(slave);
  close(sock);
}

/* In the program's process, before its filter: a session of its own with the
 * terminal (a path in the sandbox) as its controlling terminal and stdio,
 * so that job control works (the shell's jobs are process groups of this
 * session; ^C and ^Z reach the foreground one). Opened here, in the
 * sandbox's mount namespace, so /proc/self/fd/0 names it as the program
 * sees it (ttyname, tty). */
void take_terminal(const char *path) {
  if (setsid() < 0) die_errno("setsid");
  int fd = open(path, O_RDWR | O_NOCTTY);
  if (fd < 0) die_errno("open %s", path);
  if (ioctl(fd, TIOCSCTTY, 0) < 0) die_errno("TIOCSCTTY %s", path);
  for (int i = 0; i <= 2; i++)
    if (dup2(fd, i) < 0) die_errno("dup2 the terminal onto fd %d", i);
  if (fd > 2) close(fd);
}
