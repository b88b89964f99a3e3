// Seccomp user notification: the listener side of the default platform.
//
// The sentry calls these from one worker thread in a loop: wait, receive into a
// preallocated Uint32Array, handle, reply. Nothing here allocates per trap.
// Notification ids are random 64-bit values, so they cross into JavaScript as two
// 32-bit halves rather than as BigInts.
#include "common.h"

#include <linux/seccomp.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>
#include <cstring>

// Linux 6.6 added the sync wake-up flag; the installed headers may predate it.
#ifndef SECCOMP_IOCTL_NOTIF_SET_FLAGS
#define SECCOMP_IOCTL_NOTIF_SET_FLAGS SECCOMP_IOW(4, __u64)
#endif
#ifndef SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP
#define SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP (1UL << 0)
#endif

namespace tsvisor {
namespace {

uint64_t IdFrom(const Napi::CallbackInfo& info, size_t lo) {
  uint64_t l = info[lo].As<Napi::Number>().Uint32Value();
  uint64_t h = info[lo + 1].As<Napi::Number>().Uint32Value();
  return l | (h << 32);
}

// notifSetSyncWakeup(listenerFd): ask the kernel to wake the notifying task on
// our CPU when we reply (and us on its CPU when it traps): halves the round trip.
Napi::Value SetSyncWakeup(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SET_FLAGS, SECCOMP_USER_NOTIF_FD_SYNC_WAKE_UP, 0) < 0) return Err(info.Env());
  return Ret(info.Env(), 0);
}

// notifWait(listenerFd, wakeFd, timeoutMs) -> bitmask or -errno
//   1: a notification is pending   2: no task uses the filter any more (POLLHUP)
//   4: wakeFd (an eventfd) was signalled; it is drained here
// 0 means the timeout passed or a signal interrupted the wait.
Napi::Value Wait(const Napi::CallbackInfo& info) {
  int listener = ArgInt(info, 0);
  int wake = ArgInt(info, 1);
  int timeout = ArgInt(info, 2);
  struct pollfd pfd[2];
  pfd[0].fd = listener;
  pfd[0].events = POLLIN;
  pfd[0].revents = 0;
  pfd[1].fd = wake;
  pfd[1].events = POLLIN;
  pfd[1].revents = 0;
  int n = poll(pfd, wake >= 0 ? 2 : 1, timeout);
  if (n < 0) return errno == EINTR ? Ret(info.Env(), 0) : Err(info.Env());
  int mask = 0;
  if (pfd[0].revents & POLLIN) mask |= 1;
  if (pfd[0].revents & (POLLHUP | POLLERR | POLLNVAL)) mask |= 2;
  if (wake >= 0 && (pfd[1].revents & POLLIN)) {
    uint64_t v;
    if (read(wake, &v, sizeof v) < 0) { /* drained by another reader: fine */ }
    mask |= 4;
  }
  return Ret(info.Env(), mask);
}

// notifRecv(listenerFd, out: Uint32Array(20)) -> 0 or -errno
// out receives struct seccomp_notif as-is (80 bytes): id, pid, flags, nr, arch,
// ip, args[6]. ENOENT means the task died before we could read it.
Napi::Value Recv(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  Napi::Uint32Array out = info[1].As<Napi::Uint32Array>();
  static_assert(sizeof(struct seccomp_notif) == 80, "seccomp_notif layout");
  if (out.ByteLength() < sizeof(struct seccomp_notif)) return Ret(info.Env(), -EINVAL);
  struct seccomp_notif* n = reinterpret_cast<struct seccomp_notif*>(out.Data());
  memset(n, 0, sizeof *n);  // the kernel insists on a zeroed buffer
  for (;;) {
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_RECV, n) == 0) return Ret(info.Env(), 0);
    if (errno != EINTR) return Err(info.Env());
  }
}

// notifSend(listenerFd, idLo, idHi, value, error, flags) -> 0 or -errno
// error is a positive errno to fail the syscall with, or 0 to return value.
// flags may be SECCOMP_USER_NOTIF_FLAG_CONTINUE.
Napi::Value Send(const Napi::CallbackInfo& info) {
  struct seccomp_notif_resp r;
  memset(&r, 0, sizeof r);
  int fd = ArgInt(info, 0);
  r.id = IdFrom(info, 1);
  r.val = ArgI64(info, 3);
  r.error = -ArgInt(info, 4);
  r.flags = (uint32_t)ArgInt(info, 5);
  for (;;) {
    if (ioctl(fd, SECCOMP_IOCTL_NOTIF_SEND, &r) == 0) return Ret(info.Env(), 0);
    if (errno != EINTR) return Err(info.Env());
  }
}

// notifAddFd(listenerFd, idLo, idHi, srcFd, newFd, newFdFlags, flags) -> fd or -errno
// Installs srcFd (one of ours) into the task. With SECCOMP_ADDFD_FLAG_SEND this
// also answers the syscall with the new fd number, saving one wake-up.
Napi::Value AddFd(const Napi::CallbackInfo& info) {
  struct seccomp_notif_addfd a;
  memset(&a, 0, sizeof a);
  int fd = ArgInt(info, 0);
  a.id = IdFrom(info, 1);
  a.srcfd = (uint32_t)ArgInt(info, 3);
  a.newfd = (uint32_t)ArgInt(info, 4);
  a.newfd_flags = (uint32_t)ArgInt(info, 5);
  a.flags = (uint32_t)ArgInt(info, 6);
  for (;;) {
    int r = ioctl(fd, SECCOMP_IOCTL_NOTIF_ADDFD, &a);
    if (r >= 0) return Ret(info.Env(), r);
    if (errno != EINTR) return Err(info.Env());
  }
}

// notifIdValid(listenerFd, idLo, idHi) -> 0 if the task still waits, else -ENOENT
Napi::Value IdValid(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  uint64_t id = IdFrom(info, 1);
  if (ioctl(fd, SECCOMP_IOCTL_NOTIF_ID_VALID, &id) < 0) return Err(info.Env());
  return Ret(info.Env(), 0);
}

// fdReadable(fd) -> 1 if poll says readable now, 0 if not, or -errno.
// On a pidfd, readable means the process has exited.
Napi::Value FdReadable(const Napi::CallbackInfo& info) {
  struct pollfd p = {ArgInt(info, 0), POLLIN, 0};
  int n = poll(&p, 1, 0);
  if (n < 0) return Err(info.Env());
  return Ret(info.Env(), (p.revents & (POLLIN | POLLHUP)) ? 1 : 0);
}

// eventfd(): a wake-up channel for the notification loop.
Napi::Value EventFd(const Napi::CallbackInfo& info) {
  int fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  return fd < 0 ? Err(info.Env()) : Ret(info.Env(), fd);
}

Napi::Value EventFdSignal(const Napi::CallbackInfo& info) {
  uint64_t one = 1;
  if (write(ArgInt(info, 0), &one, sizeof one) < 0) return Err(info.Env());
  return Ret(info.Env(), 0);
}

}  // namespace

void InitNotify(Napi::Env env, Napi::Object e) {
  e.Set("notifSetSyncWakeup", Napi::Function::New(env, SetSyncWakeup));
  e.Set("notifWait", Napi::Function::New(env, Wait));
  e.Set("notifRecv", Napi::Function::New(env, Recv));
  e.Set("notifSend", Napi::Function::New(env, Send));
  e.Set("notifAddFd", Napi::Function::New(env, AddFd));
  e.Set("notifIdValid", Napi::Function::New(env, IdValid));
  e.Set("eventfd", Napi::Function::New(env, EventFd));
  e.Set("fdReadable", Napi::Function::New(env, FdReadable));
  e.Set("eventfdSignal", Napi::Function::New(env, EventFdSignal));
}

}  // namespace tsvisor
