// The container's own seccomp profile (linux.seccomp) compiled to a classic
// BPF program, as runc builds it with libseccomp. The launcher installs it as
// a second filter on top of tsvisor's, as the last step before the program's
// execve (and before each `exec`'d process's): the kernel runs both and takes
// the stronger action, so the profile's ERRNO or KILL wins over tsvisor's
// trap, and what the profile allows still goes to the sentry.
//
// Semantics (runc over libseccomp, x86_64):
//   - a rule whose action (with its errno) is the default action is skipped;
//     so are names the syscall table does not know (libseccomp's unknown names);
//   - a rule's conditions all hold (AND), unless one argument index appears
//     twice: then each condition is a rule of its own (OR), as runc adds them;
//   - the rules of one syscall are tried in the order given, the first whose
//     conditions hold decides; none: the default action;
//   - comparisons are on all 64 bits (both 32-bit halves), unsigned;
//     SCMP_CMP_MASKED_EQ is (arg & value) == valueTwo;
//   - SCMP_ACT_KILL is KILL_THREAD (libseccomp's); a call of an architecture
//     the filter does not hold gets libseccomp's bad-arch action, KILL_THREAD.
//     x86_64 is always held; SCMP_ARCH_X86 and SCMP_ARCH_X32 give their calls
//     the default action (tsvisor has no table of their numbers, and its own
//     filter kills i386 calls and answers x32 ones ENOSYS whatever the profile says);
//   - runc's ENOSYS stub: a number above the highest one the profile names
//     returns ENOSYS rather than the default action (unless that is ALLOW or
//     LOG), so a C library falls back from a syscall newer than the profile.
import {
  Assembler, argHighWordOffset, argLowWordOffset, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_MAXINSNS, emitRangeSearch, errnoReturn,
  SECCOMP_DATA_ARCH, SECCOMP_DATA_NR, SECCOMP_RET_ALLOW, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG,
  SECCOMP_RET_TRAP, SOCK_FILTER_SIZE, X32_SYSCALL_BIT, type Label,
} from '../../platform/seccomp-bpf.js';
import { AUDIT_ARCH_X86_64, NR } from '../../syscall-tables/index.js';
import type { Seccomp, SeccompAction, SeccompArg, SeccompFlag, SeccompOperator } from './spec.js';

/** seccomp_data.arch of an i386 call (EM_386 | __AUDIT_ARCH_LE). */
export const AUDIT_ARCH_I386 = 0x40000003;
const ENOSYS = 38;
const U32 = 0xffffffffn;
const U64_MAX = (1n << 64n) - 1n;

/** seccomp(2) flags (linux/seccomp.h) of the spec's names that reach the kernel. */
const FILTER_FLAG_BITS: Readonly<Partial<Record<SeccompFlag, number>>> = {
  // TSYNC is implied: the filter goes on while the process has one thread.
  SECCOMP_FILTER_FLAG_LOG: 1 << 1,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 1 << 2,
};

/** One comparison, values as unsigned 64-bit integers. */
export interface ArgCondition {
  readonly index: number;
  readonly op: SeccompOperator;
  readonly value: bigint;
  readonly valueTwo: bigint;
}

/** A rule of one syscall after runc's rewriting: all conditions must hold. */
export interface SyscallRule {
  readonly conditions: readonly ArgCondition[];
  /** The seccomp return value. */
  readonly action: number;
}

/** The profile as the filter decides it: what the BPF program is compiled from. */
export interface ResolvedProfile {
  readonly defaultAction: number;
  /** Rules per x86_64 syscall number, in the profile's order. */
  readonly rules: ReadonlyMap<number, readonly SyscallRule[]>;
  /** SCMP_ARCH_X86 / SCMP_ARCH_X32 listed: their calls get the default action, else KILL_THREAD. */
  readonly i386: boolean;
  readonly x32: boolean;
  /** Numbers above this (and below the x32 bit) return ENOSYS; -1: no stub. */
  readonly enosysAbove: number;
}

export interface CompiledProfile {
  /** struct sock_filter[], ready for seccomp(SECCOMP_SET_MODE_FILTER). */
  readonly program: Buffer;
  /** seccomp(2) flags for it. */
  readonly flags: number;
}

/** A spec number as an unsigned 64-bit integer. JSON gives doubles: 2^64 is what 0xffffffffffffffff reads as. */
function u64(n: number): bigint {
  const b = BigInt(n);
  if (b < 0n) return b & U64_MAX;
  return b > U64_MAX ? U64_MAX : b;
}

export function actionValue(action: SeccompAction, errno: number): number {
  switch (action) {
    case 'SCMP_ACT_ALLOW': return SECCOMP_RET_ALLOW;
    case 'SCMP_ACT_ERRNO': return errnoReturn(errno);
    case 'SCMP_ACT_KILL':
    case 'SCMP_ACT_KILL_THREAD': return SECCOMP_RET_KILL_THREAD;
    case 'SCMP_ACT_KILL_PROCESS': return SECCOMP_RET_KILL_PROCESS;
    case 'SCMP_ACT_TRAP': return SECCOMP_RET_TRAP;
    case 'SCMP_ACT_LOG': return SECCOMP_RET_LOG;
    // The spec parser refuses these (see SUPPORTED_SECCOMP_ACTIONS).
    case 'SCMP_ACT_TRACE':
    case 'SCMP_ACT_NOTIFY': throw new Error(`seccomp profile: ${action} is not supported`);
  }
}

/** The syscall number of a name, or undefined for a name the table does not know. */
function numberOf(name: string): number | undefined {
  return Object.prototype.hasOwnProperty.call(NR, name) ? (NR as Readonly<Record<string, number>>)[name] : undefined;
}

function conditionOf(a: SeccompArg): ArgCondition {
  return { index: a.index, op: a.op, value: u64(a.value), valueTwo: u64(a.valueTwo) };
}

/** runc's reading of the profile, before any code is emitted. */
export function resolveProfile(profile: Seccomp): ResolvedProfile {
  const defaultAction = actionValue(profile.defaultAction, profile.defaultErrnoRet);
  const rules = new Map<number, SyscallRule[]>();
  let highest = -1;
  for (const rule of profile.syscalls) {
    const numbers = rule.names.map(numberOf).filter((nr): nr is number => nr !== undefined);
    for (const nr of numbers) highest = Math.max(highest, nr);
    const action = actionValue(rule.action, rule.errnoRet);
    if (action === defaultAction) continue;
    const conditions = rule.args.map(conditionOf);
    const sameIndexTwice = new Set(conditions.map((c) => c.index)).size < conditions.length;
    const alternatives = sameIndexTwice ? conditions.map((c) => [c]) : [conditions];
    for (const nr of numbers) {
      const list = rules.get(nr) ?? [];
      for (const c of alternatives) list.push({ conditions: c, action });
      rules.set(nr, list);
    }
  }
  // Rules after an unconditional one are never reached.
  for (const [nr, list] of rules) {
    const always = list.findIndex((r) => r.conditions.length === 0);
    if (always >= 0) rules.set(nr, list.slice(0, always + 1));
  }
  const enosysStub = defaultAction !== SECCOMP_RET_ALLOW && defaultAction !== SECCOMP_RET_LOG && defaultAction !== errnoReturn(ENOSYS);
  return {
    defaultAction,
    rules,
    i386: profile.architectures.includes('SCMP_ARCH_X86'),
    x32: profile.architectures.includes('SCMP_ARCH_X32'),
    enosysAbove: enosysStub ? highest : -1,
  };
}

/** The seccomp(2) flags of the profile's flags list. */
export function filterFlags(flags: readonly SeccompFlag[]): number {
  return flags.reduce((bits, f) => bits | (FILTER_FLAG_BITS[f] ?? 0), 0);
}

/** Compiles linux.seccomp; throws an Error naming the problem when the kernel could not take it. */
export function compileSeccompProfile(profile: Seccomp): CompiledProfile {
  const program = emitProgram(resolveProfile(profile));
  const instructions = program.length / SOCK_FILTER_SIZE;
  if (instructions > BPF_MAXINSNS) {
    throw new Error(`the profile compiles to ${instructions} BPF instructions, the kernel takes at most ${BPF_MAXINSNS}`);
  }
  return { program, flags: filterFlags(profile.flags) };
}

function emitProgram(p: ResolvedProfile): Buffer {
  const asm = new Assembler();
  const returns = new Map<number, Label>();
  const returnLabel = (value: number): Label => {
    let label = returns.get(value >>> 0);
    if (label === undefined) {
      label = asm.newLabel();
      returns.set(value >>> 0, label);
    }
    return label;
  };
  const badArch = returnLabel(SECCOMP_RET_KILL_THREAD);
  const otherArch = p.i386 ? returnLabel(p.defaultAction) : badArch;
  const x32 = p.x32 ? returnLabel(p.defaultAction) : badArch;

  const native = asm.newLabel();
  const notNative = asm.newLabel();
  asm.loadWord(SECCOMP_DATA_ARCH);
  asm.jump(BPF_JEQ, AUDIT_ARCH_X86_64, native, notNative);
  asm.place(notNative);
  asm.jump(BPF_JEQ, AUDIT_ARCH_I386, otherArch, badArch);

  asm.place(native);
  const x86_64 = asm.newLabel();
  asm.loadWord(SECCOMP_DATA_NR);
  asm.jump(BPF_JGE, X32_SYSCALL_BIT, x32, x86_64);
  asm.place(x86_64);

  // Ranges over [0, X32_SYSCALL_BIT): each numbered syscall with rules is a
  // range of its own; the gaps between them get the default action.
  const firsts: number[] = [];
  const targets: (() => Label)[] = [];
  const blocks: { label: Label; rules: readonly SyscallRule[] }[] = [];
  const fallback = (nr: number): (() => Label) =>
    p.enosysAbove >= 0 && nr > p.enosysAbove ? () => returnLabel(errnoReturn(ENOSYS)) : () => returnLabel(p.defaultAction);
  const addRange = (first: number, target: () => Label): void => {
    firsts.push(first);
    targets.push(target);
  };
  let next = 0;
  for (const nr of [...p.rules.keys()].sort((a, b) => a - b)) {
    const rules = p.rules.get(nr) ?? [];
    if (nr > next) addRange(next, fallback(next));
    if (rules.length === 1 && rules[0]?.conditions.length === 0) {
      const value = rules[0].action;
      addRange(nr, () => returnLabel(value));
    } else {
      const label = asm.newLabel();
      blocks.push({ label, rules });
      addRange(nr, () => label);
    }
    next = nr + 1;
  }
  if (next <= p.enosysAbove) {
    addRange(next, () => returnLabel(p.defaultAction));
    next = p.enosysAbove + 1;
  }
  if (next < X32_SYSCALL_BIT) addRange(next, fallback(next));
  // Neighbouring ranges that end in the same label are one range.
  const merged: { first: number; label: Label }[] = [];
  firsts.forEach((first, i) => {
    const label = (targets[i] as () => Label)();
    if (merged[merged.length - 1]?.label !== label) merged.push({ first, label });
  });
  emitRangeSearch(asm, merged.map((r) => r.first), (i) => (merged[i] as { label: Label }).label);

  // Rule blocks, then the plain returns they and the search jump to (BPF jumps only forward).
  for (const block of blocks) {
    asm.place(block.label);
    for (const rule of block.rules) {
      const nextRule = asm.newLabel();
      for (const c of rule.conditions) emitCondition(asm, c, nextRule);
      asm.goto(returnLabel(rule.action));
      asm.place(nextRule);
    }
    asm.goto(returnLabel(p.defaultAction));
  }
  for (const [value, label] of returns) {
    asm.place(label);
    asm.ret(value);
  }
  return asm.assemble();
}

/**
 * Falls through when the condition holds, jumps to fail otherwise. The high
 * halves decide first; the low halves only when the high ones are equal.
 */
function emitCondition(asm: Assembler, c: ArgCondition, fail: Label): void {
  const pass = asm.newLabel();
  const lowHalf = asm.newLabel();
  const hi = (v: bigint): number => Number((v >> 32n) & U32);
  const lo = (v: bigint): number => Number(v & U32);
  const loadHigh = (): void => asm.loadWord(argHighWordOffset(c.index));
  const loadLow = (): void => asm.loadWord(argLowWordOffset(c.index));
  const greater = (orEqual: boolean, ifTrue: Label, ifFalse: Label): void => {
    // Unsigned 64-bit a > v (or a >= v): high words, then low words.
    const highGreater = asm.newLabel();
    loadHigh();
    asm.jump(BPF_JGT, hi(c.value), ifTrue, highGreater);
    asm.place(highGreater);
    asm.jump(BPF_JEQ, hi(c.value), lowHalf, ifFalse);
    asm.place(lowHalf);
    loadLow();
    asm.jump(orEqual ? BPF_JGE : BPF_JGT, lo(c.value), ifTrue, ifFalse);
  };
  switch (c.op) {
    case 'SCMP_CMP_EQ':
    case 'SCMP_CMP_NE': {
      const [equal, differ] = c.op === 'SCMP_CMP_EQ' ? [pass, fail] : [fail, pass];
      loadHigh();
      asm.jump(BPF_JEQ, hi(c.value), lowHalf, differ);
      asm.place(lowHalf);
      loadLow();
      asm.jump(BPF_JEQ, lo(c.value), equal, differ);
      break;
    }
    case 'SCMP_CMP_GT': greater(false, pass, fail); break;
    case 'SCMP_CMP_GE': greater(true, pass, fail); break;
    case 'SCMP_CMP_LE': greater(false, fail, pass); break;
    case 'SCMP_CMP_LT': greater(true, fail, pass); break;
    case 'SCMP_CMP_MASKED_EQ': {
      // value is the mask, valueTwo the datum (libseccomp's order).
      loadHigh();
      asm.andImmediate(hi(c.value));
      asm.jump(BPF_JEQ, hi(c.valueTwo), lowHalf, fail);
      asm.place(lowHalf);
      loadLow();
      asm.andImmediate(lo(c.value));
      asm.jump(BPF_JEQ, lo(c.valueTwo), pass, fail);
      break;
    }
  }
  asm.place(pass);
}
