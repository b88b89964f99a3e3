// An strace-like tracer: one line per trapped syscall, decoded from the
// argument kinds in syscall-tables/. Arguments are read before the handler
// runs (what the program passed), results after.
import type { SyscallEntry } from '../syscall-tables/index.js';
import type { Trap, TaskMemory } from '../platform/platform.js';
import type { Task } from './kernel/task.js';
import { CONTINUE, REPLIED, RESULT_LATER, type SyscallReturn } from './syscalls/types.js';
import { constants } from 'node:os';
import { AT_FDCWD } from './abi/linux.js';

const ERRNO_NAMES: Record<number, string> = Object.fromEntries(
  Object.entries(constants.errno).map(([name, value]) => [value, name]),
);

/** Return values from -4095 to -1 are errors (the kernel's MAX_ERRNO). */
const MAX_ERRNO = 4095;

export interface TraceToken {
  readonly line: string;
  /** Addresses print in hex, as strace prints them. */
  readonly hexResult: boolean;
}

export class Tracer {
  constructor(private readonly memory: TaskMemory, private readonly write: (line: string) => void) {}

  enter(task: Task, trap: Trap, entry: SyscallEntry | undefined): TraceToken {
    const name = entry?.name ?? `syscall_${trap.nr}`;
    const args: string[] = [];
    const specs = entry?.args ?? [];
    for (let i = 0; i < specs.length; i++) args.push(this.decode(trap, i, specs[i]!.kind));
    return { line: `[pid ${task.nsTid}] ${name}(${args.join(', ')})`, hexResult: entry?.ret === 'addr' };
  }

  /** ret: what the sentry answered, or the kernel's result of a continued call;
   * null when the task ended inside the call (exit, execve's other threads). */
  exit(token: TraceToken, ret: SyscallReturn | null): void {
    let result: string;
    if (ret === null || ret === RESULT_LATER) result = '?';
    else if (ret === CONTINUE) result = '? (host)';
    else if (ret === REPLIED) result = '(installed fd)';
    else if (ret < 0 && ret >= -MAX_ERRNO) result = `-1 ${ERRNO_NAMES[-ret] ?? `E${-ret}`}`;
    else result = token.hexResult ? `0x${ret.toString(16)}` : String(ret);
    this.write(`${token.line} = ${result}\n`);
  }

  private decode(trap: Trap, i: number, kind: string): string {
    switch (kind) {
      case 'path':
      case 'str': {
        const addr = trap.argPtr(i);
        if (addr === 0) return 'NULL';
        const s = this.memory.readCString(trap.tid, addr, 256);
        return typeof s === 'number' ? `0x${addr.toString(16)}` : JSON.stringify(s);
      }
      case 'fd':
      case 'dirfd':
        return trap.argI32(i) === AT_FDCWD ? 'AT_FDCWD' : String(trap.argI32(i));
      case 'flags':
      case 'open_flags':
      case 'at_flags':
      case 'clone_flags':
        return `0x${trap.argU32(i).toString(16)}`;
      case 'mode':
        return `0${trap.argU32(i).toString(8)}`;
      case 'int':
      case 'pid':
      case 'signal':
        return String(trap.argI32(i));
      default: {
        const p = trap.argPtr(i);
        return p < 0 ? `0x${trap.argHi(i).toString(16)}${trap.argLo(i).toString(16).padStart(8, '0')}` :
          p > 0xffff ? `0x${p.toString(16)}` : String(p);
      }
    }
  }
}
