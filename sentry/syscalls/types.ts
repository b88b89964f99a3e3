// What a syscall handler is, and what it may answer.
import type { Trap } from '../../platform/platform.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';

/** Let the host kernel carry out the call as made (value arguments only). */
export const CONTINUE: unique symbol = Symbol('continue');
/** The handler already answered through the trap (an fd install, or parked). */
export const REPLIED: unique symbol = Symbol('replied');

/** The platform carries the call out and reports its result later, to
 * Dispatcher.result (Trap.replyExecFd). */
export const RESULT_LATER: unique symbol = Symbol('result later');

/** A value (>= 0), a negated errno (< 0), or one of the markers. */
export type SyscallReturn = number | typeof CONTINUE | typeof REPLIED | typeof RESULT_LATER;

export type SyscallHandler = (k: Kernel, t: Task, trap: Trap) => SyscallReturn;

/** Handlers by syscall name: the dispatcher looks numbers up in syscall-tables/. */
export type HandlerTable = Readonly<Record<string, SyscallHandler>>;
