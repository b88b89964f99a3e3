/* Sockets: the calls that name an address (bind, connect, sendto, sendmsg,
 * sendmmsg), the names read back (getsockname, getpeername), what may be
 * made (socket, socketpair) and the option calls, with their error cases:
 * EFAULT, EINVAL, EBADF, ENOTSOCK, EAFNOSUPPORT, EADDRINUSE, ECONNREFUSED,
 * ENOENT and friends for unix paths. Run in an empty work directory. */
#include "../differential/check.h"
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stddef.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <sys/un.h>
static socklen_t un(struct sockaddr_un *a, const char *path) {
  memset(a, 0, sizeof *a);
  a->sun_family = AF_UNIX;
  strncpy(a->sun_path, path, sizeof a->sun_path - 1);
  return (socklen_t)(offsetof(struct sockaddr_un, sun_path) + strlen(path) + 1);
}

static struct sockaddr_in in4(const char *ip, int port) {
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
  inet_pton(AF_INET, ip, &a.sin_addr);
  return a;
}



static void say_name(const char *label, int fd, int peer) {
  struct sockaddr_storage ss;
  socklen_t len = sizeof ss;
  memset(&ss, 0, sizeof ss);
  int r = peer ? getpeername(fd, (struct sockaddr *)&ss, &len) : getsockname(fd, (struct sockaddr *)&ss, &len);
  if (r < 0) {
    report(label, -1, errno);
    return;
  }
  if (ss.ss_family == AF_UNIX) {
    struct sockaddr_un *u = (struct sockaddr_un *)&ss;
    if (len <= offsetof(struct sockaddr_un, sun_path)) say("%s: unix unnamed len=%u", label, (unsigned)len);
    else if (u->sun_path[0] == 0) say("%s: unix abstract len=%u", label, (unsigned)len);
    else say("%s: unix path=%s len=%u", label, u->sun_path, (unsigned)len);
  } else if (ss.ss_family == AF_INET) {
    struct sockaddr_in *i = (struct sockaddr_in *)&ss;
    char buf[32];
    inet_ntop(AF_INET, &i->sin_addr, buf, sizeof buf);
    say("%s: inet %s port %s len=%u", label, buf, ntohs(i->sin_port) ? "set" : "0", (unsigned)len);
  } else {
    say("%s: family %d len=%u", label, ss.ss_family, (unsigned)len);
  }
}

int main(void) {
  struct sockaddr_un ua;
  socklen_t ul;
  int file = open("file", O_CREAT | O_RDWR, 0644);

  /* socket, socketpair */
  CHECK_OK("socket unix stream", socket(AF_UNIX, SOCK_STREAM, 0));
  CHECK("socket bad family", socket(12345, SOCK_STREAM, 0));
  CHECK("socket inet bad type", socket(AF_INET, 99, 0));
  CHECK("socket inet stream udp", socket(AF_INET, SOCK_STREAM, IPPROTO_UDP));
  int pair[2];
  CHECK("socketpair unix", socketpair(AF_UNIX, SOCK_STREAM, 0, pair));
  CHECK("socketpair inet", socketpair(AF_INET, SOCK_STREAM, 0, pair));
  CHECK("socketpair bad pointer", socketpair(AF_UNIX, SOCK_STREAM, 0, BADPTR));

  /* bind */
  int s = socket(AF_UNIX, SOCK_STREAM, 0);
  ul = un(&ua, "s.sock");
  CHECK("bind bad pointer", bind(s, BADPTR, ul));
  CHECK("bind negative len", bind(s, (struct sockaddr *)&ua, -1));
  CHECK("bind len past storage", bind(s, (struct sockaddr *)&ua, 200));
  CHECK("bind short", bind(s, (struct sockaddr *)&ua, 1));
  CHECK("bind bad fd", bind(-1, (struct sockaddr *)&ua, ul));
  CHECK("bind closed fd", bind(999, (struct sockaddr *)&ua, ul));
  CHECK("bind not a socket", bind(file, (struct sockaddr *)&ua, ul));
  struct sockaddr_in ia = in4("127.0.0.1", 0);
  CHECK("bind inet address on unix socket", bind(s, (struct sockaddr *)&ia, sizeof ia));
  CHECK("bind unix path", bind(s, (struct sockaddr *)&ua, ul));
  struct stat st;
  if (stat("s.sock", &st) == 0) say_stat("bound inode", &st);
  say_name("getsockname bound", s, 0);
  CHECK("bind again", bind(s, (struct sockaddr *)&ua, ul));
  int s2 = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK("bind path in use", bind(s2, (struct sockaddr *)&ua, ul));
  CHECK("bind path of a file", bind(s2, (struct sockaddr *)&ua, un(&ua, "file")));
  CHECK("bind missing directory", bind(s2, (struct sockaddr *)&ua, un(&ua, "nodir/x.sock")));
  CHECK("bind under a file", bind(s2, (struct sockaddr *)&ua, un(&ua, "file/x.sock")));
  mkdir("d", 0755);
  symlink("d", "link");
  CHECK("bind through a symlinked directory", bind(s2, (struct sockaddr *)&ua, un(&ua, "link/x.sock")));
  CHECK("bound through the symlink is there", access("d/x.sock", F_OK));
  say_name("getsockname through symlink", s2, 0);
  symlink("target.sock", "dangling");
  int s3 = socket(AF_UNIX, SOCK_STREAM, 0);
  CHECK("bind on a dangling symlink", bind(s3, (struct sockaddr *)&ua, un(&ua, "dangling")));
  CHECK("dangling target not made", access("target.sock", F_OK));
  CHECK("bind dot", bind(s3, (struct sockaddr *)&ua, un(&ua, ".")));
  CHECK("bind unnamed (autobind)", bind(s3, (struct sockaddr *)&ua, sizeof(sa_family_t)));
  say_name("autobound", s3, 0);
  int ab = socket(AF_UNIX, SOCK_DGRAM, 0);
  memset(&ua, 0, sizeof ua);
  ua.sun_family = AF_UNIX;
  memcpy(ua.sun_path, "\0tsvisor-diff", 13);
  CHECK("bind abstract", bind(ab, (struct sockaddr *)&ua, offsetof(struct sockaddr_un, sun_path) + 13));
  say_name("abstract name", ab, 0);
  int t = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("bind inet loopback", bind(t, (struct sockaddr *)&ia, sizeof ia));
  say_name("inet name", t, 0);
  socklen_t il = sizeof ia;
  getsockname(t, (struct sockaddr *)&ia, &il);
  int t2 = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("bind inet port in use", bind(t2, (struct sockaddr *)&ia, sizeof ia));
  CHECK("bind inet short", bind(t2, (struct sockaddr *)&ia, 8));
  struct sockaddr_in6 i6 = {.sin6_family = AF_INET6};
  CHECK("bind inet6 address on inet socket", bind(t2, (struct sockaddr *)&i6, sizeof i6));
  struct sockaddr_in nonlocal = in4("192.0.2.1", 0);
  CHECK("bind address not local", bind(t2, (struct sockaddr *)&nonlocal, sizeof nonlocal));

  /* getsockname / getpeername */
  socklen_t len = 3;
  CHECK("getsockname truncated", getsockname(s, (struct sockaddr *)&ua, &len));
  say("getsockname truncated len = %u", (unsigned)len);
  len = (socklen_t)-1;
  CHECK("getsockname negative len", getsockname(s, (struct sockaddr *)&ua, &len));
  CHECK("getsockname bad len pointer", getsockname(s, (struct sockaddr *)&ua, BADPTR));
  len = sizeof ua;
  CHECK("getsockname bad address", getsockname(s, BADPTR, &len));
  CHECK("getsockname not a socket", getsockname(file, (struct sockaddr *)&ua, &len));
  CHECK("getsockname bad fd", getsockname(-1, (struct sockaddr *)&ua, &len));
  CHECK("getpeername not connected", getpeername(s, (struct sockaddr *)&ua, &len));

  /* connect */
  CHECK("listen", listen(s, 4));
  CHECK("listen inet", listen(t, 4));
  int c = socket(AF_UNIX, SOCK_STREAM, 0);
  ul = un(&ua, "s.sock");
  CHECK("connect bad pointer", connect(c, BADPTR, ul));
  CHECK("connect negative len", connect(c, (struct sockaddr *)&ua, -1));
  CHECK("connect bad fd", connect(-1, (struct sockaddr *)&ua, ul));
  CHECK("connect not a socket", connect(file, (struct sockaddr *)&ua, ul));
  CHECK("connect missing path", connect(c, (struct sockaddr *)&ua, un(&ua, "missing.sock")));
  CHECK("connect to a file", connect(c, (struct sockaddr *)&ua, un(&ua, "file")));
  CHECK("connect to a directory", connect(c, (struct sockaddr *)&ua, un(&ua, "d")));
  CHECK("connect to a bound, not listening socket", connect(c, (struct sockaddr *)&ua, un(&ua, "d/x.sock")));
  CHECK("connect unix path", connect(c, (struct sockaddr *)&ua, un(&ua, "s.sock")));
  say_name("client peer", c, 1);
  say_name("client name", c, 0);
  int a = accept(s, NULL, NULL);
  say_name("accepted name", a, 0);
  say_name("accepted peer", a, 1);
  CHECK("connect again", connect(c, (struct sockaddr *)&ua, un(&ua, "s.sock")));
  CHECK("connect through a symlink to the socket", (symlink("s.sock", "s.link"), connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&ua, un(&ua, "s.link"))));
  int dgs = socket(AF_UNIX, SOCK_DGRAM, 0);
  CHECK("bind dgram", bind(dgs, (struct sockaddr *)&ua, un(&ua, "dg.sock")));
  CHECK("connect stream to a dgram socket", connect(socket(AF_UNIX, SOCK_STREAM, 0), (struct sockaddr *)&ua, un(&ua, "dg.sock")));
  int ic = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in closed = in4("127.0.0.1", 1);
  CHECK("connect inet refused", connect(ic, (struct sockaddr *)&closed, sizeof closed));
  ic = socket(AF_INET, SOCK_STREAM, 0);
  CHECK("connect inet short", connect(ic, (struct sockaddr *)&closed, 8));
  CHECK("connect inet6 address on inet socket", connect(ic, (struct sockaddr *)&i6, sizeof i6));
  CHECK("connect inet", connect(ic, (struct sockaddr *)&ia, sizeof ia));
  say_name("inet peer", ic, 1);
  CHECK("connect inet again", connect(ic, (struct sockaddr *)&ia, sizeof ia));
  int nb = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
  errno = 0;
  int r = connect(nb, (struct sockaddr *)&ia, sizeof ia);
  say("connect nonblocking = %s", r == 0 ? "0" : errno == EINPROGRESS ? "EINPROGRESS" : errname(errno));
  int blocking = fcntl(ic, F_GETFL) & O_NONBLOCK;
  say("blocking socket still blocking after connect = %s", blocking ? "no" : "yes");

  /* sendto / sendmsg / sendmmsg */
  int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in lo = in4("127.0.0.1", 0);
  bind(u1, (struct sockaddr *)&lo, sizeof lo);
  il = sizeof lo;
  getsockname(u1, (struct sockaddr *)&lo, &il);
  CHECK("sendto udp", sendto(u2, "abc", 3, 0, (struct sockaddr *)&lo, sizeof lo));
  char buf[100];
  CHECK("recv udp", recv(u1, buf, sizeof buf, 0));
  CHECK("sendto bad buffer", sendto(u2, BADPTR, 3, 0, (struct sockaddr *)&lo, sizeof lo));
  CHECK("sendto bad address", sendto(u2, "abc", 3, 0, BADPTR, sizeof lo));
  CHECK("sendto address len too big", sendto(u2, "abc", 3, 0, (struct sockaddr *)&lo, 200));
  CHECK("sendto address short", sendto(u2, "abc", 3, 0, (struct sockaddr *)&lo, 4));
  CHECK("sendto bad fd", sendto(-1, "abc", 3, 0, (struct sockaddr *)&lo, sizeof lo));
  CHECK("sendto not a socket", sendto(file, "abc", 3, 0, (struct sockaddr *)&lo, sizeof lo));
  static char big[70000];
  CHECK("sendto udp too big", sendto(u2, big, sizeof big, 0, (struct sockaddr *)&lo, sizeof lo));
  CHECK("sendto no address, unconnected udp", send(u2, "abc", 3, 0));
  CHECK("sendto unix dgram path", sendto(socket(AF_UNIX, SOCK_DGRAM, 0), "hey", 3, 0, (struct sockaddr *)&ua, un(&ua, "dg.sock")));
  CHECK("recv unix dgram", recv(dgs, buf, sizeof buf, MSG_DONTWAIT));
  CHECK("sendto unix dgram missing path", sendto(socket(AF_UNIX, SOCK_DGRAM, 0), "hey", 3, 0, (struct sockaddr *)&ua, un(&ua, "nope.sock")));
  CHECK("sendto unix dgram to a stream socket", sendto(socket(AF_UNIX, SOCK_DGRAM, 0), "hey", 3, 0, (struct sockaddr *)&ua, un(&ua, "s.sock")));
  CHECK("sendto connected stream with an address", sendto(c, "x", 1, 0, (struct sockaddr *)&ua, un(&ua, "s.sock")));

  struct iovec iov[2] = {{"hello ", 6}, {"world", 5}};
  struct msghdr m = {.msg_name = &lo, .msg_namelen = sizeof lo, .msg_iov = iov, .msg_iovlen = 2};
  CHECK("sendmsg udp two iovecs", sendmsg(u2, &m, 0));
  CHECK("recv sendmsg", recv(u1, buf, sizeof buf, 0));
  CHECK("sendmsg bad msghdr", sendmsg(u2, BADPTR, 0));
  m.msg_iovlen = 2000;
  CHECK("sendmsg too many iovecs", sendmsg(u2, &m, 0));
  m.msg_iovlen = 2;
  m.msg_iov = BADPTR;
  CHECK("sendmsg bad iovec array", sendmsg(u2, &m, 0));
  m.msg_iov = iov;
  m.msg_name = BADPTR;
  CHECK("sendmsg bad name", sendmsg(u2, &m, 0));
  m.msg_name = &lo;
  m.msg_namelen = -1;
  CHECK("sendmsg negative namelen", sendmsg(u2, &m, 0));
  m.msg_namelen = sizeof lo;
  union { char b[CMSG_SPACE(2 * sizeof(int))]; struct cmsghdr align; } cm;
  int sp[2];
  socketpair(AF_UNIX, SOCK_DGRAM, 0, sp);
  struct msghdr fm = {.msg_iov = iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = CMSG_SPACE(sizeof(int))};
  struct cmsghdr *cmsg = CMSG_FIRSTHDR(&fm);
  cmsg->cmsg_level = SOL_SOCKET;
  cmsg->cmsg_type = SCM_RIGHTS;
  cmsg->cmsg_len = CMSG_LEN(sizeof(int));
  int bad = 9999;
  memcpy(CMSG_DATA(cmsg), &bad, sizeof bad);
  CHECK("sendmsg SCM_RIGHTS bad fd", sendmsg(sp[0], &fm, 0));
  memcpy(CMSG_DATA(cmsg), &file, sizeof file);
  CHECK("sendmsg SCM_RIGHTS", sendmsg(sp[0], &fm, 0));
  struct msghdr rm = {.msg_iov = iov, .msg_iovlen = 1, .msg_control = cm.b, .msg_controllen = sizeof cm.b};
  char rb[16];
  struct iovec riov = {rb, sizeof rb};
  rm.msg_iov = &riov;
  CHECK("recvmsg SCM_RIGHTS", recvmsg(sp[1], &rm, 0));
  int got = -1;
  cmsg = CMSG_FIRSTHDR(&rm);
  if (cmsg && cmsg->cmsg_type == SCM_RIGHTS) memcpy(&got, CMSG_DATA(cmsg), sizeof got);
  if (got >= 0 && fstat(got, &st) == 0) say_stat("received fd", &st);
  cmsg = CMSG_FIRSTHDR(&fm);
  cmsg->cmsg_len = 4;
  CHECK("sendmsg bad cmsg_len", sendmsg(sp[0], &fm, 0));
  struct mmsghdr mm[3];
  memset(mm, 0, sizeof mm);
  for (int i = 0; i < 3; i++) {
    mm[i].msg_hdr.msg_name = &lo;
    mm[i].msg_hdr.msg_namelen = sizeof lo;
    mm[i].msg_hdr.msg_iov = iov;
    mm[i].msg_hdr.msg_iovlen = 2;
  }
  CHECK("sendmmsg three", sendmmsg(u2, mm, 3, 0));
  say("sendmmsg lens = %u %u %u", mm[0].msg_len, mm[1].msg_len, mm[2].msg_len);
  mm[1].msg_hdr.msg_iov = BADPTR;
  CHECK("sendmmsg second bad", sendmmsg(u2, mm, 3, 0));
  CHECK("sendmmsg bad vector", sendmmsg(u2, BADPTR, 3, 0));

  /* options */
  int one = 1, v = 0;
  socklen_t vl = sizeof v;
  CHECK("setsockopt SO_REUSEADDR", setsockopt(u2, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
  CHECK("getsockopt SO_REUSEADDR", getsockopt(u2, SOL_SOCKET, SO_REUSEADDR, &v, &vl));
  say("SO_REUSEADDR = %d", v);
  CHECK("setsockopt TCP_NODELAY", setsockopt(ic, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one));
  CHECK("setsockopt unknown level", setsockopt(ic, 12345, 1, &one, sizeof one));
  CHECK("getsockopt bad pointer", getsockopt(u2, SOL_SOCKET, SO_TYPE, BADPTR, &vl));
  CHECK("setsockopt not a socket", setsockopt(file, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one));
  unlink("s.sock");
  return 0;
}
