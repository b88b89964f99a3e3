// Socket calls the sentry makes on its own copy (pidfd_getfd) of a program's
// socket, and the gofer on a socket the sentry hands it: bind, connect,
// getsockname/getpeername, getsockopt, sendmsg with a prepared address and
// control buffer, poll, and the file status flags. No policy here: the
// TypeScript side has checked every byte it passes.
#include "common.h"

#include <sys/syscall.h>

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>
#include <cstring>

namespace tsvisor {
namespace {

// Optional byte buffer argument: null/undefined -> nullptr.
uint8_t* BytesOrNull(const Napi::CallbackInfo& info, size_t i, size_t* len) {
  if (info.Length() <= i || !info[i].IsTypedArray()) {
    *len = 0;
    return nullptr;
  }
  Napi::Uint8Array a = info[i].As<Napi::Uint8Array>();
  *len = a.ByteLength();
  return a.Data();
}

// sockBind(fd, addr: Uint8Array, len) -> 0 or -errno
Napi::Value SockBind(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* addr = BytesOrNull(info, 1, &cap);
  int64_t len = ArgI64(info, 2);
  if (len < 0 || (size_t)len > cap) return Ret(info.Env(), -EINVAL);
  return bind(ArgInt(info, 0), reinterpret_cast<sockaddr*>(addr), (socklen_t)len) < 0 ? Err(info.Env()) : Ret(info.Env(), 0);
}

// sockConnect(fd, addr: Uint8Array, len) -> 0 or -errno (EINTR retried: the sentry's
// copy is non-blocking whenever the connect could wait).
Napi::Value SockConnect(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* addr = BytesOrNull(info, 1, &cap);
  int64_t len = ArgI64(info, 2);
  if (len < 0 || (size_t)len > cap) return Ret(info.Env(), -EINVAL);
  int r = connect(ArgInt(info, 0), reinterpret_cast<sockaddr*>(addr), (socklen_t)len);
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), 0);
}

// sockConnectAs(fd, addr: Uint8Array, len, euid, egid) -> 0 or -errno: connect
// with this thread's effective ids set to the task's for the length of the
// call, so that the listener's SO_PEERCRED (taken from the connecting
// thread's credentials) names the task's user and group, not the sentry's
// root. Raw syscalls: glibc's setresuid would change every thread of the
// sentry. The real and saved ids stay 0, so going back to 0 restores the
// effective capabilities (from the permitted set, which is kept).
Napi::Value SockConnectAs(const Napi::CallbackInfo& info) {
  size_t cap;
  uint8_t* addr = BytesOrNull(info, 1, &cap);
  int64_t len = ArgI64(info, 2);
  long euid = ArgI64(info, 3);
  long egid = ArgI64(info, 4);
  if (len < 0 || (size_t)len > cap) return Ret(info.Env(), -EINVAL);
  if (syscall(SYS_setresgid, -1L, egid, -1L) < 0) return Err(info.Env());
  if (syscall(SYS_setresuid, -1L, euid, -1L) < 0) {
    long e = -errno;
    syscall(SYS_setresgid, -1L, 0L, -1L);
    return Ret(info.Env(), e);
  }
  int r = connect(ArgInt(info, 0), reinterpret_cast<sockaddr*>(addr), (socklen_t)len);
  int e = errno;
  // Cannot fail: the real and saved ids are 0.
  syscall(SYS_setresuid, -1L, 0L, -1L);
  syscall(SYS_setresgid, -1L, 0L, -1L);
  return r < 0 ? Ret(info.Env(), -e) : Ret(info.Env(), 0);
}

// sockName(fd, peer: boolean, out: Uint8Array) -> the address's full length
// (which may exceed out's) or -errno
Napi::Value SockName(const Napi::CallbackInfo& info) {
  Napi::Uint8Array out = info[2].As<Napi::Uint8Array>();
  socklen_t len = (socklen_t)out.ByteLength();
  int fd = ArgInt(info, 0);
  auto* sa = reinterpret_cast<sockaddr*>(out.Data());
  int r = info[1].As<Napi::Boolean>().Value() ? getpeername(fd, sa, &len) : getsockname(fd, sa, &len);
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), len);
}

// sockGetOpt(fd, level, name, out: Uint8Array) -> bytes written or -errno
Napi::Value SockGetOpt(const Napi::CallbackInfo& info) {
  Napi::Uint8Array out = info[3].As<Napi::Uint8Array>();
  socklen_t len = (socklen_t)out.ByteLength();
  int r = getsockopt(ArgInt(info, 0), ArgInt(info, 1), ArgInt(info, 2), out.Data(), &len);
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), len);
}

// sockSendMsg(fd, name: Uint8Array|null, nameLen, data: Uint8Array, dataLen,
//             control: Uint8Array|null, controlLen, flags) -> bytes sent or -errno
Napi::Value SockSendMsg(const Napi::CallbackInfo& info) {
  size_t nameCap, dataCap, controlCap;
  uint8_t* name = BytesOrNull(info, 1, &nameCap);
  int64_t nameLen = ArgI64(info, 2);
  uint8_t* data = BytesOrNull(info, 3, &dataCap);
  int64_t dataLen = ArgI64(info, 4);
  uint8_t* control = BytesOrNull(info, 5, &controlCap);
  int64_t controlLen = ArgI64(info, 6);
  if (nameLen < 0 || (size_t)nameLen > nameCap || dataLen < 0 || (size_t)dataLen > dataCap ||
      controlLen < 0 || (size_t)controlLen > controlCap)
    return Ret(info.Env(), -EINVAL);
  struct iovec iov = {data, (size_t)dataLen};
  struct msghdr msg;
  memset(&msg, 0, sizeof msg);
  msg.msg_name = nameLen > 0 ? name : nullptr;
  msg.msg_namelen = (socklen_t)nameLen;
  msg.msg_iov = &iov;
  msg.msg_iovlen = 1;
  msg.msg_control = controlLen > 0 ? control : nullptr;
  msg.msg_controllen = (size_t)controlLen;
  ssize_t n = sendmsg(ArgInt(info, 0), &msg, ArgInt(info, 7));
  return n < 0 ? Err(info.Env()) : Ret(info.Env(), n);
}

// sockPoll(fds: Int32Array [fd, events, revents]*, timeoutMs) -> ready count or -errno
Napi::Value SockPoll(const Napi::CallbackInfo& info) {
  Napi::Int32Array a = info[0].As<Napi::Int32Array>();
  size_t n = a.ElementLength() / 3;
  if (n > 1024) return Ret(info.Env(), -EINVAL);
  struct pollfd p[1024];
  for (size_t i = 0; i < n; i++) {
    p[i].fd = a[3 * i];
    p[i].events = (short)a[3 * i + 1];
    p[i].revents = 0;
  }
  int r = poll(p, n, ArgInt(info, 1));
  if (r < 0) return Err(info.Env());
  for (size_t i = 0; i < n; i++) a[3 * i + 2] = p[i].revents;
  return Ret(info.Env(), r);
}

// fdGetFlags(fd) -> F_GETFL or -errno; fdSetFlags(fd, flags) -> 0 or -errno
Napi::Value FdGetFlags(const Napi::CallbackInfo& info) {
  int r = fcntl(ArgInt(info, 0), F_GETFL);
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), r);
}
Napi::Value FdSetFlags(const Napi::CallbackInfo& info) {
  int r = fcntl(ArgInt(info, 0), F_SETFL, ArgInt(info, 1));
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), 0);
}

}  // namespace

void InitNet(Napi::Env env, Napi::Object e) {
  e.Set("sockBind", Napi::Function::New(env, SockBind));
  e.Set("sockConnect", Napi::Function::New(env, SockConnect));
  e.Set("sockConnectAs", Napi::Function::New(env, SockConnectAs));
  e.Set("sockName", Napi::Function::New(env, SockName));
  e.Set("sockGetOpt", Napi::Function::New(env, SockGetOpt));
  e.Set("sockSendMsg", Napi::Function::New(env, SockSendMsg));
  e.Set("sockPoll", Napi::Function::New(env, SockPoll));
  e.Set("fdGetFlags", Napi::Function::New(env, FdGetFlags));
  e.Set("fdSetFlags", Napi::Function::New(env, FdSetFlags));
}

}  // namespace tsvisor
