// The seccomp-notify platform's trap loop: one worker thread, a blocking wait
// on the listener, a receive into a preallocated buffer, the handler, a reply.
// Measured in DESIGN.md as within 1.1x of a C supervisor.
import { native } from '../../native/index.js';
import { E, SECCOMP_USER_NOTIF_FLAG_CONTINUE, O_CLOEXEC } from '../../sentry/abi/linux.js';
import type { ParkedTrap, PlatformLoop, TaskMemory, Trap, TrapHandler } from '../platform.js';
import { ProcessVmMemory } from '../task-memory.js';
import { signalThread, TrapWords } from '../trap-words.js';

const WAIT_NOTIFICATION = 1;
const WAIT_HANGUP = 2;
// struct seccomp_notif, as 32-bit words (the rest: platform/trap-words.ts)
const W_ID_LO = 0;
const W_ID_HI = 1;

class NotifTrap extends TrapWords implements Trap {
  replied = false;
  constructor(private readonly listener: number) {
    super();
  }
  stillWaiting(): boolean {
    return native.notifIdValid(this.listener, this.words[W_ID_LO]!, this.words[W_ID_HI]!) === 0;
  }
  private send(value: number, errno: number, flags: number): void {
    this.replied = true;
    // ENOENT: the task died meanwhile; nothing is waiting for the answer.
    native.notifSend(this.listener, this.words[W_ID_LO]!, this.words[W_ID_HI]!, value, errno, flags);
  }
  replyValue(value: number): void {
    this.send(value, 0, 0);
  }
  replyErrno(errno: number): void {
    this.send(0, errno, 0);
  }
  replyContinue(): void {
    this.send(0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  }
  replyContinueWatched(): boolean {
    this.replyContinue();
    return false;
  }
  replyInstallFd(hostFd: number, cloexec: boolean): number {
    // Install, drop our copy, and only then let the task run: had it run
    // first (ADDFD_FLAG_SEND), a close() of its fd might not be the last one,
    // and its effects (inotify's IN_CLOSE_*, EOF for the other end of a pipe
    // or socket) would wait for ours.
    const fd = native.notifAddFd(
      this.listener, this.words[W_ID_LO]!, this.words[W_ID_HI]!, hostFd, 0, cloexec ? O_CLOEXEC : 0, 0);
    native.close(hostFd);
    // On failure (EMFILE...) the syscall is still waiting: the caller answers it.
    if (fd >= 0) this.replyValue(fd);
    return fd;
  }
  park(): ParkedTrap {
    this.replied = true;
    return new NotifParked(this.listener, this.words[W_ID_LO]!, this.words[W_ID_HI]!, this.tid, this.nr);
  }
}

class NotifParked implements ParkedTrap {
  constructor(
    private readonly listener: number,
    private readonly idLo: number,
    private readonly idHi: number,
    readonly tid: number,
    readonly nr: number,
  ) {}
  signalThread(sig: number): void {
    signalThread(this.tid, sig);
  }
  stillWaiting(): boolean {
    return native.notifIdValid(this.listener, this.idLo, this.idHi) === 0;
  }
  replyValue(value: number): void {
    native.notifSend(this.listener, this.idLo, this.idHi, value, 0, 0);
  }
  replyErrno(errno: number): void {
    native.notifSend(this.listener, this.idLo, this.idHi, 0, errno, 0);
  }
  replyContinue(): void {
    native.notifSend(this.listener, this.idLo, this.idHi, 0, 0, SECCOMP_USER_NOTIF_FLAG_CONTINUE);
  }
}

export class SeccompNotifyLoop implements PlatformLoop {
  readonly memory: TaskMemory = new ProcessVmMemory();
  private stopping = false;
  private readonly wakeFd: number;

  constructor(private readonly listener: number) {
    // Not fatal where the kernel lacks it (before 6.6): only slower.
    native.notifSetSyncWakeup(listener);
    const fd = native.eventfd();
    if (fd < 0) throw new Error(`eventfd: errno ${-fd}`);
    this.wakeFd = fd;
  }

  /** onIdle runs between batches and returns the wait timeout in ms (-1: none). */
  run(handler: TrapHandler, onIdle: () => number): void {
    const trap = new NotifTrap(this.listener);
    while (!this.stopping) {
      const mask = native.notifWait(this.listener, this.wakeFd, onIdle());
      if (mask < 0) throw new Error(`poll on the seccomp listener: errno ${-mask}`);
      if (mask & WAIT_NOTIFICATION) {
        const r = native.notifRecv(this.listener, trap.words);
        if (r === 0) {
          trap.replied = false;
          handler(trap);
          if (!trap.replied) trap.replyErrno(E.ENOSYS); // a handler forgot to answer: fail closed
        }
        // r < 0 (ENOENT): the task died before we read it; nothing to answer.
        continue;
      }
      if (mask & WAIT_HANGUP) break;
    }
    native.close(this.wakeFd);
  }

  stop(): void {
    this.stopping = true;
    native.eventfdSignal(this.wakeFd);
  }
}
