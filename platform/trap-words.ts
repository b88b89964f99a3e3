// A trap's syscall number and arguments in struct seccomp_notif's layout (20
// 32-bit words: pid at 2, nr at 4, args from 8, each as two halves). The
// seccomp-notify platform receives that struct as-is; the ptrace platform
// fills the same words from the stopped thread's registers, so both decode
// arguments with this one class.
import { native } from '../native/index.js';

const TWO_32 = 4294967296;
/** User addresses on x86_64 stay below 2^47; anything past 2^53 cannot even be represented. */
const MAX_SAFE_HI = 0x1fffff;

const W_PID = 2;
const W_NR = 4;
const W_ARGS = 8;

/** Trap.signalThread on every platform: the thread waits in its syscall for
 * our reply, so a thread-directed signal stays pending until it returns. */
export function signalThread(tid: number, sig: number): void {
  native.threadSignal(tid, sig); // ESRCH: it died meanwhile, nobody to tell
}

export abstract class TrapWords {
  readonly words = new Uint32Array(20);
  protected readonly signed = new Int32Array(this.words.buffer);

  get tid(): number {
    return this.words[W_PID]!;
  }
  signalThread(sig: number): void {
    signalThread(this.tid, sig);
  }
  get nr(): number {
    return this.signed[W_NR]!;
  }
  argLo(i: number): number {
    return this.words[W_ARGS + 2 * i]!;
  }
  argHi(i: number): number {
    return this.words[W_ARGS + 2 * i + 1]!;
  }
  argI32(i: number): number {
    return this.signed[W_ARGS + 2 * i]!;
  }
  argU32(i: number): number {
    return this.words[W_ARGS + 2 * i]!;
  }
  argI64(i: number): number {
    return this.signed[W_ARGS + 2 * i + 1]! * TWO_32 + this.words[W_ARGS + 2 * i]!;
  }
  argPtr(i: number): number {
    const hi = this.words[W_ARGS + 2 * i + 1]!;
    return hi > MAX_SAFE_HI ? -1 : hi * TWO_32 + this.words[W_ARGS + 2 * i]!;
  }
}
