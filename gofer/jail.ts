// The gofer's own seccomp filter: the second wall around the one process that
// touches host files (DESIGN.md, principle 3). The sentry's filter is for the
// sandboxed program; this one limits the gofer itself, so that a bug in the
// gofer (or in Node, koffi or the addon under it) that hands an attacker code
// execution still cannot exec, make sockets, mount, trace, signal host
// processes or leave through a new namespace.
//
// The policy is an allowlist derived from the syscall table: the file calls the
// ops in server.ts/hostfs.ts make, recvmsg/sendmsg on the socket the gofer was
// given, and what Node needs to keep running and to exit. Every other known
// number and every unknown one is refused with EPERM rather than killing the
// process: a Node internal that probes something gets an error it can handle,
// and a gofer that dies takes the whole sandbox down with it (principle 2).
//
// The list was checked against what the gofer really calls once jailed
// (strace -f over test/gofer.test.ts, test/gofer-jail.test.ts and the
// test/do-*.test.ts sandboxes: no call of the gofer's came back EPERM). Thread
// creation is not in it: Node starts its threads (the V8 platform workers,
// libuv's threadpool, the signal watchdog) before the gofer's first request,
// the gofer's serve loop never returns to the event loop, and TSYNC puts the
// filter on all of them.
import koffi from 'koffi';
import { buildFilter, SECCOMP_RET_ERRNO, SOCK_FILTER_SIZE } from '../platform/seccomp-bpf.js';
import { E } from '../sentry/abi/linux.js';
import { NR, SYSCALLS, type SyscallEntry, type SyscallName } from '../syscall-tables/index.js';

interface AllowGroup {
  /** Why the gofer needs these: kept next to the names so the list stays reviewable. */
  readonly why: string;
  readonly names: readonly SyscallName[];
}

/** Everything the gofer may call once it is jailed. Anything not here is EPERM. */
export const GOFER_ALLOWED: readonly AllowGroup[] = [
  {
    why: 'the file ops (hostfs.ts): every lookup is openat2 below the root fd, then one *at call on the parent',
    names: [
      'openat2', 'statx', 'newfstatat', 'fstat', 'readlinkat', 'mkdirat', 'mknodat', 'unlinkat', 'renameat2',
      'symlinkat', 'linkat', 'fchmodat', 'fchmodat2', 'fchownat', 'utimensat', 'faccessat2', 'ftruncate', 'fstatfs', 'getdents64',
      'lseek', 'fcntl', 'close',
    ],
  },
  {
    // glibc's renameat2() issues the older renameat syscall when flags are 0.
    // openat: V8 reads /proc/sys/vm/overcommit_memory from a GC thread while
    // the gofer serves, and glibc's fchmodat(AT_SYMLINK_NOFOLLOW) falls back to
    // openat(O_PATH) and /proc/self/fd on kernels without fchmodat2 (before
    // 6.6). It gives no more than openat2 does: a classic-BPF filter cannot
    // read openat2's resolve flags (they are in memory), so the RESOLVE_IN_ROOT
    // discipline is server.ts's either way.
    why: 'what glibc and V8 turn into other file calls',
    names: ['renameat', 'openat'],
  },
  {
    // The gofer names an O_PATH fd it holds as /proc/self/fd/N (O_PATH fds
    // refuse the f* forms); the l* and f* forms cost nothing more and keep
    // another way of doing the same op from breaking.
    why: 'extended attributes',
    names: [
      'getxattr', 'lgetxattr', 'fgetxattr', 'listxattr', 'llistxattr', 'flistxattr',
      'setxattr', 'lsetxattr', 'fsetxattr', 'removexattr', 'lremovexattr', 'fremovexattr',
    ],
  },
  {
    // Per-thread credential changes only (identity.ts): the gofer takes each
    // task's fsuid, fsgid, groups and file capabilities so the host kernel
    // checks permissions. It is root already: these give it nothing new.
    why: "acting with the calling task's credentials",
    names: ['setfsuid', 'setfsgid', 'setgroups', 'capget', 'capset'],
  },
  {
    // Requests in, replies and fds out, on the one socket the gofer was given.
    // No socket, socketpair, connect, listen or accept: it makes no new ones.
    why: 'the socket to the sentry',
    names: ['recvmsg', 'sendmsg'],
  },
  {
    // bindSocket (server.ts): the sentry hands over its copy of a program's
    // AF_UNIX socket, which the gofer binds below its root (a path name is
    // host file state, the gofer's alone). Still no socket of the gofer's
    // own, no connect, no listen, no accept.
    why: "binding a program's unix socket to a path",
    names: ['bind'],
  },
  {
    // Only on fds the gofer already holds: stderr, libuv's eventfds, files it opened.
    why: 'bytes on fds the gofer holds',
    names: ['read', 'write', 'readv', 'writev', 'pread64', 'pwrite64', 'fsync', 'fdatasync'],
  },
  {
    // process.exit() turns libuv's loop once, wakes the V8 platform threads
    // through an eventfd and fsyncs and fstats stdio (ResetStdio). Creating an
    // epoll instance, an eventfd or a pipe reaches nothing outside the process.
    why: "Node's event loop and exit path",
    names: ['epoll_ctl', 'epoll_wait', 'epoll_pwait', 'epoll_pwait2', 'epoll_create1', 'eventfd2', 'pipe2', 'poll', 'ppoll'],
  },
  {
    // Node makes process.stderr on its first use, which for the gofer is an
    // error path that may come after the jail (server.ts). That is not done
    // early on purpose: for a pipe or socket it sets O_NONBLOCK on the open file
    // description the gofer shares with the CLI and the sandboxed program. Making
    // it late needs: ioctl to tell a tty and set FIONBIO; getsockname and
    // getsockopt to tell a socket stderr (without them Node silently drops what
    // is written); dup3 because libuv reopens a tty and puts the new description
    // over fd 2 (without it Node throws ERR_TTY_INIT_FAILED). Node also restores
    // the terminal's modes on exit (TCGETS/TCSETS). The table's own argument
    // rules still refuse TIOCSTI and TIOCLINUX, which would push input into the
    // host's terminal. None of these makes a socket or reaches another process.
    why: 'stdio, made lazily by Node',
    names: ['ioctl', 'getsockname', 'getsockopt', 'dup', 'dup2', 'dup3'],
  },
  {
    // V8's heap and JIT code. pkey_*: V8 write-protects JIT code with memory
    // protection keys on CPUs that have them.
    why: 'memory',
    names: ['mmap', 'munmap', 'mprotect', 'madvise', 'brk', 'mremap', 'pkey_mprotect', 'pkey_alloc', 'pkey_free'],
  },
  {
    // The threads that already run: their locks and waits. set_robust_list
    // and rseq are per-thread registrations glibc makes; they reach nothing
    // beyond the calling thread.
    why: 'the threads Node already runs',
    names: ['futex', 'set_robust_list', 'rseq', 'sched_yield', 'nanosleep', 'clock_nanosleep'],
  },
  {
    // Normally answered by the vDSO without a syscall; the syscalls are its fallback.
    why: 'clocks',
    names: ['clock_gettime', 'clock_getres', 'gettimeofday'],
  },
  {
    // Installing handlers and returning from them; restart_syscall is how the
    // kernel resumes a wait a signal interrupted. Sending signals (kill, tgkill,
    // tkill, rt_sigqueueinfo, pidfd_send_signal) is not here: the gofer runs as
    // host root, and those take any pid. abort() still ends the process without
    // them (glibc falls back to a faulting instruction).
    why: 'signal handling, not sending',
    names: ['rt_sigaction', 'rt_sigprocmask', 'rt_sigreturn', 'sigaltstack', 'restart_syscall'],
  },
  {
    why: 'identity of the process itself, randomness, exit',
    names: ['getpid', 'gettid', 'getrandom', 'exit', 'exit_group'],
  },
];

/** What the gofer's filter answers for everything it does not allow. */
export const GOFER_DENIED_ERRNO = E.EPERM;

/** seccomp(2) and prctl(2) constants (linux/seccomp.h, linux/prctl.h); not syscall numbers. */
const SECCOMP_SET_MODE_FILTER = 1;
const SECCOMP_FILTER_FLAG_TSYNC = 1;
const PR_SET_NO_NEW_PRIVS = 38;
const PR_GET_NO_NEW_PRIVS = 39;

/**
 * The gofer's policy: one new entry per syscall in the table, passthrough for
 * the allowed ones (keeping the table's argument rules, such as ioctl's), denied
 * with EPERM for the rest. The shared table is not touched.
 */
export function goferPolicy(): SyscallEntry[] {
  const allowed = new Set<string>();
  for (const group of GOFER_ALLOWED) {
    for (const name of group.names) {
      // SyscallName makes a typo a compile error; this catches a table that lost a name.
      if (!(name in NR)) throw new Error(`gofer jail: '${name}' is not in the syscall table`);
      allowed.add(name);
    }
  }
  return SYSCALLS.map((entry): SyscallEntry => {
    if (allowed.has(entry.name)) {
      const { deniedErrno: _ignored, argAllow: _unused, ...rest } = entry;
      return { ...rest, disposition: 'passthrough' };
    }
    const { argDeny: _ignored, argAllow: _unused, ...rest } = entry;
    return { ...rest, disposition: 'denied', deniedErrno: GOFER_DENIED_ERRNO };
  });
}

/**
 * The gofer's classic-BPF program. Unknown numbers go to the trap action, which
 * here is EPERM too: nothing the table does not name is ever allowed.
 */
export function buildGoferFilter(): Buffer {
  return buildFilter(goferPolicy(), { trapAction: (SECCOMP_RET_ERRNO | GOFER_DENIED_ERRNO) >>> 0, strict: false });
}

/**
 * Sets no_new_privs and installs the gofer's filter on every thread of the
 * process (TSYNC: Node already runs several, and a thread left unfiltered
 * would be a way around the wall). Returns undefined on success, or what went
 * wrong; the caller must not serve then (fail closed).
 */
export function enterGoferJail(): string | undefined {
  let program: Buffer;
  try {
    program = buildGoferFilter();
  } catch (e) {
    return `cannot build the seccomp filter: ${e instanceof Error ? e.message : String(e)}`;
  }
  const libc = koffi.load('libc.so.6');
  const prctl: (...args: unknown[]) => number = libc.func('int prctl(int option, ...)');
  const syscall: (...args: unknown[]) => number = libc.func('long syscall(long number, ...)');
  // struct sock_fprog { unsigned short len; struct sock_filter *filter; }: koffi
  // lays it out with the ABI's padding and points `filter` at the buffer for
  // the duration of the call; the kernel copies the program.
  const sockFprog = koffi.struct({ len: 'uint16_t', filter: 'void *' });

  const ulong = 'unsigned long';
  // no_new_privs: required for an unprivileged filter, and it keeps exec (which
  // the filter refuses anyway) from ever granting privileges.
  if (prctl(PR_SET_NO_NEW_PRIVS, ulong, 1, ulong, 0, ulong, 0, ulong, 0) !== 0) {
    return `prctl(PR_SET_NO_NEW_PRIVS): errno ${koffi.errno()}`;
  }
  if (prctl(PR_GET_NO_NEW_PRIVS, ulong, 0, ulong, 0, ulong, 0, ulong, 0) !== 1) {
    return 'prctl(PR_SET_NO_NEW_PRIVS) did not take';
  }
  const fprog = { len: program.length / SOCK_FILTER_SIZE, filter: program };
  const r = syscall(NR.seccomp, 'unsigned int', SECCOMP_SET_MODE_FILTER, 'unsigned int', SECCOMP_FILTER_FLAG_TSYNC,
    koffi.pointer(sockFprog), fprog);
  if (r < 0) return `seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): errno ${koffi.errno()}`;
  // With TSYNC, a positive answer is the id of a thread that could not be synchronised.
  if (r !== 0) return `seccomp(SECCOMP_SET_MODE_FILTER, TSYNC): thread ${r} could not take the filter`;
  return undefined;
}
