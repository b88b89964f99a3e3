// File descriptors between processes: unix socket pairs, SCM_RIGHTS, pidfds.
// The gofer hands every host file to the sentry this way, and the launcher hands
// over the seccomp listener.
#include "common.h"

#include <poll.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cstring>

#ifndef SYS_pidfd_open
#define SYS_pidfd_open 434
#endif
#ifndef SYS_pidfd_getfd
#define SYS_pidfd_getfd 438
#endif

namespace tsvisor {
namespace {

constexpr int kMaxFds = 16;

// socketpair(seqpacket: boolean) -> Int32Array [a, b] or a negative errno number.
// Both ends are close-on-exec; a child that must inherit one gets it via stdio.
Napi::Value SocketPair(const Napi::CallbackInfo& info) {
  int type = info[0].As<Napi::Boolean>().Value() ? SOCK_SEQPACKET : SOCK_STREAM;
  int sv[2];
  if (socketpair(AF_UNIX, type | SOCK_CLOEXEC, 0, sv) < 0) return Err(info.Env());
  Napi::Int32Array out = Napi::Int32Array::New(info.Env(), 2);
  out[0] = sv[0];
  out[1] = sv[1];
  return out;
}

// sendMsg(sock, data: Uint8Array, len, fds: Int32Array, nfds) -> bytes or -errno
Napi::Value SendMsg(const Napi::CallbackInfo& info) {
  int sock = ArgInt(info, 0);
  Napi::Uint8Array data = info[1].As<Napi::Uint8Array>();
  size_t len = (size_t)ArgI64(info, 2);
  Napi::Int32Array fds = info[3].As<Napi::Int32Array>();
  int nfds = ArgInt(info, 4);
  if (len > data.ByteLength() || nfds < 0 || nfds > kMaxFds || (size_t)nfds > fds.ElementLength())
    return Ret(info.Env(), -EINVAL);
  struct iovec iov = {data.Data(), len};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
  if (nfds > 0) {
    msg.msg_control = cbuf;
    msg.msg_controllen = CMSG_SPACE(sizeof(int) * nfds);
    struct cmsghdr* c = CMSG_FIRSTHDR(&msg);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * nfds);
    memcpy(CMSG_DATA(c), fds.Data(), sizeof(int) * nfds);
  }
  for (;;) {
    ssize_t n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    if (n >= 0) return Ret(info.Env(), n);
    if (errno != EINTR) return Err(info.Env());
  }
}

// recvMsg(sock, buf: Uint8Array, fdsOut: Int32Array, timeoutMs = -1) -> bytes or -errno
// fdsOut[0] receives the number of fds, fdsOut[1..] the fds (close-on-exec).
// A message cut short (MSG_TRUNC/MSG_CTRUNC) is an error: -EMSGSIZE, its fds closed.
// With timeoutMs >= 0, -ETIMEDOUT when nothing arrives in that time.
Napi::Value RecvMsg(const Napi::CallbackInfo& info) {
  int sock = ArgInt(info, 0);
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  Napi::Int32Array fdsOut = info[2].As<Napi::Int32Array>();
  int timeoutMs = info.Length() > 3 ? ArgInt(info, 3) : -1;
  if (timeoutMs >= 0) {
    struct pollfd p = {sock, POLLIN, 0};
    int r;
    do r = poll(&p, 1, timeoutMs);
    while (r < 0 && errno == EINTR);
    if (r < 0) return Err(info.Env());
    if (r == 0) return Ret(info.Env(), -ETIMEDOUT);
  }
  struct iovec iov = {buf.Data(), buf.ByteLength()};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * kMaxFds)];
  msg.msg_control = cbuf;
  msg.msg_controllen = sizeof cbuf;
  ssize_t n;
  for (;;) {
    n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC);
    if (n >= 0) break;
    if (errno != EINTR) return Err(info.Env());
  }
  int count = 0;
  size_t cap = fdsOut.ElementLength() > 0 ? fdsOut.ElementLength() - 1 : 0;
  for (struct cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
    if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
    int k = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
    int* p = reinterpret_cast<int*>(CMSG_DATA(c));
    for (int i = 0; i < k; i++) {
      if ((size_t)count < cap) fdsOut[1 + count++] = p[i];
      else close(p[i]);  // more than asked for: never leak
    }
  }
  if (fdsOut.ElementLength() > 0) fdsOut[0] = count;
  if (msg.msg_flags & (MSG_TRUNC | MSG_CTRUNC)) {
    for (int i = 0; i < count; i++) close(fdsOut[1 + i]);
    if (fdsOut.ElementLength() > 0) fdsOut[0] = 0;
    return Ret(info.Env(), -EMSGSIZE);
  }
  return Ret(info.Env(), n);
}

Napi::Value Close(const Napi::CallbackInfo& info) {
  return close(ArgInt(info, 0)) < 0 ? Err(info.Env()) : Ret(info.Env(), 0);
}

// pidfdOpen(pid, flags) -> pidfd or -errno
Napi::Value PidfdOpen(const Napi::CallbackInfo& info) {
  long r = syscall(SYS_pidfd_open, ArgInt(info, 0), (unsigned)ArgInt(info, 1));
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), r);
}

// pidfdGetfd(pidfd, targetFd) -> a duplicate (same open file description) of
// the task's fd, close-on-exec in this process, or -errno (EBADF: no such fd).
Napi::Value PidfdGetfd(const Napi::CallbackInfo& info) {
  long r = syscall(SYS_pidfd_getfd, ArgInt(info, 0), ArgInt(info, 1), 0);
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), r);
}

// threadSignal(tid, sig) -> 0 or -errno: tkill, a signal for that one thread
// (kill() of a thread's id would signal its whole group).
Napi::Value ThreadSignal(const Napi::CallbackInfo& info) {
  long r = syscall(SYS_tkill, ArgInt(info, 0), ArgInt(info, 1));
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), 0);
}

}  // namespace

void InitFdPass(Napi::Env env, Napi::Object e) {
  e.Set("socketpair", Napi::Function::New(env, SocketPair));
  e.Set("sendMsg", Napi::Function::New(env, SendMsg));
  e.Set("recvMsg", Napi::Function::New(env, RecvMsg));
  e.Set("close", Napi::Function::New(env, Close));
  e.Set("pidfdOpen", Napi::Function::New(env, PidfdOpen));
  e.Set("pidfdGetfd", Napi::Function::New(env, PidfdGetfd));
  e.Set("threadSignal", Napi::Function::New(env, ThreadSignal));
}

}  // namespace tsvisor
