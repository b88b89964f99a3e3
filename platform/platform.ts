// The Platform interface: how the sentry sees a trapped syscall. The sentry
// never learns which mechanism (seccomp user notification, ptrace) caught it.

/** A trapped syscall, valid until it is answered. Platforms reuse one object per
 * loop, so a handler must not keep it: to answer later, call park(). */
export interface Trap {
  /** Host thread id of the trapping task (what process_vm_readv wants). */
  readonly tid: number;
  /** Syscall number (look it up in syscall-tables/). */
  readonly nr: number;
  /** Argument i as a signed 32-bit int (fds, flags, modes, ints). */
  argI32(i: number): number;
  /** Argument i as an unsigned 32-bit int. */
  argU32(i: number): number;
  /** Argument i as a signed 64-bit value; exact within +-2^53. */
  argI64(i: number): number;
  /** Argument i as a user address, or -1 when it cannot be one (>= 2^53). */
  argPtr(i: number): number;
  /** The two 32-bit halves of argument i, for exact 64-bit values. */
  argLo(i: number): number;
  argHi(i: number): number;

  /**
   * True while the task still waits in this syscall. Checked before writing
   * into its memory: a task that died meanwhile may have had its pid reused
   * by another process, whose memory must never be written.
   */
  stillWaiting(): boolean;

  /** Answer with a return value. */
  replyValue(value: number): void;
  /** Fail the syscall with a positive errno. */
  replyErrno(errno: number): void;
  /**
   * Raise sig in the trapping thread alone, delivered as this syscall
   * returns, before the program runs an instruction of its own (as Linux
   * raises SIGPIPE in a thread whose send met a closed peer). Call it before
   * the reply: the thread waits for the reply, so the signal waits with it.
   */
  signalThread(sig: number): void;
  /** Let the host kernel run it as the program asked. Only for syscalls whose
   * pointed-to arguments the sentry did not check (TOCTOU): see DESIGN.md. */
  replyContinue(): void;
  /**
   * replyContinue, and hand the syscall's result to the loop's ResultHandler
   * once the kernel has carried it out, where the platform sees that (ptrace
   * stops the task at its syscall's exit). false: it does not (seccomp
   * notification lets the kernel finish the call unseen), no result comes.
   */
  replyContinueWatched(): boolean;
  /** Install one of our fds into the task (kernel-chosen number, lowest free)
   * and answer the syscall with that number. Returns it, or -errno. Takes
   * hostFd: it is closed either way, before the task runs again. */
  replyInstallFd(hostFd: number, cloexec: boolean): number;
  /** Keep the syscall waiting; answer it later through the returned handle. */
  park(): ParkedTrap;
  /**
   * Only where the platform can rewrite the call (ptrace): carry out the
   * trapped execve or execveat on hostFd, the file it names, rather than by
   * its path, so the file the sentry checked is the file that runs. comm:
   * the name Linux gives the new image (the last part of the path it was
   * exec'd by). Takes hostFd (closed either way). 0: done, and its result
   * goes to the ResultHandler; -errno: not done, the trap still waits.
   */
  replyExecFd?(hostFd: number, comm: string): number;
}

export interface ParkedTrap {
  readonly tid: number;
  readonly nr: number;
  /** False once the task stopped waiting (killed, or interrupted by a signal). */
  stillWaiting(): boolean;
  replyValue(value: number): void;
  replyErrno(errno: number): void;
  replyContinue(): void;
  signalThread(sig: number): void;
}

/** Copying to and from a task's memory. Every function returns >= 0 or -errno. */
export interface TaskMemory {
  read(tid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  write(tid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  /** A NUL-terminated string as a latin1 byte string, or -errno
   * (EFAULT, or ENAMETOOLONG when no NUL comes within max bytes). */
  readCString(tid: number, addr: number, max: number): string | number;
}

/** What the sentry gives a platform to run: called once per trap, in order. */
export type TrapHandler = (trap: Trap) => void;

/** The result of a syscall answered with replyContinueWatched (its return
 * value, -errno on failure), or null when the task ended inside it. */
export type ResultHandler = (tid: number, value: number | null) => void;

export interface PlatformLoop {
  readonly memory: TaskMemory;
  /** Serve traps until no task uses the sandbox's filter any more, or stop() was called. */
  run(handler: TrapHandler, onIdle: () => number, onResult?: ResultHandler): void;
  /** Ask run() to return (safe from another thread through wake()). */
  stop(): void;
  /**
   * Only a platform that traces the program (ptrace), whose tasks the host
   * shows in a tracing stop both while a trap waits and while the program
   * stopped itself: true for the second, a group-stop.
   */
  groupStopped?(tid: number): boolean;
}
