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
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cstring>
#include <string>
#include <sys/prctl.h>
#include <unordered_map>
#include <unordered_set>

#ifndef PIDFD_THREAD
#define PIDFD_THREAD O_EXCL  // Linux 6.9: a pidfd of one thread (ours are threads' ids)
#endif

namespace tsvisor {
namespace {

constexpr int kTrap = 1;
constexpr int kExit = 2;
constexpr int kNone = 0;
constexpr int kTimeout = 3;
constexpr int kResult = 4;

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

// Stops and exits taken from the kernel but not yet handled, oldest first
// (exits seen by an injection's targeted wait among them).
constexpr int kMaxReady = 8192;  // one entry per tracee at most; more than --pids-limit's default
struct Ready {
  pid_t pid;
  int status;
};
Ready ready[kMaxReady];
int readyHead = 0;
int readyCount = 0;

void Enqueue(pid_t pid, int status) {
  ready[(readyHead + readyCount) % kMaxReady] = {pid, status};
  readyCount++;
}

bool Dequeue(pid_t* pid, int* status) {
  if (readyCount == 0) return false;
  *pid = ready[readyHead].pid;
  *status = ready[readyHead].status;
  readyHead = (readyHead + 1) % kMaxReady;
  readyCount--;
  return true;
}

// Every tracee that is ready now, without blocking (a full queue leaves the
// rest with the kernel, which reports them later).
void DrainReady() {
  while (readyCount < kMaxReady) {
    int status;
    pid_t pid = waitpid(-1, &status, __WALL | __WNOTHREAD | WNOHANG);
    if (pid <= 0) return;
    Enqueue(pid, status);
  }
}

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

void FillResult(uint32_t* w, pid_t tid, int64_t rval) {
  w[2] = (uint32_t)tid;
  w[6] = (uint32_t)(uint64_t)rval;
  w[7] = (uint32_t)((uint64_t)rval >> 32);
}

void FillExit(uint32_t* w, pid_t tid, int status) {
  w[2] = (uint32_t)tid;
  w[3] = (uint32_t)status;
}

// Tracees in a group-stop, held there by PTRACE_LISTEN: the host shows them
// as "t (tracing stop)", as it does a trap waiting for the sentry; the
// sentry's /proc tells the two apart with ptraceGroupStopped.
std::unordered_set<pid_t> listening;

// Tracees let run a syscall whose result the sentry wants to see (ptraceReply
// mode 2): resumed with PTRACE_SYSCALL until its syscall-exit-stop.
std::unordered_set<pid_t> watching;

// Resumes a tracee past a stop that is not its trap: to its next trap, or,
// while its result is watched, to its syscall's exit as well.
// Tracees running an execveat on an fd we installed (ptraceExecFd): the fd,
// which is closed again should the exec fail (on success, close-on-exec did),
// and the name the program's kernel would give the new image.
struct ExecByFd {
  int fd;
  char comm[16];
};
std::unordered_map<pid_t, ExecByFd> execFds;
// Tracees whose new image is to be given that name at its first trap: Linux
// names it after the path it was exec'd by, the exec by fd after the file.
std::unordered_map<pid_t, ExecByFd> renames;
// Tracees whose next seccomp stop is that execveat, run again from its
// syscall instruction after injected calls: let through, not reported.
std::unordered_set<pid_t> passNext;

void Continue(pid_t pid, int sig) {
  ptrace(watching.count(pid) || execFds.count(pid) ? PTRACE_SYSCALL : PTRACE_CONT, pid, 0, sig);
}

void Forget(pid_t pid) {
  watching.erase(pid);
  execFds.erase(pid);
  passNext.erase(pid);
  renames.erase(pid);
}

// Moves what is kept for `from` to `to` (a thread other than the leader exec'd).
template <typename Map>
void Move(Map& m, pid_t from, pid_t to) {
  auto e = m.find(from);
  if (e == m.end()) return;
  m[to] = e->second;
  m.erase(from);
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
    if (IsStopSignal(sig) && ptrace(PTRACE_LISTEN, pid, 0, 0) == 0) listening.insert(pid);
    else Continue(pid, 0);
    return;
  }
  if (event == PTRACE_EVENT_EXEC) {
    // A thread other than the leader exec'd: it goes on under the leader's id.
    unsigned long former;
    if (ptrace(PTRACE_GETEVENTMSG, pid, 0, &former) == 0 && (pid_t)former != pid) {
      if (watching.erase((pid_t)former)) watching.insert(pid);
      Move(execFds, (pid_t)former, pid);
      passNext.erase((pid_t)former);
    }
  }
  if (event != 0 || sig == (SIGTRAP | 0x80)) {
    // fork/vfork/clone (the child is traced already), exec, a stray syscall-stop.
    Continue(pid, 0);
    return;
  }
  // A signal-delivery-stop: deliver it as the program's kernel would.
  Continue(pid, sig);
}

void Resume(pid_t tid);
void CloseAtExit(pid_t tid, int fd);
bool SetName(const char* comm);

// ptraceWait(out: Uint32Array(20), timeoutMs) -> 1 trap, 2 exit, 3 timeout, 4 the
// result of a watched syscall, 0 no tracee left, or -errno.
//   trap: out[2] tid, out[4] nr, out[8..19] args (seccomp_notif's layout)
//   exit: out[2] tid, out[3] the wait status
//   result: out[2] tid, out[6..7] the syscall's return value (low, high word)
Napi::Value Wait(const Napi::CallbackInfo& info) {
  Napi::Uint32Array out = info[0].As<Napi::Uint32Array>();
  int timeoutMs = ArgInt(info, 1);
  if (out.ElementLength() < 20) return Ret(info.Env(), -EINVAL);
  uint32_t* w = out.Data();
  struct timespec start;
  clock_gettime(CLOCK_MONOTONIC, &start);
  for (;;) {
    int status;
    pid_t pid;
    if (!Dequeue(&pid, &status)) {
      pid = waitpid(-1, &status, __WALL | __WNOTHREAD | (timeoutMs >= 0 ? WNOHANG : 0));
      if (pid > 0) {
        // Take every other stop that is ready too, and serve them in turn:
        // waitpid(-1) reports the first ready tracee of the kernel's list,
        // so a thread that traps again at once would otherwise be served
        // again and again while the others wait (a starvation seen with 40
        // threads opening files in a loop).
        Enqueue(pid, status);
        DrainReady();
        Dequeue(&pid, &status);
      }
    }
    if (pid < 0) {
      if (errno == EINTR) continue;
      if (errno == ECHILD) return Ret(info.Env(), kNone);
      return Err(info.Env());
    }
    if (pid > 0) listening.erase(pid);  // any report ends a listened-to group-stop
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
      Forget(pid);
      FillExit(w, pid, status);
      return Ret(info.Env(), kExit);
    }
    if (!WIFSTOPPED(status)) continue;
    if (WSTOPSIG(status) == (SIGTRAP | 0x80) && (watching.count(pid) || execFds.count(pid))) {
      struct __ptrace_syscall_info si;
      if (ptrace(PTRACE_GET_SYSCALL_INFO, pid, sizeof si, &si) > 0 && si.op == PTRACE_SYSCALL_INFO_EXIT) {
        auto exec = execFds.find(pid);
        if (exec != execFds.end()) {
          if (si.exit.rval < 0) CloseAtExit(pid, exec->second.fd);
          else renames[pid] = exec->second;
          execFds.erase(exec);
        }
        bool watched = watching.erase(pid) > 0;
        Resume(pid);
        if (!watched) continue;
        FillResult(w, pid, si.exit.rval);
        return Ret(info.Env(), kResult);
      }
    }
    if ((unsigned)status >> 8 == (SIGTRAP | (PTRACE_EVENT_SECCOMP << 8))) {
      if (passNext.erase(pid)) {
        Continue(pid, 0);
        continue;
      }
      // ESRCH: killed meanwhile; its exit comes next.
      if (ptrace(PTRACE_GETREGS, pid, 0, &cur.regs) < 0) continue;
      cur.tid = pid;
      cur.atExit = false;
      cur.nsigs = 0;
      auto rename = renames.find(pid);
      if (rename != renames.end()) {
        ExecByFd named = rename->second;
        renames.erase(rename);
        if (!SetName(named.comm)) continue;  // it died
      }
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
  Continue(tid, 0);
  if (cur.tid == tid) {
    for (int i = 0; i < cur.nsigs; i++) syscall(SYS_tkill, tid, cur.sigs[i]);
    cur.tid = -1;
  }
}

// ptraceReply(tid, value, mode) -> 0 or -errno.
//   mode 0: skip the syscall, returning value (a -errno for an error)
//   mode 1: let the kernel run it as asked
//   mode 2: the same, and report its result (ptraceWait's 4) at its exit
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
  } else if (mode == 2) {
    watching.insert(tid);
  }
  if (mode != 0 && cur.atExit) {
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

// ptraceGroupStopped(tid) -> 1 while tid is held in a group-stop (the program
// stopped it, with SIGSTOP or a terminal's ^Z), else 0.
Napi::Value GroupStopped(const Napi::CallbackInfo& info) {
  return Ret(info.Env(), listening.count(ArgInt(info, 0)) ? 1 : 0);
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
      // ptraceWait reports it next.
      if (readyCount < kMaxReady) Enqueue(tid, status);
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

// Closes fd in tid, stopped at a syscall's exit, and leaves it there as it
// was (its result in rax): cur becomes tid, for Resume to raise the signals
// held back meanwhile.
void CloseAtExit(pid_t tid, int fd) {
  if (ptrace(PTRACE_GETREGS, tid, 0, &cur.regs) < 0) return;
  cur.tid = tid;
  cur.atExit = true;
  cur.nsigs = 0;
  const unsigned long long args[6] = {(unsigned long long)fd, 0, 0, 0, 0, 0};
  if (Inject(SYS_close, args) == -ESRCH) return;
  ptrace(PTRACE_SETREGS, tid, 0, &cur.regs);
}

// Names cur.tid, stopped at a trap, with prctl(PR_SET_NAME): false if it died.
bool SetName(const char* comm) {
  uint64_t at = ScratchOf(cur.regs);
  struct iovec local = {const_cast<char*>(comm), 16};
  struct iovec remote = {reinterpret_cast<void*>(at), 16};
  if (process_vm_writev(cur.tid, &local, 1, &remote, 1, 0) != 16) return true;  // no room: keep its name
  const unsigned long long args[6] = {PR_SET_NAME, at, 0, 0, 0, 0};
  return Inject(SYS_prctl, args) != -ESRCH;
}

// ptraceExecFd(tid, fd, comm) -> 0 or -errno. Turns the trapped execve or execveat
// of cur.tid into execveat(fd, "", argv, envp, flags | AT_EMPTY_PATH), fd
// being one we installed (close-on-exec), and lets it run: the file the
// sentry checked is the file that runs, whatever the path names meanwhile.
// Should the exec fail, fd is closed before the program sees the error; once
// it succeeded, the new image is named comm (Linux's name for it: the last
// part of the path it was exec'd by) at its first trap. The result is
// reported as a watched call's.
Napi::Value ExecFd(const Napi::CallbackInfo& info) {
  pid_t tid = ArgInt(info, 0);
  int fd = ArgInt(info, 1);
  // A latin1 string: one byte per character, as the sentry reads names.
  std::u16string comm = info[2].As<Napi::String>().Utf16Value();
  if (cur.tid != tid) return Ret(info.Env(), -EINVAL);
  ExecByFd exec = {fd, {0}};
  for (size_t i = 0; i < comm.size() && i < sizeof exec.comm - 1; i++) exec.comm[i] = (char)(comm[i] & 0xff);
  const struct user_regs_struct& was = cur.regs;
  // An empty path: a NUL byte in the scratch area.
  uint64_t empty = ScratchOf(was) + 504;
  char nul = 0;
  struct iovec local = {&nul, 1};
  struct iovec remote = {reinterpret_cast<void*>(empty), 1};
  if (process_vm_writev(tid, &local, 1, &remote, 1, 0) != 1) return Ret(info.Env(), -EFAULT);
  bool at = was.orig_rax == SYS_execveat;
  struct user_regs_struct r = was;
  r.orig_rax = r.rax = SYS_execveat;
  r.rdi = (unsigned long long)fd;
  r.rsi = empty;
  r.rdx = at ? was.rdx : was.rsi;  // argv
  r.r10 = at ? was.r10 : was.rdx;  // envp
  r.r8 = (at ? was.r8 : 0) | AT_EMPTY_PATH;
  // At the seccomp stop the kernel checks the changed call against the filter
  // once more and lets a traced one run; past injected calls, the syscall
  // instruction runs again, and its trap is ours to let through.
  if (cur.atExit) {
    r.rip = was.rip - 2;
    passNext.insert(tid);
  }
  if (ptrace(PTRACE_SETREGS, tid, 0, &r) < 0) {
    passNext.erase(tid);
    return Err(info.Env());
  }
  execFds[tid] = exec;
  watching.insert(tid);  // its result goes to the sentry, as a continued call's would
  Resume(tid);
  return Ret(info.Env(), 0);
}

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

// Whether entry `name` of the procfs fd or fdinfo directory dirfd is one of
// our hidden sockets: its ../fd/<name> link names a socket of one of inos.
bool IsHiddenEntry(int dirfd, const char* name, const double* inos, size_t ninos) {
  char path[64];
  char target[64];
  if (snprintf(path, sizeof path, "../fd/%s", name) >= (int)sizeof path) return false;
  ssize_t n = readlinkat(dirfd, path, target, sizeof target - 1);
  if (n <= 0) return false;
  target[n] = 0;
  unsigned long long ino;
  if (sscanf(target, "socket:[%llu]", &ino) != 1) return false;
  for (size_t i = 0; i < ninos; i++) {
    if (inos[i] == (double)ino) return true;
  }
  return false;
}

// ptraceListHidden(tid, fd, out: Uint8Array, hiddenInos: Float64Array) ->
// bytes of linux_dirent64 records in out, or -errno; -ENOTSUP when fd is not
// a procfs fd or fdinfo directory (the caller lets the task's own getdents64
// run). The listing is the task's (its file, its offset), read here with
// our hidden sockets' entries left out, as if the task had none.
Napi::Value ListHidden(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  pid_t tid = ArgInt(info, 0);
  int fd = ArgInt(info, 1);
  Napi::Uint8Array out = info[2].As<Napi::Uint8Array>();
  Napi::Float64Array inos = info[3].As<Napi::Float64Array>();
  int pidfd = (int)syscall(SYS_pidfd_open, tid, PIDFD_THREAD);
  if (pidfd < 0) return Ret(env, -ENOTSUP);
  int dir = (int)syscall(SYS_pidfd_getfd, pidfd, fd, 0);
  close(pidfd);
  if (dir < 0) return Ret(env, -ENOTSUP);
  struct statfs sfs;
  char self[64];
  char where[256];
  snprintf(self, sizeof self, "/proc/self/fd/%d", dir);
  ssize_t wn = readlink(self, where, sizeof where - 1);
  where[wn > 0 ? wn : 0] = 0;
  const char* base = strrchr(where, '/');
  if (fstatfs(dir, &sfs) < 0 || sfs.f_type != 0x9fa0 /* PROC_SUPER_MAGIC */ || !base ||
      (strcmp(base, "/fd") != 0 && strcmp(base, "/fdinfo") != 0)) {
    close(dir);
    return Ret(env, -ENOTSUP);
  }
  uint8_t* buf = out.Data();
  long kept = 0;
  for (;;) {
    long n = syscall(SYS_getdents64, dir, buf, out.ByteLength());
    if (n <= 0) {
      kept = n < 0 ? -errno : 0;
      break;
    }
    kept = 0;
    for (long off = 0; off < n;) {
      uint16_t reclen;
      memcpy(&reclen, buf + off + 16, sizeof reclen);  // d_ino 8, d_off 8, d_reclen 2
      const char* name = reinterpret_cast<const char*>(buf + off + 19);
      if (!IsHiddenEntry(dir, name, inos.Data(), inos.ElementLength())) {
        if (kept != off) memmove(buf + kept, buf + off, reclen);
        kept += reclen;
      }
      off += reclen;
    }
    if (kept > 0) break;  // else: only ours in this batch; the next one
  }
  close(dir);
  return Ret(env, kept);
}

}  // namespace

void InitPtrace(Napi::Env env, Napi::Object e) {
  e.Set("ptraceSeize", Napi::Function::New(env, Seize));
  e.Set("ptraceWait", Napi::Function::New(env, Wait));
  e.Set("ptraceReply", Napi::Function::New(env, Reply));
  e.Set("ptraceAlive", Napi::Function::New(env, Alive));
  e.Set("ptraceGroupStopped", Napi::Function::New(env, GroupStopped));
  e.Set("ptraceListHidden", Napi::Function::New(env, ListHidden));
  e.Set("ptraceExecFd", Napi::Function::New(env, ExecFd));
  e.Set("ptraceInjectBegin", Napi::Function::New(env, InjectBegin));
  e.Set("ptraceInject", Napi::Function::New(env, InjectCall));
  e.Set("ptraceInstallFd", Napi::Function::New(env, InstallFd));
}

}  // namespace tsvisor
