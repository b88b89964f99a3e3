// The dispatcher: syscall number -> handler, built from syscall-tables/ and
// the handler families. A syscall the table marks emulated but no family
// handles is answered ENOSYS (fail closed) and logged once per name.
import { SYSCALLS, type SyscallEntry } from '../../syscall-tables/index.js';
import type { Trap } from '../../platform/platform.js';
import { E } from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import { GoferDiedError } from '../../gofer/client.js';
import { attrHandlers } from './attr.js';
import { identityHandlers } from './identity.js';
import { openHandlers } from './open.js';
import { processHandlers } from './process.js';
import { statHandlers } from './stat.js';
import { treeHandlers } from './tree.js';
import { xattrHandlers } from './xattr.js';
import { notifyHandlers } from './notify.js';
import { fsinfoHandlers } from './fsinfo.js';
import { fshandleHandlers } from './fshandle.js';
import { netHandlers } from './net.js';
import { CONTINUE, REPLIED, RESULT_LATER, type HandlerTable, type SyscallHandler, type SyscallReturn } from './types.js';
import type { TraceToken, Tracer } from '../trace.js';

/** Every handler, by syscall name. */
export const HANDLERS: HandlerTable = {
  ...openHandlers,
  ...statHandlers,
  ...treeHandlers,
  ...attrHandlers,
  ...processHandlers,
  ...identityHandlers,
  ...xattrHandlers,
  ...notifyHandlers,
  ...fsinfoHandlers,
  ...fshandleHandlers,
  ...netHandlers,
};

export interface DispatcherOptions {
  readonly tracer?: Tracer;
}

export class Dispatcher {
  private readonly handlers: (SyscallHandler | undefined)[] = [];
  private readonly entries: (SyscallEntry | undefined)[] = [];
  private readonly missingLogged = new Set<string>();
  /** Trace lines of syscalls the kernel carries out, waiting for their results, by thread. */
  private readonly watched = new Map<number, TraceToken>();
  /** Traps per syscall number, for statistics. */
  readonly counts: number[] = [];

  constructor(private readonly kernel: Kernel, private readonly opts: DispatcherOptions = {}) {
    for (const name of Object.keys(HANDLERS)) {
      if (!SYSCALLS.some((s) => s.name === name)) throw new Error(`handler for unknown syscall ${name}`);
    }
    for (const entry of SYSCALLS) {
      this.entries[entry.nr] = entry;
      this.handlers[entry.nr] = HANDLERS[entry.name];
    }
  }

  handle(trap: Trap): void {
    const k = this.kernel;
    const nr = trap.nr;
    this.counts[nr] = (this.counts[nr] ?? 0) + 1;
    const task = k.tasks.get(trap.tid);
    if (!task) {
      trap.replyErrno(E.ESRCH); // it died while trapped; nobody reads the answer
      return;
    }
    const entry = nr >= 0 ? this.entries[nr] : undefined;
    const tracer = this.opts.tracer;
    const traceToken = tracer ? tracer.enter(task, trap, entry) : null;
    let ret: SyscallReturn;
    const handler = nr >= 0 ? this.handlers[nr] : undefined;
    if (handler) {
      k.current = task;
      try {
        ret = handler(k, task, trap);
      } catch (err) {
        if (err instanceof GoferDiedError) throw err; // fail closed: the sandbox goes down
        k.log.error({ err, syscall: entry?.name }, 'handler failed');
        ret = -E.EIO;
      } finally {
        k.current = null;
      }
    } else {
      ret = this.withoutHandler(entry, nr);
    }
    if (ret === RESULT_LATER) {
      if (traceToken !== null) this.watched.set(trap.tid, traceToken);
      return;
    }
    if (ret === CONTINUE && traceToken !== null) {
      // Traced: where the platform can see the kernel's result, the line waits for it.
      if (trap.replyContinueWatched()) {
        this.watched.set(trap.tid, traceToken);
        return;
      }
    } else if (ret === CONTINUE) trap.replyContinue();
    else if (ret === REPLIED) {
      /* answered by the handler */
    } else if (ret < 0) trap.replyErrno(-ret);
    else trap.replyValue(ret);
    if (tracer && traceToken !== null) tracer.exit(traceToken, ret);
  }

  /** The platform's report of a watched syscall's result (null: the task ended in it). */
  result(tid: number, value: number | null): void {
    const token = this.watched.get(tid);
    if (token === undefined) return;
    this.watched.delete(tid);
    this.opts.tracer?.exit(token, value);
  }

  /** Strict mode traps everything: the table says what to do with the rest. */
  private withoutHandler(entry: SyscallEntry | undefined, nr: number): SyscallReturn {
    if (entry?.disposition === 'passthrough') return CONTINUE;
    if (entry?.disposition === 'denied') return -(entry.deniedErrno ?? E.EPERM);
    const name = entry?.name ?? `syscall_${nr}`;
    if (!this.missingLogged.has(name)) {
      this.missingLogged.add(name);
      this.kernel.log.warn({ syscall: name }, 'no handler: ENOSYS');
    }
    return -E.ENOSYS;
  }
}
