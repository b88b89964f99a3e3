// The few fd-level calls the sentry makes itself: stat of an fd it was handed,
// memfds for synthetic file contents, openat2 below a directory it holds (the
// sandbox's procfs), and prlimit on a task. Host files are opened by the gofer,
// never here.
#include "common.h"

#include <fcntl.h>
#include <linux/openat2.h>
#include <sched.h>
#include <sys/file.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#ifndef SYS_openat2
#define SYS_openat2 437
#endif

namespace tsvisor {
namespace {

// A path argument arrives as a latin1 JS string: one char per byte, so any byte
// sequence a program used survives the round trip.
std::string Latin1(const Napi::Value& v) {
  std::u16string s = v.As<Napi::String>().Utf16Value();
  std::string out(s.size(), '\0');
  for (size_t i = 0; i < s.size(); i++) out[i] = (char)(s[i] & 0xff);
  return out;
}

// fstatRaw(fd, buf) -> 0 or -errno; buf receives struct stat (144 bytes), the
// exact layout newfstatat copies to user space on x86_64.
Napi::Value FstatRaw(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  if (buf.ByteLength() < sizeof(struct stat)) return Ret(info.Env(), -EINVAL);
  if (fstat(ArgInt(info, 0), reinterpret_cast<struct stat*>(buf.Data())) < 0) return Err(info.Env());
  return Ret(info.Env(), 0);
}

// statxRaw(fd, flags, mask, buf) -> 0 or -errno; statx(fd, "", AT_EMPTY_PATH|flags).
Napi::Value StatxRaw(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buf = info[3].As<Napi::Uint8Array>();
  if (buf.ByteLength() < sizeof(struct statx)) return Ret(info.Env(), -EINVAL);
  int r = statx(ArgInt(info, 0), "", AT_EMPTY_PATH | ArgInt(info, 1), (unsigned)ArgInt(info, 2),
                reinterpret_cast<struct statx*>(buf.Data()));
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), 0);
}

// The open_how of arguments first (flags), first + 1 (mode), first + 2
// (resolve); always close-on-exec.
static struct open_how OpenHow(const Napi::CallbackInfo& info, size_t first) {
  struct open_how how;
  memset(&how, 0, sizeof how);
  how.flags = (uint64_t)(uint32_t)ArgInt(info, first) | O_CLOEXEC;
  how.mode = (uint64_t)(uint32_t)ArgInt(info, first + 1);
  how.resolve = (uint64_t)(uint32_t)ArgInt(info, first + 2);
  return how;
}

// openat2(dirfd, path, flags, mode, resolve) -> fd (close-on-exec) or -errno
Napi::Value Openat2(const Napi::CallbackInfo& info) {
  std::string path = Latin1(info[1]);
  struct open_how how = OpenHow(info, 2);
  long r = syscall(SYS_openat2, ArgInt(info, 0), path.c_str(), &how, sizeof how);
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), r);
}

// openat2InNamespaces(nsFds, dirfd, path, flags, mode, resolve) -> fd or
// -errno: openat2 from a short-lived thread that first joins the namespaces
// nsFds name (setns). /proc/sys picks a sysctl's namespace (network, ipc,
// uts) by the task that looks it up, so a sandbox's own values show only to
// a lookup made from inside its namespaces; the fd keeps them afterwards.
Napi::Value Openat2InNamespaces(const Napi::CallbackInfo& info) {
  Napi::Int32Array ns = info[0].As<Napi::Int32Array>();
  std::vector<int> nsFds(ns.Data(), ns.Data() + ns.ElementLength());
  int dirfd = ArgInt(info, 1);
  std::string path = Latin1(info[2]);
  struct open_how how = OpenHow(info, 3);
  long result = -EINVAL;
  std::thread opener([&] {
    for (int fd : nsFds) {
      if (setns(fd, 0) < 0) {
        result = -errno;
        return;
      }
    }
    long r = syscall(SYS_openat2, dirfd, path.c_str(), &how, sizeof how);
    result = r < 0 ? -errno : r;
  });
  opener.join();
  return Ret(info.Env(), result);
}

// memfdCreate(name) -> fd or -errno: backing for a synthetic file's contents.
Napi::Value MemfdCreate(const Napi::CallbackInfo& info) {
  std::string name = Latin1(info[0]);
  int fd = memfd_create(name.c_str(), MFD_CLOEXEC);
  return fd < 0 ? Err(info.Env()) : Ret(info.Env(), fd);
}

// pwriteAll(fd, buf, len, offset) -> len or -errno
Napi::Value PwriteAll(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  size_t len = (size_t)ArgI64(info, 2);
  off_t off = (off_t)ArgI64(info, 3);
  if (len > buf.ByteLength()) return Ret(info.Env(), -EINVAL);
  size_t done = 0;
  while (done < len) {
    ssize_t n = pwrite(fd, buf.Data() + done, len - done, off + (off_t)done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return Err(info.Env());
    }
    done += (size_t)n;
  }
  return Ret(info.Env(), (long long)done);
}

// pread(fd, buf, len, offset) -> bytes or -errno
Napi::Value Pread(const Napi::CallbackInfo& info) {
  int fd = ArgInt(info, 0);
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  size_t len = (size_t)ArgI64(info, 2);
  if (len > buf.ByteLength()) return Ret(info.Env(), -EINVAL);
  ssize_t n = pread(fd, buf.Data(), len, (off_t)ArgI64(info, 3));
  return n < 0 ? Err(info.Env()) : Ret(info.Env(), n);
}

// prlimit(pid, resource, newBuf|null, oldBuf|null) -> 0 or -errno. The buffers
// hold struct rlimit as a program passes it, so they go to and from task memory
// unchanged (RLIM_INFINITY does not fit a JS number).
Napi::Value Prlimit(const Napi::CallbackInfo& info) {
  const struct rlimit* nl = nullptr;
  struct rlimit* ol = nullptr;
  if (info[2].IsTypedArray()) {
    Napi::Uint8Array b = info[2].As<Napi::Uint8Array>();
    if (b.ByteLength() < sizeof(struct rlimit)) return Ret(info.Env(), -EINVAL);
    nl = reinterpret_cast<const struct rlimit*>(b.Data());
  }
  if (info[3].IsTypedArray()) {
    Napi::Uint8Array b = info[3].As<Napi::Uint8Array>();
    if (b.ByteLength() < sizeof(struct rlimit)) return Ret(info.Env(), -EINVAL);
    ol = reinterpret_cast<struct rlimit*>(b.Data());
  }
  if (prlimit(ArgInt(info, 0), (__rlimit_resource)ArgInt(info, 1), nl, ol) < 0) return Err(info.Env());
  return Ret(info.Env(), 0);
}

// readlinkFd(fd, buf) -> length or -errno: readlinkat(fd, "") on an O_PATH fd
// of a symlink (the program's own, borrowed with pidfd_getfd).
Napi::Value ReadlinkFd(const Napi::CallbackInfo& info) {
  Napi::Uint8Array buf = info[1].As<Napi::Uint8Array>();
  ssize_t n = readlinkat(ArgInt(info, 0), "", reinterpret_cast<char*>(buf.Data()), buf.ByteLength());
  return n < 0 ? Err(info.Env()) : Ret(info.Env(), n);
}

// setWindowSize(fd, rows, cols) -> 0 or -errno: TIOCSWINSZ on a terminal fd
// (tsvisor do's pty master: the kernel then sends SIGWINCH to the program's
// foreground job, as a real terminal does on a resize). Node has no ioctl.
Napi::Value SetWindowSize(const Napi::CallbackInfo& info) {
  int32_t rows = ArgInt(info, 1), cols = ArgInt(info, 2);
  if (rows < 0 || rows > 0xffff || cols < 0 || cols > 0xffff) return Ret(info.Env(), -EINVAL);
  struct winsize ws;
  memset(&ws, 0, sizeof ws);
  ws.ws_row = (unsigned short)rows;
  ws.ws_col = (unsigned short)cols;
  return ioctl(ArgInt(info, 0), TIOCSWINSZ, &ws) < 0 ? Err(info.Env()) : Ret(info.Env(), 0);
}

}  // namespace

// flock(fd, operation) -> 0 or -errno. A wait interrupted by a signal goes
// on waiting: for the OCI commands' container locks, a signal is not a
// failure to lock.
Napi::Value Flock(const Napi::CallbackInfo& info) {
  int r;
  do {
    r = flock(ArgInt(info, 0), ArgInt(info, 1));
  } while (r < 0 && errno == EINTR);
  return r < 0 ? Err(info.Env()) : Ret(info.Env(), 0);
}

void InitFsOps(Napi::Env env, Napi::Object e) {
  e.Set("flock", Napi::Function::New(env, Flock));
  e.Set("fstatRaw", Napi::Function::New(env, FstatRaw));
  e.Set("statxRaw", Napi::Function::New(env, StatxRaw));
  e.Set("openat2", Napi::Function::New(env, Openat2));
  e.Set("openat2InNamespaces", Napi::Function::New(env, Openat2InNamespaces));
  e.Set("memfdCreate", Napi::Function::New(env, MemfdCreate));
  e.Set("pwriteAll", Napi::Function::New(env, PwriteAll));
  e.Set("pread", Napi::Function::New(env, Pread));
  e.Set("prlimit", Napi::Function::New(env, Prlimit));
  e.Set("readlinkFd", Napi::Function::New(env, ReadlinkFd));
  e.Set("setWindowSize", Napi::Function::New(env, SetWindowSize));
}

}  // namespace tsvisor
