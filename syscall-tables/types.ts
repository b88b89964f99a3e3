// The vocabulary of the syscall tables. Each closed union is spelled once, as a
// runtime list, so the .tbl parser can reject a word the types do not know.

/** What the seccomp filter does with a syscall (see the policy comment in x86_64.tbl). */
export const DISPOSITIONS = ['emulated', 'passthrough', 'denied'] as const;
export type Disposition = (typeof DISPOSITIONS)[number];

/**
 * How to read one argument register. The strace-like decoder and the sentry's
 * argument copiers dispatch on this. Kinds that point at other arguments:
 * `len` is the byte length of the nearest pointer argument before it, `count` the
 * element count of the nearest array argument before it, `size` a byte size no
 * earlier pointer owns (mapping lengths, sigsetsize, extensible-struct sizes).
 */
export const ARG_KINDS = [
  'fd', // a file descriptor
  'dirfd', // a descriptor that anchors a relative path (AT_FDCWD allowed)
  'path', // NUL-terminated pathname the kernel would resolve
  'str', // NUL-terminated string that is not a path (xattr name, fs type, key type)
  'buf_in', // bytes the call reads; its length is the next `len`
  'buf_out', // bytes the call writes; its length is the next `len`
  'len',
  'size',
  'count',
  'off', // a file offset or length in bytes (loff_t)
  'flags', // a bit set specific to the call
  'open_flags', // O_* flags
  'at_flags', // AT_* flags
  'mode', // permission bits / file type (umode_t)
  'access_mode', // R_OK | W_OK | X_OK | F_OK
  'dev', // a device number (dev_t)
  'int',
  'uint',
  'ptr', // an opaque pointer the call interprets by another argument
  'addr', // an address in the task's memory space, not dereferenced (mmap, brk)
  'struct_in', // pointer to a struct the call reads
  'struct_out', // pointer to a struct the call writes
  'struct_inout', // pointer to a struct the call reads and writes
  'pid',
  'uid',
  'gid',
  'signal', // a signal number
  'sigset', // pointer to a sigset_t the call reads
  'iovec', // pointer to struct iovec[]; its length is the next `count`
  'sockaddr', // pointer to a socket address the call reads; its length is the next `len`
  'sockaddr_out', // pointer to a socket address the call writes
  'socklen_ptr', // pointer to an in-out socklen_t
  'msghdr', // pointer to struct msghdr
  'sock_domain', // AF_*
  'sock_type', // SOCK_* | SOCK_NONBLOCK | SOCK_CLOEXEC
  'argv', // NULL-terminated array of string pointers
  'timespec', // pointer to an input struct timespec (timeout, deadline, sleep request)
  'clockid',
  'clone_flags', // CLONE_* (also the namespace flags of unshare/setns)
  'ioctl_cmd',
  'fcntl_cmd',
  'prctl_option',
  'futex_op',
  'resource', // RLIMIT_*
  'whence', // SEEK_*
  'prot', // PROT_*
  'mmap_flags', // MAP_*
  'fd_pair', // int[2] the call fills with new descriptors
] as const;
export type ArgKind = (typeof ARG_KINDS)[number];

/** How to read the return value when it is not an error (-4095..-1). */
export const RET_KINDS = [
  'int', // 0 on success, or a small count
  'uint',
  'long', // call-specific (prctl, fcntl, ptrace, rt_sigreturn)
  'fd', // a new file descriptor
  'ssize', // a byte count
  'off', // a file offset
  'pid',
  'uid',
  'gid',
  'addr', // an address in the task (mmap, brk, shmat)
  'mode', // the previous umask
  'noreturn', // exit, exit_group: no value comes back
] as const;
export type RetKind = (typeof RET_KINDS)[number];

/** Groups for the compatibility report and the sentry's one-file-per-family handlers. */
export const SYSCALL_FAMILIES = [
  'fs', // names filesystem objects; metadata of files
  'file_io', // moves bytes on a descriptor, syncs it
  'fd', // the descriptor table: close, dup, fcntl, ioctl, pipes, locks
  'xattr',
  'notify', // inotify, fanotify
  'poll', // poll, select, epoll, eventfd
  'memory',
  'process', // task creation, exec, exit, wait, process groups, per-task settings
  'futex',
  'signal',
  'creds', // user and group ids, capabilities
  'sched',
  'time',
  'resource', // rlimits and usage
  'ipc', // SysV IPC, POSIX message queues
  'net',
  'aio', // Linux AIO and io_uring
  'mount',
  'system', // host-wide state: identity, modules, reboot, logs, randomness
  'security', // seccomp, landlock, LSM, keyrings
  'unimplemented', // numbers Linux reserves but does not implement on x86_64
] as const;
export type SyscallFamily = (typeof SYSCALL_FAMILIES)[number];

export interface ArgSpec {
  readonly name: string;
  readonly kind: ArgKind;
}

/** Refuse a passthrough call in the filter when the low 32 bits of args[arg] equal value. */
export interface ArgDenyRule {
  readonly arg: number;
  readonly value: number;
  readonly errno: number;
}

/**
 * Let an emulated call run natively in the filter itself when args[arg] (all
 * 64 bits) equals value: sendto with a NULL address moves bytes on a
 * connected socket, and only a named destination needs the sentry. With a
 * mask, when the argument's low 32 bits ANDed with mask equal value (for an
 * argument the kernel reads as 32 bits): clone without a namespace flag.
 */
export interface ArgAllowRule {
  readonly arg: number;
  readonly value: number;
  readonly mask?: number;
}

export interface SyscallEntry {
  readonly nr: number;
  readonly name: string;
  readonly family: SyscallFamily;
  readonly args: readonly ArgSpec[];
  readonly ret: RetKind;
  readonly disposition: Disposition;
  /** With 'denied': the errno the filter answers, EPERM (1) or ENOSYS (38). */
  readonly deniedErrno?: number;
  /** With 'passthrough': argument values refused in the filter itself. */
  readonly argDeny?: readonly ArgDenyRule[];
  /** With 'emulated': argument values the filter lets run natively. */
  readonly argAllow?: readonly ArgAllowRule[];
}
