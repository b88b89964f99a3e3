// The x86_64 syscall table: numbers, names, argument kinds and dispositions. The
// seccomp filter, the sentry's dispatcher, the tracer's decoders and the
// compatibility report are all built from this; no syscall number is written
// anywhere else in the project.
import { NR_X86_64, SYSCALLS_X86_64 } from './x86_64.generated.js';
import type { SyscallEntry } from './types.js';

export type {
  ArgAllowRule,
  ArgDenyRule,
  ArgKind,
  ArgSpec,
  Disposition,
  RetKind,
  SyscallEntry,
  SyscallFamily,
} from './types.js';
export { ARG_KINDS, DISPOSITIONS, RET_KINDS, SYSCALL_FAMILIES } from './types.js';

/** seccomp_data.arch of a native x86_64 syscall (EM_X86_64 | __AUDIT_ARCH_64BIT | __AUDIT_ARCH_LE). */
export const AUDIT_ARCH_X86_64 = 0xc000003e;

// Frozen all the way down: this is the security policy, and a handler that
// mutated an entry by accident would change it for every later reader.
for (const entry of SYSCALLS_X86_64) {
  for (const arg of entry.args) Object.freeze(arg);
  if (entry.argDeny) for (const rule of entry.argDeny) Object.freeze(rule);
  Object.freeze(entry.args);
  if (entry.argDeny) Object.freeze(entry.argDeny);
  if (entry.argAllow) {
    for (const rule of entry.argAllow) Object.freeze(rule);
    Object.freeze(entry.argAllow);
  }
  Object.freeze(entry);
}
Object.freeze(SYSCALLS_X86_64);
Object.freeze(NR_X86_64);

/** Every syscall, sorted by number. */
export const SYSCALLS: readonly SyscallEntry[] = SYSCALLS_X86_64;

/** Syscall numbers by name: code writes NR.openat, never the number itself. */
export const NR = NR_X86_64;
export type SyscallName = keyof typeof NR_X86_64;

// Dense by number: the dispatcher looks entries up on every trap.
const byNr: readonly (SyscallEntry | undefined)[] = (() => {
  const table: (SyscallEntry | undefined)[] = [];
  for (const entry of SYSCALLS) table[entry.nr] = entry;
  return Array.from(table);
})();
const byName: ReadonlyMap<string, SyscallEntry> = new Map(SYSCALLS.map((entry) => [entry.name, entry]));

/** The entry for a number, or undefined for a number Linux does not define (the sentry answers ENOSYS). */
export function syscallByNr(nr: number): SyscallEntry | undefined {
  return byNr[nr];
}

/** The entry for a name. An unknown name is a programming error, so it throws. */
export function syscallByName(name: string): SyscallEntry {
  const entry = byName.get(name);
  if (!entry) throw new Error(`unknown syscall name '${name}'`);
  return entry;
}

/** The highest number in the table. */
export const MAX_SYSCALL_NR: number = SYSCALLS[SYSCALLS.length - 1]?.nr ?? -1;
