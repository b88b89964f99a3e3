/* The gofer's own seccomp filter: the second wall around the one process
 * that touches host files (DESIGN.md, principle 3). The sentry's filter is
 * for the sandboxed program; this one limits the gofer itself, so that a bug
 * in the gofer that hands an attacker code execution still cannot exec, make
 * sockets, mount, trace, signal host processes, map memory or leave through
 * a new namespace.
 *
 * A strict allow-list of exactly the calls ops.c, identity.c and main.c make
 * once jailed (the gofer is one thread with static buffers: no allocator, no
 * threads, no signal handlers). Everything else, known number or not, is
 * EPERM rather than a kill: a gofer that dies takes its sandbox with it
 * (principle 2). Like platform/seccomp-bpf.ts: a foreign arch kills, and x32
 * numbers are ENOSYS. test/gofer-jail.test.ts sweeps the whole table. */
#define _GNU_SOURCE
#include "gofer.h"

#include <errno.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>
#include <stddef.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SYS_fchmodat2
#define SYS_fchmodat2 452
#endif

#define X32_SYSCALL_BIT 0x40000000u

#define ALLOW(name) {SYS_##name, #name}
static const struct {
  int nr;
  const char *name;
} ALLOWED[] = {
    /* The file ops (ops.c): every lookup is openat2 below the root fd, then one
     * *at call on the parent; fchmodat2, fchownat and utimensat also on a
     * program's fd that came with the request (the fd ops, by AT_EMPTY_PATH);
     * reopenFd's openat2 is of such an fd's magic link below the gofer's own
     * /proc/self/fd, taken before the jail.
     * fchmodat: chmod through /proc/self/fd/N where fchmodat2 is missing
     * (before Linux 6.6). */
    ALLOW(openat2), ALLOW(statx), ALLOW(readlinkat), ALLOW(mkdirat), ALLOW(mknodat), ALLOW(unlinkat),
    ALLOW(renameat2), ALLOW(symlinkat), ALLOW(linkat), ALLOW(fchmodat2), ALLOW(fchmodat), ALLOW(fchownat),
    ALLOW(utimensat), ALLOW(faccessat2), ALLOW(ftruncate), ALLOW(fstatfs), ALLOW(getdents64), ALLOW(lseek),
    ALLOW(fcntl), ALLOW(close),
    /* Extended attributes, by the /proc/self/fd/N name of an O_PATH fd the gofer holds. */
    ALLOW(getxattr), ALLOW(listxattr), ALLOW(setxattr), ALLOW(removexattr),
    /* Acting with the calling task's credentials (identity.c): per thread, and
     * within what the gofer holds already (it is root). */
    ALLOW(setfsuid), ALLOW(setfsgid), ALLOW(setgroups), ALLOW(capset),
    /* Requests in, replies and fds out, on the one socket the gofer was given;
     * bind: a program's unix socket the sentry hands over, named below the
     * root (bindSocket). No socket, connect, listen or accept of its own. */
    ALLOW(recvmsg), ALLOW(sendmsg), ALLOW(bind),
    /* Its messages on stderr, and its exit. */
    ALLOW(write), ALLOW(exit_group), ALLOW(exit),
};
#undef ALLOW

#define ALLOWED_COUNT (sizeof ALLOWED / sizeof ALLOWED[0])

size_t gofer_jail_allowed(const int **numbers, const char *const **names) {
  static int nrs[ALLOWED_COUNT];
  static const char *labels[ALLOWED_COUNT];
  for (size_t i = 0; i < ALLOWED_COUNT; i++) {
    nrs[i] = ALLOWED[i].nr;
    labels[i] = ALLOWED[i].name;
  }
  *numbers = nrs;
  *names = labels;
  return ALLOWED_COUNT;
}

/*   ld arch; jeq X86_64 else KILL_PROCESS
 *   ld nr; jge X32_SYSCALL_BIT: ERRNO(ENOSYS)
 *   jeq each allowed number: ALLOW
 *   ERRNO(EPERM) */
size_t gofer_jail_build(struct sock_filter *prog, size_t cap) {
  size_t n = ALLOWED_COUNT;
  size_t total = 6 + n + 2;
  if (cap < total) return 0;
  size_t i = 0;
  prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch));
  prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AUDIT_ARCH_X86_64, 1, 0);
  prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_KILL_PROCESS);
  prog[i++] = (struct sock_filter)BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr));
  prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JGE | BPF_K, X32_SYSCALL_BIT, 0, 1);
  prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | ENOSYS);
  for (size_t k = 0; k < n; k++) {
    /* From instruction i, ALLOW is n - k instructions on (past the rest and the EPERM return). */
    prog[i++] = (struct sock_filter)BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, (uint32_t)ALLOWED[k].nr, (uint8_t)(n - k), 0);
  }
  prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ERRNO | EPERM);
  prog[i++] = (struct sock_filter)BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW);
  return i;
}

const char *gofer_jail_enter(int *err) {
  struct sock_filter prog[BPF_MAXINSNS / 16];
  size_t length = gofer_jail_build(prog, sizeof prog / sizeof prog[0]);
  *err = 0;
  if (length == 0) return "cannot build the seccomp filter";
  /* no_new_privs: required for an unprivileged filter, and it keeps exec
   * (which the filter refuses anyway) from ever granting privileges. */
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    *err = errno;
    return "prctl(PR_SET_NO_NEW_PRIVS)";
  }
  if (prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) != 1) return "prctl(PR_SET_NO_NEW_PRIVS) did not take";
  struct sock_fprog fprog = {(unsigned short)length, prog};
  /* TSYNC: one thread today, and any that a libc might start would be covered too. */
  long r = syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, SECCOMP_FILTER_FLAG_TSYNC, &fprog);
  if (r < 0) {
    *err = errno;
    return "seccomp(SECCOMP_SET_MODE_FILTER, TSYNC)";
  }
  if (r != 0) return "seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): a thread could not take the filter";
  return NULL;
}
