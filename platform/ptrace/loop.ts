// The ptrace platform's trap loop: the filter's trap action is
// SECCOMP_RET_TRACE, so a trapped syscall stops its thread (a
// PTRACE_EVENT_SECCOMP stop) until the sentry, its tracer, answers by
// rewriting registers. One worker thread seizes the program, waits, handles,
// replies; native/addon/ptrace.cc hides every stop that is not a trap or an
// exit. Slower than seccomp-notify (DESIGN.md: about 2x per trap), and the
// fallback where the kernel lacks user notification.
//
// ptrace cannot install an fd into a task, so replyInstallFd runs a recvmsg in
// the task (syscall injection) on a hidden unix socket whose other end the
// sentry holds: see HiddenSockets and docs/architecture.md.
import type { Log } from '../../sentry/log.js';
import { native } from '../../native/index.js';
import { NR } from '../../syscall-tables/index.js';
import {
  AF_UNIX, E, F_DUPFD_CLOEXEC, PIDFD_THREAD, RLIMIT_NOFILE, S_IFMT, S_IFSOCK, SOCK_CLOEXEC, SOCK_SEQPACKET,
} from '../../sentry/abi/linux.js';
import type { ParkedTrap, PlatformLoop, ResultHandler, TaskMemory, Trap, TrapHandler } from '../platform.js';
import { ProcessVmMemory } from '../task-memory.js';
import { signalThread, TrapWords } from '../trap-words.js';

// ptraceWait's answers
const WAIT_NONE = 0;
const WAIT_TRAP = 1;
const WAIT_EXIT = 2;
const WAIT_TIMEOUT = 3;
const WAIT_RESULT = 4;
// ptraceReply's modes
const REPLY_SKIP = 0;
const REPLY_RUN = 1;
const REPLY_RUN_WATCHED = 2;

/**
 * Where the hidden socket goes in each task: high, so that it never takes a
 * number the program expects to get from open() (the lowest free one), and
 * below 1024, so that select()'s FD_SETSIZE still covers it and the fd table
 * does not grow past its usual size (a program's soft RLIMIT_NOFILE is often
 * 1024: the socket then takes 1023, the last number it may use). A lower soft
 * limit moves it down to that limit minus one.
 */
const HIDDEN_FD = 1023;

/**
 * Passthrough syscalls this platform traps: getdents64, so that listings of
 * /proc/<pid>/fd leave out the hidden socket (HiddenSockets.listWithoutHidden).
 */
export const PTRACE_ALSO_TRAPPED: ReadonlySet<string> = new Set(['getdents64']);
/** The most one listing reads for the task (the kernel takes any size; fewer records is fine). */
const MAX_LISTING = 1 << 20;

interface Hidden {
  /** The task's fd number of its end. */
  readonly fd: number;
  /** The sentry's end (SOCK_SEQPACKET, close-on-exec). */
  readonly sentryEnd: number;
  /** The inode of the task's end: how a task's fd is recognised as ours. */
  readonly ino: number;
}

/**
 * The hidden sockets, made lazily: the first fd a process needs installed
 * makes one, by injected syscalls (socketpair in the task, pidfd_getfd of one
 * end by the sentry, F_DUPFD of the other to HIDDEN_FD or the first free
 * number below, close of both). It is
 * close-on-exec, and a forked child shares its parent's. Whenever the
 * program closed or replaced it (close_range in a child before exec, a dup2
 * onto it), the next install finds it gone (the inode check fails) and makes
 * a new one: the program cannot lose its ability to open files.
 */
class HiddenSockets {
  private readonly byIno = new Map<number, Hidden>();
  /** The socket a thread used last: one check (in ptraceInstallFd) and it is used again. */
  private readonly byTid = new Map<number, Hidden>();
  private readonly stat = new Uint8Array(144);
  private readonly statView = new DataView(this.stat.buffer);
  private readonly scratch = new Uint8Array(16);
  private readonly rlimit = new Uint8Array(16);
  private inos = new Float64Array(0);
  /** A listing's records, before they go to the task: getdents64's usual buffer size. */
  private readonly listing = new Uint8Array(32768);

  constructor(private readonly memory: TaskMemory, private readonly log: Log) {}

  /** Installs hostFd (not closed here) into the stopped task: its number, or -errno. */
  install(tid: number, hostFd: number, cloexec: boolean): number {
    const last = this.byTid.get(tid);
    if (last) {
      const r = native.ptraceInstallFd(tid, last.fd, last.sentryEnd, last.ino, hostFd, cloexec);
      if (r !== -E.ENOTCONN) return r;
    }
    const h = this.find(tid) ?? this.create(tid);
    if (typeof h === 'number') return h;
    this.byTid.set(tid, h);
    const r = native.ptraceInstallFd(tid, h.fd, h.sentryEnd, h.ino, hostFd, cloexec);
    if (r === -E.ENOTCONN) return -E.EMFILE; // just made and checked: cannot happen
    return r;
  }

  forget(tid: number): void {
    this.byTid.delete(tid);
  }

  /**
   * Serves a getdents64 of a task's /proc fd or fdinfo directory with our
   * sockets left out, so the program lists its own fds only (a closefrom()
   * that walks /proc/self/fd, or a test counting fds, never sees ours).
   * null: not such a directory, or no socket of ours exists; the task's
   * own getdents64 may run.
   */
  listWithoutHidden(tid: number, fd: number, addr: number, count: number): number | null {
    if (this.byIno.size === 0) return null;
    if (this.inos.length !== this.byIno.size) this.inos = new Float64Array(this.byIno.size);
    let i = 0;
    for (const ino of this.byIno.keys()) this.inos[i++] = ino;
    const out = this.listing.length >= count ? this.listing.subarray(0, count) : new Uint8Array(count);
    const n = native.ptraceListHidden(tid, fd, out, this.inos);
    if (n === -E.ENOTSUP) return null;
    if (n <= 0) return n;
    return this.memory.write(tid, addr, out, 0, n) === n ? n : -E.EFAULT;
  }

  /** A socket of ours at one of the numbers ours take (one, unless a task's rlimit was low). */
  private find(tid: number): Hidden | null {
    const numbers = new Set<number>();
    for (const h of this.byIno.values()) numbers.add(h.fd);
    for (const fd of numbers) {
      const ino = this.inoOf(tid, fd);
      const h = ino >= 0 ? this.byIno.get(ino) : undefined;
      if (h && h.fd === fd) return h;
    }
    return null;
  }

  /** The inode of the task's fd if it is a socket, else -errno. */
  private inoOf(tid: number, fd: number): number {
    const pidfd = native.pidfdOpen(tid, PIDFD_THREAD);
    if (pidfd < 0) return pidfd;
    const dup = native.pidfdGetfd(pidfd, fd);
    native.close(pidfd);
    if (dup < 0) return dup;
    const r = native.fstatRaw(dup, this.stat);
    native.close(dup);
    if (r < 0) return r;
    // struct stat on x86_64: st_ino at 8, st_mode at 24
    if ((this.statView.getUint32(24, true) & S_IFMT) !== S_IFSOCK) return -E.ENOTSOCK;
    return Number(this.statView.getBigUint64(8, true));
  }

  private create(tid: number): Hidden | number {
    this.sweep();
    if (native.prlimit(tid, RLIMIT_NOFILE, null, this.rlimit) < 0) return -E.ESRCH;
    const soft = Number(new DataView(this.rlimit.buffer).getBigUint64(0, true));
    const top = Math.min(HIDDEN_FD, soft - 1);
    if (top < 3) return -E.EMFILE;
    const scratch = native.ptraceInjectBegin(tid);
    if (scratch < 0) return scratch;
    const inject = (nr: number, a0: number, a1 = 0, a2 = 0, a3 = 0): number =>
      native.ptraceInject(tid, nr, a0, a1, a2, a3, 0, 0);
    const r = inject(NR.socketpair, AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, scratch);
    if (r < 0) return r;
    if (this.memory.read(tid, scratch, this.scratch, 0, 8) !== 8) return -E.EFAULT;
    const sv = new Int32Array(this.scratch.buffer, 0, 2);
    const [ours, theirs] = [sv[0]!, sv[1]!];
    const pidfd = native.pidfdOpen(tid, PIDFD_THREAD);
    const sentryEnd = pidfd < 0 ? pidfd : native.pidfdGetfd(pidfd, ours);
    if (pidfd >= 0) native.close(pidfd);
    // F_DUPFD, not dup3: a number the program uses itself is never taken
    // from it. From HIDDEN_FD, else lower down, to the first free number.
    let moved = -E.EMFILE;
    for (let from = top; sentryEnd >= 0 && moved === -E.EMFILE && from >= 3; from -= 64) {
      moved = inject(NR.fcntl, theirs, F_DUPFD_CLOEXEC, from);
    }
    inject(NR.close, ours);
    inject(NR.close, theirs);
    if (sentryEnd < 0 || moved < 0) {
      if (sentryEnd >= 0) native.close(sentryEnd);
      return sentryEnd < 0 ? sentryEnd : moved;
    }
    const fd = moved;
    const ino = this.inoOf(tid, fd);
    if (ino < 0) {
      native.close(sentryEnd);
      return ino;
    }
    const h: Hidden = { fd, sentryEnd, ino };
    this.byIno.set(ino, h);
    this.log.debug({ tid, fd, sockets: this.byIno.size }, 'ptrace: made a hidden socket for fd installs');
    return h;
  }

  /** Drops the sockets no task holds any more (their end hung up). */
  private sweep(): void {
    for (const [ino, h] of this.byIno) {
      if (native.fdReadable(h.sentryEnd) === 1) {
        native.close(h.sentryEnd);
        this.byIno.delete(ino);
        for (const [tid, t] of this.byTid) if (t === h) this.byTid.delete(tid);
      }
    }
  }
}

class PtraceTrap extends TrapWords implements Trap {
  replied = false;
  /** A watched syscall this platform answered itself: its result, for the ResultHandler. */
  served: number | null = null;
  constructor(private readonly hidden: HiddenSockets) {
    super();
  }
  stillWaiting(): boolean {
    return native.ptraceAlive(this.tid) === 0;
  }
  replyValue(value: number): void {
    this.replied = true;
    // ESRCH: killed meanwhile; nothing waits for the answer.
    native.ptraceReply(this.tid, value, REPLY_SKIP);
  }
  replyErrno(errno: number): void {
    this.replyValue(-errno);
  }
  replyContinue(): void {
    this.run(REPLY_RUN);
  }
  replyContinueWatched(): boolean {
    this.run(REPLY_RUN_WATCHED);
    return true;
  }
  private run(mode: number): void {
    this.replied = true;
    if (this.nr === NR.getdents64) {
      const count = Math.min(this.argU32(2), MAX_LISTING);
      const r = this.hidden.listWithoutHidden(this.tid, this.argI32(0), this.argPtr(1), count);
      if (r !== null) {
        native.ptraceReply(this.tid, r, REPLY_SKIP);
        if (mode === REPLY_RUN_WATCHED) this.served = r;
        return;
      }
    }
    native.ptraceReply(this.tid, 0, mode);
  }
  replyInstallFd(hostFd: number, cloexec: boolean): number {
    const fd = this.hidden.install(this.tid, hostFd, cloexec);
    // Ours is dropped before the task runs again (see the seccomp-notify loop for why).
    native.close(hostFd);
    if (fd >= 0) this.replyValue(fd);
    return fd;
  }
  park(): ParkedTrap {
    this.replied = true;
    return new PtraceParked(this.tid, this.nr);
  }
  replyExecFd(hostFd: number, comm: string): number {
    const fd = this.hidden.install(this.tid, hostFd, true);
    native.close(hostFd);
    if (fd < 0) return fd;
    const r = native.ptraceExecFd(this.tid, fd, comm);
    if (r < 0) {
      native.ptraceInject(this.tid, NR.close, fd, 0, 0, 0, 0, 0);
      return r;
    }
    this.replied = true;
    return 0;
  }
}

/** A thread in its seccomp stop stays there until answered: nothing else to keep. */
class PtraceParked implements ParkedTrap {
  constructor(readonly tid: number, readonly nr: number) {}
  signalThread(sig: number): void {
    signalThread(this.tid, sig);
  }
  stillWaiting(): boolean {
    return native.ptraceAlive(this.tid) === 0;
  }
  replyValue(value: number): void {
    native.ptraceReply(this.tid, value, REPLY_SKIP);
  }
  replyErrno(errno: number): void {
    native.ptraceReply(this.tid, -errno, REPLY_SKIP);
  }
  replyContinue(): void {
    native.ptraceReply(this.tid, 0, REPLY_RUN);
  }
}

export class PtraceLoop implements PlatformLoop {
  readonly memory: TaskMemory = new ProcessVmMemory();
  private stopping = false;
  private readonly hidden: HiddenSockets;

  /** Call from the thread that seized the program (platform/handshake.ts): only it may trace. */
  constructor(log: Log) {
    this.hidden = new HiddenSockets(this.memory, log);
  }

  /** Serves traps until the last tracee is gone. onIdle: the wait timeout in ms (-1: none). */
  run(handler: TrapHandler, onIdle: () => number, onResult?: ResultHandler): void {
    const trap = new PtraceTrap(this.hidden);
    const words = trap.words;
    const signed = new Int32Array(words.buffer);
    while (!this.stopping) {
      const kind = native.ptraceWait(words, onIdle());
      if (kind === WAIT_TRAP) {
        trap.replied = false;
        trap.served = null;
        handler(trap);
        if (!trap.replied) trap.replyErrno(E.ENOSYS); // a handler forgot to answer: fail closed
        if (trap.served !== null) onResult?.(trap.tid, trap.served);
      } else if (kind === WAIT_RESULT) {
        // words 6 and 7: the 64-bit return value, low word first
        onResult?.(trap.tid, signed[7]! * 0x100000000 + words[6]!);
      } else if (kind === WAIT_EXIT) {
        this.hidden.forget(trap.tid);
        onResult?.(trap.tid, null);
      } else if (kind === WAIT_NONE) {
        break;
      } else if (kind !== WAIT_TIMEOUT) {
        throw new Error(`waiting for the traced sandbox: errno ${-kind}`);
      }
    }
  }

  groupStopped(tid: number): boolean {
    return native.ptraceGroupStopped(tid) === 1;
  }

  /**
   * Takes effect at the next trap or exit: a blocked waitpid cannot be woken
   * from another thread (unused today; the loop ends with its last tracee).
   */
  stop(): void {
    this.stopping = true;
  }
}
