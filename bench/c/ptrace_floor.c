/* ptrace_floor CMD [ARGS...]
 *
 * The C floor of the ptrace platform: the least a tracer can do per trapped
 * syscall on this kernel through the path tsvisor's ptrace platform and
 * `runsc --platform=ptrace` share in spirit: a seccomp filter that returns
 * SECCOMP_RET_TRACE for getppid (and allows everything else), a tracer
 * attached with PTRACE_SEIZE and PTRACE_O_TRACESECCOMP, and at each seccomp
 * stop: read the registers (the call and its arguments, as any supervisor
 * must learn them), skip the call (orig_rax = -1) with rax = the answer, and
 * continue. That is one waitpid and three ptrace calls per trap, no policy,
 * no memory reads, no allocation: whatever a ptrace sandbox costs above this
 * is its own. The answer is the child's real parent pid (this process), so
 * the program cannot tell it was traced.
 *
 * At exit it prints "ptrace_floor: stops N vmhwm_kb K" to stderr and exits
 * with CMD's status. Single-threaded programs only: it follows no clone,
 * fork or exec event (getppid_loop needs none). */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/user.h>
#include <sys/wait.h>
#include <unistd.h>

static void die(const char *what) {
  fprintf(stderr, "ptrace_floor: %s: %s\n", what, strerror(errno));
  exit(125);
}

/* Without a tracer a RET_TRACE call fails with ENOSYS, so the child installs
 * this only once the parent has seized it (see main). */
static void install_filter(void) {
  struct sock_filter code[] = {
      /* A foreign arch's numbers mean other syscalls: refuse, do not guess. */
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS),
      BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
      BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, SYS_getppid, 0, 1),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_TRACE),
      BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
  };
  struct sock_fprog prog = {.len = sizeof(code) / sizeof(code[0]), .filter = code};
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) die("prctl(PR_SET_NO_NEW_PRIVS)");
  if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, 0, &prog) < 0) die("seccomp(SECCOMP_SET_MODE_FILTER)");
}

static long vmhwm_kb(void) {
  FILE *f = fopen("/proc/self/status", "r");
  if (!f) return -1;
  char line[256];
  long kb = -1;
  while (fgets(line, sizeof(line), f))
    if (sscanf(line, "VmHWM: %ld kB", &kb) == 1) break;
  fclose(f);
  return kb;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    fprintf(stderr, "usage: ptrace_floor CMD [ARGS...]\n");
    return 2;
  }
  /* The child waits on this pipe until it is seized: PTRACE_SEIZE needs no
   * stop and no signal, unlike PTRACE_TRACEME plus raise(SIGSTOP). */
  int go[2];
  if (pipe2(go, O_CLOEXEC) < 0) die("pipe2");
  pid_t child = fork();
  if (child < 0) die("fork");
  if (child == 0) {
    close(go[1]);
    char c;
    if (read(go[0], &c, 1) != 1) _exit(125); /* the tracer died first */
    close(go[0]);
    install_filter();
    execvp(argv[1], argv + 1);
    fprintf(stderr, "ptrace_floor: exec %s: %s\n", argv[1], strerror(errno));
    _exit(127);
  }
  close(go[0]);
  /* EXITKILL: the program never runs on untraced if this process dies. */
  if (ptrace(PTRACE_SEIZE, child, 0, PTRACE_O_TRACESECCOMP | PTRACE_O_EXITKILL) < 0) die("ptrace(PTRACE_SEIZE)");
  if (write(go[1], "g", 1) != 1) die("write(go)");
  close(go[1]);

  const long answer = (long)getpid();
  struct user_regs_struct regs;
  unsigned long stops = 0;
  int status;
  for (;;) {
    if (waitpid(child, &status, __WALL) < 0) {
      if (errno == EINTR) continue;
      die("waitpid");
    }
    if (WIFEXITED(status) || WIFSIGNALED(status)) break;
    if (!WIFSTOPPED(status)) continue;
    int sig = WSTOPSIG(status);
    int event = status >> 16;
    if (sig == SIGTRAP && event == PTRACE_EVENT_SECCOMP) {
      if (ptrace(PTRACE_GETREGS, child, 0, &regs) < 0) die("ptrace(PTRACE_GETREGS)");
      regs.orig_rax = (unsigned long long)-1; /* skip the call ... */
      regs.rax = (unsigned long long)answer;  /* ... and this is what it returns */
      if (ptrace(PTRACE_SETREGS, child, 0, &regs) < 0) die("ptrace(PTRACE_SETREGS)");
      stops++;
      sig = 0;
    } else if (event == PTRACE_EVENT_STOP) {
      sig = 0; /* a group-stop or the like under SEIZE: nothing to deliver */
    } else if (sig == SIGTRAP && event != 0) {
      sig = 0; /* another ptrace event (none is asked for) */
    }
    /* Otherwise a signal-delivery-stop: hand the signal on, as the kernel would. */
    if (ptrace(PTRACE_CONT, child, 0, (void *)(long)sig) < 0 && errno != ESRCH) die("ptrace(PTRACE_CONT)");
  }
  fprintf(stderr, "ptrace_floor: stops %lu vmhwm_kb %ld\n", stops, vmhwm_kb());
  if (WIFEXITED(status)) return WEXITSTATUS(status);
  return 128 + WTERMSIG(status);
}
