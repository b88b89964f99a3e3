// Calls syscalls a sandboxed program must not be able to use, each through
// syscall(2) with plausible arguments, and prints one line per call:
//   NAME ERRNO
// where ERRNO is 0 when the call succeeded (anything it created is undone at
// once) and the errno value otherwise. Arguments are chosen so that a native
// run as root cannot harm the host:
//   mount: a tmpfs on argv[1] (a private scratch directory), unmounted at once;
//   ptrace: PTRACE_ATTACH to a child of this program, which is then killed;
//   bpf: BPF_MAP_CREATE of a one-entry array map, closed at once;
//   kexec_load: zero segments with an unknown architecture in the flags (never
//     unloads or loads a kernel: the kernel refuses the arch after the permission check);
//   init_module: a 64-byte image that is not ELF (no module is ever loaded);
//   unshare, clone(CLONE_NEWUSER|CLONE_NEWNS), clone3: new namespaces or a
//     child in this process only; the child exits at once.
#define _GNU_SOURCE
#include <errno.h>
#include <linux/bpf.h>
#include <linux/kexec.h>
#include <linux/sched.h>
#include <sched.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/ptrace.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static void report(const char *name, long ret) {
  printf("%s %d\n", name, ret < 0 ? errno : 0);
  fflush(stdout);
}

/** A raw clone/clone3 result: the child exits at once, the parent reaps it. */
static void report_fork(const char *name, long ret) {
  if (ret == 0) syscall(SYS_exit, 0);
  int saved = errno;
  if (ret > 0) waitpid((pid_t)ret, NULL, __WALL);
  errno = saved;
  report(name, ret);
}

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: forbidden SCRATCH_DIR\n");
    return 2;
  }
  const char *scratch = argv[1];

  long r = syscall(SYS_mount, "none", scratch, "tmpfs", 0UL, "size=64k");
  report("mount", r);
  if (r == 0) umount2(scratch, MNT_DETACH);

  pid_t child = fork();
  if (child == 0) {
    for (;;) pause();
  }
  r = syscall(SYS_ptrace, PTRACE_ATTACH, child, NULL, NULL);
  report("ptrace", r);
  kill(child, SIGKILL);
  waitpid(child, NULL, __WALL);

  union bpf_attr attr;
  memset(&attr, 0, sizeof attr);
  attr.map_type = BPF_MAP_TYPE_ARRAY;
  attr.key_size = 4;
  attr.value_size = 4;
  attr.max_entries = 1;
  r = syscall(SYS_bpf, BPF_MAP_CREATE, &attr, sizeof attr);
  report("bpf", r);
  if (r >= 0) close((int)r);

  r = syscall(SYS_kexec_load, 0UL, 0UL, NULL, 0xfffe0000UL);
  report("kexec_load", r);

  static char image[64] = "not an ELF module";
  r = syscall(SYS_init_module, image, sizeof image, "");
  report("init_module", r);

  r = syscall(SYS_unshare, CLONE_NEWUSER | CLONE_NEWNS);
  report("unshare", r);

  r = syscall(SYS_clone, (unsigned long)(CLONE_NEWUSER | CLONE_NEWNS | SIGCHLD), 0UL, NULL, NULL, 0UL);
  report_fork("clone_newuser_newns", r);

  struct clone_args ca;
  memset(&ca, 0, sizeof ca);
  ca.exit_signal = SIGCHLD;
  r = syscall(SYS_clone3, &ca, sizeof ca);
  report_fork("clone3", r);

  printf("done\n");
  return 0;
}
