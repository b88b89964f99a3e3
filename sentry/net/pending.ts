// Socket calls that must wait (a blocking connect in progress, a send on a
// full socket buffer): the trap is parked and the sentry's copy of the socket
// polled between batches of traps, so the loop never blocks on one task.
// The platform loop wakes at the timeout onIdle() returns; waits back off
// from 1 ms to 50 ms, so a long wait costs a poll every 50 ms.
import { native } from '../../native/index.js';
import type { ParkedTrap } from '../../platform/platform.js';

/** A step's answer when the call must go on waiting. */
export const STILL_WAITING: unique symbol = Symbol('still waiting');

export interface PendingCall {
  readonly parked: ParkedTrap;
  /** The sentry's copy of the socket, polled for `events`; closed when the call ends. */
  readonly fd: number;
  readonly events: number;
  /** Tries again: the call's answer (a value, or -errno), or STILL_WAITING. */
  readonly step: () => number | typeof STILL_WAITING;
  /** Releases what the call held besides fd, once it ends either way. */
  readonly done?: () => void;
}

interface Entry {
  readonly call: PendingCall;
  due: number;
  delay: number;
}

const FIRST_DELAY_MS = 1;
const MAX_DELAY_MS = 50;

export class PendingCalls {
  private entries: Entry[] = [];
  private pollSet = new Int32Array(0);

  get size(): number {
    return this.entries.length;
  }

  add(call: PendingCall): void {
    this.entries.push({ call, due: Date.now() + FIRST_DELAY_MS, delay: FIRST_DELAY_MS });
  }

  /** Polls every waiting call once; returns the wait timeout for the loop (-1: nothing waits). */
  service(): number {
    if (this.entries.length === 0) return -1;
    if (this.pollSet.length < 3 * this.entries.length) this.pollSet = new Int32Array(3 * this.entries.length * 2);
    const set = this.pollSet.subarray(0, 3 * this.entries.length);
    this.entries.forEach((e, i) => {
      set[3 * i] = e.call.fd;
      set[3 * i + 1] = e.call.events;
      set[3 * i + 2] = 0;
    });
    native.sockPoll(set, 0);
    const now = Date.now();
    const still: Entry[] = [];
    this.entries.forEach((e, i) => {
      const { call } = e;
      if (!call.parked.stillWaiting()) {
        native.close(call.fd); // killed meanwhile: nobody reads the answer
        call.done?.();
        return;
      }
      if (set[3 * i + 2] === 0 && now < e.due) {
        still.push(e);
        return;
      }
      const r = call.step();
      if (r === STILL_WAITING) {
        e.delay = Math.min(MAX_DELAY_MS, e.delay * 2);
        e.due = now + e.delay;
        still.push(e);
        return;
      }
      native.close(call.fd);
      call.done?.();
      if (r < 0) call.parked.replyErrno(-r);
      else call.parked.replyValue(r);
    });
    this.entries = still;
    if (still.length === 0) return -1;
    return Math.max(0, Math.min(...still.map((e) => e.due - now)));
  }
}
