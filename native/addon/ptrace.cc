// The ptrace platform's tracer side (x86_64). The filter's trap action is
// SECCOMP_RET_TRACE: a trapped syscall stops its thread in a
// PTRACE_EVENT_SECCOMP stop, and the sentry answers by rewriting registers.
//
// The tracer is a thread, not a process: whatever thread called PTRACE_SEIZE
// (the sentry's worker) is the only one that may wait for, read and resume the
// tracees, so every function here must be called from that thread. Its waits
// use __WNOTHREAD, so they never reap the children libuv spawned from the main
// thread (libuv itself waits for those by pid, never with -1).
//
// ptraceWait() hides every stop that is not a trap (fork/clone/exec events, a
// new tracee's first stop, signal-delivery-stops, group-stops) and returns
// only traps and exits, so the JavaScript loop sees what it saw with seccomp
// notifications. Nothing is allocated per trap.
#include "common.h"

#include <fcntl.h>
#include <signal.h>
#include <pthread.h>
#include <sys/ptrace.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cstring>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL  // Linux 6.9: a pidfd of one thread (ours are threads' ids)
#endif

namespace tsvisor {
namespace {

constexpr int kTrap = 1;
constexpr int kExit = 2;
constexpr int kNone = 0;
constexpr int kTimeout = 3;

constexpr long kOptions = PTRACE_O_TRACESECCOMP | PTRACE_O_TRACEFORK | PTRACE_O_TRACEVFORK | PTRACE_O_TRACECLONE |
                          PTRACE_O_TRACEEXEC | PTRACE_O_TRACESYSGOOD | PTRACE_O_EXITKILL;

// The trap being handled: its registers as they were at the seccomp stop, and
// whether injected syscalls moved it on to a syscall-exit stop. Only this
// task can have syscalls injected (a parked trap only gets an answer).
struct Current {
  pid_t tid = -1;
  struct user_regs_struct regs;
  bool atExit = false;
  // Signals that arrived while we injected: raised again once it runs.
  int sigs[8];
  int nsigs = 0;
} cur;

// Exits seen by an injection's targeted wait; ptraceWait returns them first.
constexpr int kMaxPending = 64;
struct PendingExit {
  pid_t tid;
  int status;
};
PendingExit pending[kMaxPending];
int npending = 0;

void FillTrap(uint32_t* w, pid_t tid, const struct user_regs_struct& r) {
  // Same layout as struct seccomp_notif: pid at word 2, nr at 4, args from 8.
  w[2] = (uint32_t)tid;
  w[4] = (uint32_t)r.orig_rax;
  const unsigned long long args[6] = {r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9};
  for (int i = 0; i < 6; i++) {
    w[8 + 2 * i] = (uint32_t)args[i];
    w[9 + 2 * i] = (uint32_t)(args[i] >> 32);
  }
}

void FillExit(uint32_t* w, pid_t tid, int status) {
  w[2] = (uint32_t)tid;
  w[3] = (uint32_t)status;
}

bool IsStopSignal(int sig) { return sig == SIGSTOP || sig == SIGTSTP || sig == SIGTTIN || sig == SIGTTOU; }

// ptraceSeize(pid) -> 0 or -errno. The calling thread becomes the tracer.
Napi::Value Seize(const Napi::CallbackInfo& info) {
  // Every tracee stop would send SIGCHLD to this process, waking the main
  // thread's libuv (which then waitpid()s each of its children) once per
  // trap: SA_NOCLDSTOP keeps stops quiet. libuv only reaps exits, which
  // still signal. And the signals that do come go to other threads, not
  // into our waits.
  struct sigaction sa;
  if (sigaction(SIGCHLD, nullptr, &sa) == 0 && !(sa.sa_flags & SA_NOCLDSTOP)) {
    sa.sa_flags |= SA_NOCLDSTOP;
    sigaction(SIGCHLD, &sa, nullptr);
  }
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  if (ptrace(PTRACE_SEIZE, ArgInt(info, 0), 0, kOptions) < 0) return Err(info.Env());
  return Ret(info.Env(), 0);
}

// Handles one stop that is not a trap; the tracee runs on (or stays stopped
// in a group-stop, listening).
void ResumeNonTrap(pid_t pid, int status) {
  int sig = WSTOPSIG(status);
  int event = (unsigned)status >> 16;
  if (event == PTRACE_EVENT_STOP) {
    // A group-stop (the program stopped itself, or was stopped) must stop it
    // for real, and let SIGCONT end it: LISTEN. Otherwise (SIGTRAP): a new
    // tracee's first stop, or the end of a listened-to group-stop.
    if (IsStopSignal(sig)) ptrace(PTRACE_LISTEN, pid, 0, 0);
    else ptrace(PTRACE_CONT, pid, 0, 0);
    return;
  }
  if (event != 0 || sig == (SIGTRAP | 0x80)) {
    // fork/vfork/clone (the child is traced already), exec, a stray syscall-stop.
    ptrace(PTRACE_CONT, pid, 0, 0);
    return;
  }
  // A signal-delivery-stop: deliver it as the program's kernel would.
  ptrace(PTRACE_CONT, pid, 0, sig);
}

// ptraceWait(out: Uint32Array(20), timeoutMs) -> 1 trap, 2 exit, 3 timeout, 0 no tracee
// left, or -errno.
//   trap: out[2] tid, out[4] nr, out[8..19] args (seccomp_notif's layout)
//   exit: out[2] tid, out[3] the wait status
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Uint32Array out = info[0].As<Napi::Uint32Array>();
  int timeoutMs = ArgInt(info, 1);
  if (out.ElementLength() < 20) return Ret(info.Env(), -EINVAL);
  uint32_t* w = out.Data();
  if (npending > 0) {
    npending--;
    FillExit(w, pending[npending].tid, pending[npending].status);
    return Ret(info.Env(), kExit);
  }
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int status;
    pid_t pid = waitpid(-1, &status, __WALL | __WNOTHREAD | (timeoutMs >= 0 ? WNOHANG : 0));
    if (pid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return Ret(info.Env(), kNone);
      return Err(info.Env());
    }
    if (pid == 0) {
      // Only with a timeout (not used on the hot path): poll each millisecond.
      struct timespec now;
      clock_gettime(CLOCK_MONOTONIC, &now);
      long ms = (now.tv_sec - start.tv_sec) * 1000 + (now.tv_nsec - start.tv_nsec) / 1000000;
      if (ms >= timeoutMs) return Ret(info.Env(), kTimeout);
      struct timespec d = {0, 1000000};
      nanosleep(&d, nullptr);
      continue;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      if (pid == cur.tid) cur.tid = -1;
      FillExit(w, pid, status);
      return Ret(info.Env(), kExit);
    }
    if (!WIFSTOPPED(status)) continue;
    if ((unsigned)status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
      // ESRCH: killed meanwhile; its exit comes next.
      if (ptrace(PTRACE_GETREGS, pid, 0, &cur.regs) < 0) continue;
      cur.tid = pid;
      cur.atExit = false;
      cur.nsigs = 0;
      FillTrap(w, pid, cur.regs);
      return Ret(info.Env(), kTrap);
    }
    ResumeNonTrap(pid, status);
  }
}

// Makes cur the task tid (a parked trap answered later): its registers now.
bool Select(pid_t tid) {
  if (cur.tid == tid) return true;
  if (ptrace(PTRACE_GETREGS, tid, 0, &cur.regs) < 0) return false;
  cur.tid = tid;
  cur.atExit = false;
  cur.nsigs = 0;
  return true;
}

void Resume(pid_t tid) {
  ptrace(PTRACE_CONT, tid, 0, 0);
  if (cur.tid == tid) {
    for (int i = 0; i < cur.nsigs; i++) syscall(SYS_tkill, tid, cur.sigs[i]);
    cur.tid = -1;
  }
}

// ptraceReply(tid, value, mode) -> 0 or -errno.
//   mode 0: skip the syscall, returning value (a -errno for an error)
//   mode 1: let the kernel run it as asked
Napi::Value Reply(const Napi::CallbackInfo& info) {
  pid_t tid = ArgInt(info, 0);
  int64_t value = ArgI64(info, 1);
  int mode = ArgInt(info, 2);
  if (!Select(tid)) return Err(info.Env());
  struct user_regs_struct r = cur.regs;
  if (mode == 0) {
    r.orig_rax = (unsigned long long)-1;  // no syscall: rax is the result
    r.rax = (unsigned long long)value;
    if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0) return Err(info.Env());
  } else if (cur.atExit) {
    // Injected syscalls took the task past its syscall's entry: run the
    // syscall instruction again (it traps once more, and is let through).
    r.rip -= 2;
    r.rax = r.orig_rax;
    if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0) return Err(info.Env());
  }
  Resume(tid);
  return Ret(info.Env(), 0);
}

// ptraceAlive(tid) -> 0 while tid sits in a ptrace stop of ours, else -errno:
// a task killed while it waited leaves its stop at once.
Napi::Value Alive(const Napi::CallbackInfo& info) {
  unsigned long msg;
  if (ptrace(PTRACE_GETEVENTMSG, ArgInt(info, 0), 0, &msg) < 0) return Err(info.Env());
  return Ret(info.Env(), 0);
}

// Runs one syscall in the stopped task cur.tid with registers of our
// choosing, and stops it again at that syscall's exit. Returns its result
// (-errno on failure), or -ESRCH if the task died meanwhile.
long Inject(long nr, const unsigned long long args[6]) {
  pid_t tid = cur.tid;
  struct user_regs_struct r = cur.regs;
  r.orig_rax = (unsigned long long)nr;
  r.rax = (unsigned long long)nr;
  r.rdi = args[0];
  r.rsi = args[1];
  r.rdx = args[2];
  r.r10 = args[3];
  r.r8 = args[4];
  r.r9 = args[5];
  // At the seccomp stop the syscall is only replaced (the kernel re-checks
  // it against the filter, and lets a traced one run). At a syscall-exit stop
  // the syscall instruction (2 bytes) is executed once more.
  if (cur.atExit) r.rip = cur.regs.rip - 2;
  if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0) return -errno;
  if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0) return -errno;
  for (;;) {
    int status;
    pid_t p = waitpid(tid, &status, __WALL);
    if (p < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) {
      if (npending < kMaxPending) pending[npending++] = {tid, status};
      cur.tid = -1;
      return -ESRCH;
    }
    if (!WIFSTOPPED(status)) continue;
    int sig = WSTOPSIG(status);
    int event = (unsigned)status >> 16;
    if (sig == (SIGTRAP | 0x80)) {
      struct __ptrace_syscall_info si;
      if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof si, &si) > 0 && si.op == PTRACE_SYSCALL_INFO_EXIT) {
        cur.atExit = true;
        return (long)si.exit.rval;
      }
    } else if (event == 0) {
      // A signal for it: held back until it runs its own code again.
      if (cur.nsigs < (int)(sizeof cur.sigs / sizeof *cur.sigs)) cur.sigs[cur.nsigs++] = sig;
    }
    // Its entry stop, the seccomp stop of a re-executed syscall, a group-stop
    // of its thread group: carry on to the exit.
    if (ptrace(PTRACE_SYSCALL, tid, 0, 0) < 0) return -errno;
  }
}

// Below the red zone of the task's stack: room for injected syscalls' arguments.
uint64_t ScratchOf(const struct user_regs_struct& r) { return (r.rsp - 128 - 512) & ~(uint64_t)15; }

// ptraceInjectBegin(tid) -> scratch address (512 bytes the task does not use), or -errno.
Napi::Value InjectBegin(const Napi::CallbackInfo& info) {
  if (!Select(ArgInt(info, 0))) return Err(info.Env());
  return Ret(info.Env(), (long long)ScratchOf(cur.regs));
}

// ptraceInject(tid, nr, a0..a5) -> the syscall's result, or -ESRCH.
Napi::Value InjectCall(const Napi::CallbackInfo& info) {
  pid_t tid = ArgInt(info, 0);
  if (cur.tid != tid) return Ret(info.Env(), -EINVAL);
  unsigned long long args[6];
  for (int i = 0; i < 6; i++) args[i] = (unsigned long long)ArgI64(info, 2 + i);
  return Ret(info.Env(), Inject(ArgI64(info, 1), args));
}

void Drain(int sock) {
  char b;
  struct iovec iov = {&b, 1};
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int) * 4)];
  for (;;) {
    struct msghdr m;
    memset(&m, 0, sizeof m);
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    if (recvmsg(sock, &m, MSG_DONTWAIT | MSG_CMSG_CLOEXEC) < 0) return;
    for (struct cmsghdr* c = CMSG_FIRSTHDR(&m); c; c = CMSG_NXTHDR(&m, c)) {
      if (c->cmsg_level != SOL_SOCKET || c->cmsg_type != SCM_RIGHTS) continue;
      int n = (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int));
      for (int i = 0; i < n; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        close(fd);
      }
    }
  }
}

// ptraceInstallFd(tid, hidden, sentryEnd, ino, hostFd, cloexec) -> the fd number in
// the task, or -errno; -ENOTCONN when the task's fd `hidden` is not the socket
// of inode ino (closed or replaced by the program: the caller makes a new one).
// The task is left stopped (at the exit of the injected recvmsg): the caller
// answers its syscall with the number. hostFd stays ours to close.
Napi::Value InstallFd(const Napi::CallbackInfo& info) {
  pid_t tid = ArgInt(info, 0);
  int hidden = ArgInt(info, 1);
  int sentryEnd = ArgInt(info, 2);
  double ino = info[3].As<Napi::Number>().DoubleValue();
  int hostFd = ArgInt(info, 4);
  bool cloexec = info[5].As<Napi::Boolean>().Value();
  Napi::Env env = info.Env();

  // Our own reference to the task's end: to check it is ours, and to take
  // back the message should the task not receive it.
  int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
  if (pidfd < 0) return Err(env);
  int mine = (int)syscall(SYS_pidfd_getfd, pidfd, hidden, 0);
  close(pidfd);
  if (mine < 0) return Ret(env, -ENOTCONN);
  struct stat st;
  if (fstat(mine, &st) < 0 || !S_ISSOCK(st.st_mode) || (double)st.st_ino != ino) {
    close(mine);
    return Ret(env, -ENOTCONN);
  }
  if (!Select(tid)) {
    long e = -errno;
    close(mine);
    return Ret(env, e);
  }
  // msghdr at base, its iovec at +64, the data byte at +88, the cmsg at +96.
  const uint64_t base = ScratchOf(cur.regs);
  alignas(struct cmsghdr) unsigned char area[128];
  memset(area, 0, sizeof area);
  struct msghdr* m = reinterpret_cast<struct msghdr*>(area);
  m->msg_iov = reinterpret_cast<struct iovec*>(base + 64);
  m->msg_iovlen = 1;
  m->msg_control = reinterpret_cast<void*>(base + 96);
  m->msg_controllen = CMSG_SPACE(sizeof(int));
  struct iovec* iov = reinterpret_cast<struct iovec*>(area + 64);
  iov->iov_base = reinterpret_cast<void*>(base + 88);
  iov->iov_len = 1;
  struct iovec local = {area, sizeof area};
  struct iovec remote = {reinterpret_cast<void*>(base), sizeof area};
  if (process_vm_writev(tid, &local, 1, &remote, 1, 0) != (ssize_t)sizeof area) {
    close(mine);
    return Ret(env, -EFAULT);
  }

  char byte = 0;
  struct iovec siov = {&byte, 1};
  struct msghdr sm;
  memset(&sm, 0, sizeof sm);
  sm.msg_iov = &siov;
  sm.msg_iovlen = 1;
  alignas(struct cmsghdr) char cbuf[CMSG_SPACE(sizeof(int))];
  sm.msg_control = cbuf;
  sm.msg_controllen = sizeof cbuf;
  struct cmsghdr* c = CMSG_FIRSTHDR(&sm);
  c->cmsg_level = SOL_SOCKET;
  c->cmsg_type = SCM_RIGHTS;
  c->cmsg_len = CMSG_LEN(sizeof(int));
  memcpy(CMSG_DATA(c), &hostFd, sizeof(int));
  if (sendmsg(sentryEnd, &sm, MSG_NOSIGNAL | MSG_DONTWAIT) < 0) {
    long e = -errno;
    close(mine);
    return Ret(env, e);
  }

  // MSG_DONTWAIT: should the program have taken the message itself, fail
  // rather than block the sentry.
  const unsigned long long args[6] = {(unsigned long long)hidden, base,
                                      (unsigned long long)(MSG_DONTWAIT | (cloexec ? MSG_CMSG_CLOEXEC : 0)), 0, 0, 0};
  long r = Inject(SYS_recvmsg, args);
  long fd = -EMFILE;
  if (r == 1) {
    local = {area, sizeof area};
    if (process_vm_readv(tid, &local, 1, &remote, 1, 0) == (ssize_t)sizeof area) {
      struct cmsghdr* rc = reinterpret_cast<struct cmsghdr*>(area + 96);
      // MSG_CTRUNC: the task had no free fd; the kernel dropped the file.
      if (!(m->msg_flags & MSG_CTRUNC) && rc->cmsg_level == SOL_SOCKET && rc->cmsg_type == SCM_RIGHTS &&
          rc->cmsg_len == CMSG_LEN(sizeof(int))) {
        int got;
        memcpy(&got, CMSG_DATA(rc), sizeof got);
        fd = got;
      }
    }
  } else if (r < 0) {
    fd = r;
    Drain(mine);  // never leave the file for the next receiver
  }
  close(mine);
  return Ret(env, fd);
}

}  // namespace

void InitPtrace(Napi::Env env, Napi::Object e) {
  e.Set("ptraceSeize", Napi::Function::New(env, Seize));
  e.Set("ptraceWait", Napi::Function::New(env, Wait));
  e.Set("ptraceReply", Napi::Function::New(env, Reply));
  e.Set("ptraceAlive", Napi::Function::New(env, Alive));
  e.Set("ptraceInjectBegin", Napi::Function::New(env, InjectBegin));
  e.Set("ptraceInject", Napi::Function::New(env, InjectCall));
  e.Set("ptraceInstallFd", Napi::Function::New(env, InstallFd));
}

}  // namespace tsvisor
