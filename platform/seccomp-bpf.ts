// The classic-BPF seccomp filter, built from the syscall table. It is the host
// kernel's half of the policy: passthrough calls run natively at near-native cost,
// denied calls get their errno without a round trip, and everything else (emulated
// calls and every number the table does not know) goes to the trap action, so an
// unknown syscall is never allowed.
//
// Program shape:
//   ld arch; jeq AUDIT_ARCH_X86_64 else KILL_PROCESS    a foreign ABI is never interpreted
//   ld nr;   jge 0x40000000 -> ERRNO|ENOSYS              x32 numbers (and negative ones)
//   a balanced binary search over ranges of numbers with the same action: O(log n)
//   the action blocks (ret, or the argument checks of a passthrough call with argDeny)
import { AUDIT_ARCH_X86_64, type ArgAllowRule, type ArgDenyRule, type SyscallEntry } from '../syscall-tables/index.js';

export const SECCOMP_RET_KILL_PROCESS = 0x80000000;
export const SECCOMP_RET_KILL_THREAD = 0x00000000;
export const SECCOMP_RET_TRAP = 0x00030000;
export const SECCOMP_RET_ERRNO = 0x00050000;
export const SECCOMP_RET_USER_NOTIF = 0x7fc00000;
export const SECCOMP_RET_TRACE = 0x7ff00000;
export const SECCOMP_RET_LOG = 0x7ffc0000;
export const SECCOMP_RET_ALLOW = 0x7fff0000;
/** The low 16 bits of a return value: the errno of RET_ERRNO, the data of RET_TRACE. */
export const SECCOMP_RET_DATA = 0x0000ffff;

/** The kernel refuses longer classic-BPF programs (include/uapi/linux/filter.h). */
export const BPF_MAXINSNS = 4096;
/** Bytes per struct sock_filter: u16 code, u8 jt, u8 jf, u32 k. */
export const SOCK_FILTER_SIZE = 8;

// Classic BPF opcodes (include/uapi/linux/bpf_common.h).
export const BPF_LD = 0x00;
export const BPF_JMP = 0x05;
export const BPF_RET = 0x06;
export const BPF_W = 0x00;
export const BPF_ABS = 0x20;
export const BPF_K = 0x00;
export const BPF_JA = 0x00;
export const BPF_JEQ = 0x10;
export const BPF_JGT = 0x20;
export const BPF_JGE = 0x30;
export const BPF_ALU = 0x04;
export const BPF_AND = 0x50;

// struct seccomp_data: int nr; __u32 arch; __u64 instruction_pointer; __u64 args[6].
export const SECCOMP_DATA_NR = 0;
export const SECCOMP_DATA_ARCH = 4;
const SECCOMP_DATA_ARGS = 16;
/** args[i] is little endian on x86_64, so its low 32 bits start at the slot itself. */
export function argLowWordOffset(arg: number): number {
  return SECCOMP_DATA_ARGS + 8 * arg;
}
export function argHighWordOffset(arg: number): number {
  return SECCOMP_DATA_ARGS + 8 * arg + 4;
}

/** Numbers at or above this carry the x32 ABI bit; negative numbers land here too as u32. */
export const X32_SYSCALL_BIT = 0x40000000;
const ENOSYS = 38;
/** The kernel clamps a RET_ERRNO value to MAX_ERRNO. */
const MAX_ERRNO = 4095;
/** jt and jf are u8: a conditional jump reaches at most this many instructions ahead. */
const MAX_CONDITIONAL_JUMP = 255;

export interface FilterOptions {
  /** SECCOMP_RET_USER_NOTIF for seccomp-notify, SECCOMP_RET_TRACE for ptrace. */
  readonly trapAction: number;
  /** true: every syscall goes to trapAction after the arch check (research, fuzzing). */
  readonly strict: boolean;
  /** Passthrough syscalls the platform traps all the same, for needs of its own
   * (the ptrace platform hides its fd-install socket from directory listings). */
  readonly alsoTrapped?: ReadonlySet<string>;
}

// ---------------------------------------------------------------------------
// A tiny assembler with symbolic labels. Conditional jumps whose target lies more
// than 255 instructions ahead are rewritten to jump to a BPF_JA (32-bit offset)
// placed right after them.

export type Label = number;
type Item =
  | { readonly op: 'label'; readonly label: Label }
  | { readonly op: 'stmt'; readonly code: number; readonly k: number }
  | { readonly op: 'jump'; readonly code: number; readonly k: number; jt: Label; jf: Label }
  | { readonly op: 'ja'; readonly target: Label };

export class Assembler {
  private readonly items: Item[] = [];
  private labelCount = 0;

  newLabel(): Label {
    return this.labelCount++;
  }
  place(label: Label): void {
    this.items.push({ op: 'label', label });
  }
  loadWord(offset: number): void {
    this.items.push({ op: 'stmt', code: BPF_LD | BPF_W | BPF_ABS, k: offset });
  }
  ret(value: number): void {
    this.items.push({ op: 'stmt', code: BPF_RET | BPF_K, k: value >>> 0 });
  }
  /** A &= k (masked comparisons). */
  andImmediate(k: number): void {
    this.items.push({ op: 'stmt', code: BPF_ALU | BPF_AND | BPF_K, k: k >>> 0 });
  }
  goto(target: Label): void {
    this.items.push({ op: 'ja', target });
  }
  /** if (A <op> k) goto jt else goto jf; op is BPF_JEQ, BPF_JGE or BPF_JGT. */
  jump(op: number, k: number, jt: Label, jf: Label): void {
    this.items.push({ op: 'jump', code: BPF_JMP | op | BPF_K, k: k >>> 0, jt, jf });
  }

  assemble(): Buffer {
    for (;;) {
      const { itemAddress, labelAddress } = this.layout();
      if (!this.insertTrampolines(itemAddress, labelAddress)) return this.emit(itemAddress, labelAddress);
    }
  }

  /**
   * Redirects every conditional jump that cannot reach its target to a BPF_JA
   * placed right after it, which reaches anywhere. Trampolines push later code
   * further away, so the caller lays out again until no jump is too far.
   */
  private insertTrampolines(itemAddress: readonly number[], labelAddress: ReadonlyMap<Label, number>): boolean {
    let inserted = false;
    // Back to front, so a splice never moves an item still to be visited.
    for (let index = this.items.length - 1; index >= 0; index--) {
      const item = this.items[index];
      if (item?.op !== 'jump') continue;
      const from = itemAddress[index] ?? 0;
      for (const side of ['jf', 'jt'] as const) {
        if (this.distance(from, item[side], labelAddress) <= MAX_CONDITIONAL_JUMP) continue;
        const trampoline = this.newLabel();
        this.items.splice(index + 1, 0, { op: 'label', label: trampoline }, { op: 'ja', target: item[side] });
        item[side] = trampoline;
        inserted = true;
      }
    }
    return inserted;
  }

  private layout(): { itemAddress: number[]; labelAddress: Map<Label, number> } {
    const itemAddress: number[] = [];
    const labelAddress = new Map<Label, number>();
    let address = 0;
    for (const item of this.items) {
      itemAddress.push(address);
      if (item.op === 'label') labelAddress.set(item.label, address);
      else address++;
    }
    return { itemAddress, labelAddress };
  }

  private distance(from: number, label: Label, labelAddress: ReadonlyMap<Label, number>): number {
    const target = labelAddress.get(label);
    if (target === undefined) throw new Error(`seccomp-bpf: label ${label} never placed`);
    const offset = target - (from + 1);
    // Classic BPF only jumps forward; the layout below guarantees it, so this is a bug.
    if (offset < 0) throw new Error('seccomp-bpf: backward jump');
    return offset;
  }

  private emit(itemAddress: readonly number[], labelAddress: ReadonlyMap<Label, number>): Buffer {
    const instructions = this.items.filter((item) => item.op !== 'label').length;
    const program = Buffer.alloc(instructions * SOCK_FILTER_SIZE);
    let offset = 0;
    const write = (code: number, jt: number, jf: number, k: number): void => {
      program.writeUInt16LE(code, offset);
      program.writeUInt8(jt, offset + 2);
      program.writeUInt8(jf, offset + 3);
      program.writeUInt32LE(k >>> 0, offset + 4);
      offset += SOCK_FILTER_SIZE;
    };
    this.items.forEach((item, index) => {
      const from = itemAddress[index] ?? 0;
      switch (item.op) {
        case 'label':
          return;
        case 'stmt':
          return write(item.code, 0, 0, item.k);
        case 'jump':
          return write(item.code, this.distance(from, item.jt, labelAddress), this.distance(from, item.jf, labelAddress), item.k);
        case 'ja':
          return write(BPF_JMP | BPF_JA, 0, 0, this.distance(from, item.target, labelAddress));
      }
    });
    return program;
  }
}

// ---------------------------------------------------------------------------
// Actions and ranges.

type Action =
  | { readonly kind: 'return'; readonly value: number }
  | { readonly kind: 'check_args'; readonly rules: readonly ArgDenyRule[] }
  | { readonly kind: 'allow_args'; readonly rules: readonly ArgAllowRule[]; readonly otherwise: number };

function actionKey(action: Action): string {
  switch (action.kind) {
    case 'return':
      return `ret:${action.value}`;
    case 'check_args':
      return `args:${action.rules.map((rule) => `${rule.arg}=${rule.value}:${rule.errno}`).join(',')}`;
    case 'allow_args':
      return `allow:${action.rules.map((rule) => `${rule.arg}&${rule.mask ?? 'all'}=${rule.value}`).join(',')}:${action.otherwise}`;
  }
}

export function errnoReturn(errno: number): number {
  return (SECCOMP_RET_ERRNO | (errno & SECCOMP_RET_DATA)) >>> 0;
}

function validateErrno(errno: number, what: string): void {
  if (!Number.isInteger(errno) || errno < 1 || errno > MAX_ERRNO) throw new Error(`seccomp-bpf: ${what}: errno ${errno} out of range`);
}

function actionFor(entry: SyscallEntry, trapAction: number): Action {
  switch (entry.disposition) {
    case 'emulated': {
      if (!entry.argAllow || entry.argAllow.length === 0) return { kind: 'return', value: trapAction };
      for (const rule of entry.argAllow) {
        if (!Number.isInteger(rule.arg) || rule.arg < 0 || rule.arg > 5) throw new Error(`seccomp-bpf: ${entry.name}: no argument ${rule.arg}`);
        if (!Number.isInteger(rule.value) || rule.value < 0 || rule.value > 0xffffffff) {
          throw new Error(`seccomp-bpf: ${entry.name}: rule value ${rule.value} does not fit 32 bits`);
        }
        if (rule.mask !== undefined && (!Number.isInteger(rule.mask) || rule.mask <= 0 || rule.mask > 0xffffffff || (rule.value & ~rule.mask) >>> 0 !== 0)) {
          throw new Error(`seccomp-bpf: ${entry.name}: rule mask ${rule.mask} is not a nonzero 32-bit mask covering the value`);
        }
      }
      return { kind: 'allow_args', rules: entry.argAllow, otherwise: trapAction };
    }
    case 'denied': {
      if (entry.deniedErrno === undefined) throw new Error(`seccomp-bpf: denied syscall ${entry.name} has no errno`);
      validateErrno(entry.deniedErrno, entry.name);
      return { kind: 'return', value: errnoReturn(entry.deniedErrno) };
    }
    case 'passthrough': {
      if (!entry.argDeny || entry.argDeny.length === 0) return { kind: 'return', value: SECCOMP_RET_ALLOW };
      for (const rule of entry.argDeny) {
        if (!Number.isInteger(rule.arg) || rule.arg < 0 || rule.arg > 5) throw new Error(`seccomp-bpf: ${entry.name}: no argument ${rule.arg}`);
        if (!Number.isInteger(rule.value) || rule.value < -0x80000000 || rule.value > 0xffffffff) {
          throw new Error(`seccomp-bpf: ${entry.name}: rule value ${rule.value} does not fit 32 bits`);
        }
        validateErrno(rule.errno, entry.name);
      }
      return { kind: 'check_args', rules: entry.argDeny };
    }
  }
}

interface Range {
  readonly first: number; // inclusive
  readonly action: Action;
  readonly key: string;
}

/** Contiguous number ranges covering [0, X32_SYSCALL_BIT), neighbours with equal actions merged. */
function buildRanges(table: readonly SyscallEntry[], trapAction: number, alsoTrapped: ReadonlySet<string>): Range[] {
  const sorted = [...table].sort((a, b) => a.nr - b.nr);
  const unknown: Action = { kind: 'return', value: trapAction };
  const ranges: Range[] = [];
  const push = (first: number, action: Action): void => {
    const key = actionKey(action);
    if (ranges[ranges.length - 1]?.key !== key) ranges.push({ first, action, key });
  };
  let next = 0;
  for (const entry of sorted) {
    if (!Number.isInteger(entry.nr) || entry.nr < 0 || entry.nr >= X32_SYSCALL_BIT) throw new Error(`seccomp-bpf: syscall number ${entry.nr} out of range`);
    if (entry.nr < next) throw new Error(`seccomp-bpf: syscall number ${entry.nr} appears twice`);
    if (entry.nr > next) push(next, unknown);
    push(entry.nr, alsoTrapped.has(entry.name) ? { kind: 'return', value: trapAction } : actionFor(entry, trapAction));
    next = entry.nr + 1;
  }
  if (next < X32_SYSCALL_BIT) push(next, unknown);
  return ranges;
}

/**
 * The filter for this table, as an array of struct sock_filter ready for
 * seccomp(SECCOMP_SET_MODE_FILTER) (wrap it in struct sock_fprog: len = bytes / 8).
 */
export function buildFilter(table: readonly SyscallEntry[], opts: FilterOptions): Buffer {
  if (!Number.isInteger(opts.trapAction)) throw new Error('seccomp-bpf: trapAction must be an integer');
  const trapAction = opts.trapAction >>> 0;
  const asm = new Assembler();
  const actionLabels = new Map<string, { label: Label; action: Action }>();
  const labelFor = (action: Action): Label => {
    const key = actionKey(action);
    let known = actionLabels.get(key);
    if (!known) {
      known = { label: asm.newLabel(), action };
      actionLabels.set(key, known);
    }
    return known.label;
  };

  const kill = labelFor({ kind: 'return', value: SECCOMP_RET_KILL_PROCESS });
  const archOk = asm.newLabel();
  asm.loadWord(SECCOMP_DATA_ARCH);
  asm.jump(BPF_JEQ, AUDIT_ARCH_X86_64, archOk, kill);
  asm.place(archOk);

  if (opts.strict) {
    asm.ret(trapAction);
  } else {
    const ranges = buildRanges(table, trapAction, opts.alsoTrapped ?? new Set());
    const search = asm.newLabel();
    asm.loadWord(SECCOMP_DATA_NR);
    asm.jump(BPF_JGE, X32_SYSCALL_BIT, labelFor({ kind: 'return', value: errnoReturn(ENOSYS) }), search);
    asm.place(search);
    emitRangeSearch(asm, ranges.map((range) => range.first), (index) => labelFor((ranges[index] as Range).action));
  }

  // Action blocks, after all the code that jumps to them (BPF jumps only forward).
  // Argument checks go first: they jump on to plain returns, which come after.
  for (const block of [...actionLabels.values()]) {
    if (block.action.kind === 'return') continue;
    asm.place(block.label);
    if (block.action.kind === 'check_args') emitArgChecks(asm, block.action.rules, labelFor);
    else emitAllowChecks(asm, block.action.rules, block.action.otherwise);
  }
  for (const block of actionLabels.values()) {
    if (block.action.kind !== 'return') continue;
    asm.place(block.label);
    asm.ret(block.action.value);
  }

  const program = asm.assemble();
  const instructions = program.length / SOCK_FILTER_SIZE;
  if (instructions > BPF_MAXINSNS) throw new Error(`seccomp-bpf: ${instructions} instructions, the kernel takes at most ${BPF_MAXINSNS}`);
  return program;
}

/**
 * Emits a balanced search with the number in A over ranges that start at
 * firsts[low..high] (sorted; each range runs to the next one's first). Each
 * node splits at the middle range's first number, so any syscall costs about
 * log2(ranges) comparisons. Leaves are not emitted: a node jumps straight to
 * its children's labels, which labelOf gives (asked only for ranges reached).
 */
export function emitRangeSearch(
  asm: Assembler, firsts: readonly number[], labelOf: (index: number) => Label, low = 0, high = firsts.length - 1,
): void {
  if (firsts[low] === undefined) throw new Error('seccomp-bpf: empty range list');
  if (low === high) {
    // Only reached when the whole number space is one range (an empty table).
    asm.goto(labelOf(low));
    return;
  }
  const middle = Math.ceil((low + high) / 2);
  const upper = middle === high ? labelOf(middle) : asm.newLabel();
  const lower = middle - 1 === low ? labelOf(low) : asm.newLabel();
  asm.jump(BPF_JGE, firsts[middle] as number, upper, lower);
  if (middle - 1 !== low) {
    asm.place(lower);
    emitRangeSearch(asm, firsts, labelOf, low, middle - 1);
  }
  if (middle !== high) {
    asm.place(upper);
    emitRangeSearch(asm, firsts, labelOf, middle, high);
  }
}

/** Refuses each rule's value of its argument's low 32 bits; otherwise allows. */
function emitArgChecks(asm: Assembler, rules: readonly ArgDenyRule[], labelFor: (action: Action) => Label): void {
  let loadedArg = -1;
  for (const rule of rules) {
    if (rule.arg !== loadedArg) {
      asm.loadWord(argLowWordOffset(rule.arg));
      loadedArg = rule.arg;
    }
    const next = asm.newLabel();
    asm.jump(BPF_JEQ, rule.value >>> 0, labelFor({ kind: 'return', value: errnoReturn(rule.errno) }), next);
    asm.place(next);
  }
  asm.ret(SECCOMP_RET_ALLOW);
}

/**
 * Allows the call when one rule's argument equals its value in all 64 bits
 * (the high word must be 0: values are at most 32 bits), or, for a rule with
 * a mask, when its low word ANDed with the mask does; otherwise `otherwise`.
 */
function emitAllowChecks(asm: Assembler, rules: readonly ArgAllowRule[], otherwise: number): void {
  const allow = asm.newLabel();
  for (const rule of rules) {
    const highWord = asm.newLabel();
    const next = asm.newLabel();
    asm.loadWord(argLowWordOffset(rule.arg));
    if (rule.mask !== undefined) {
      asm.andImmediate(rule.mask);
      asm.jump(BPF_JEQ, rule.value >>> 0, allow, next);
      asm.place(next);
      continue;
    }
    asm.jump(BPF_JEQ, rule.value >>> 0, highWord, next);
    asm.place(highWord);
    asm.loadWord(argHighWordOffset(rule.arg));
    asm.jump(BPF_JEQ, 0, allow, next);
    asm.place(next);
  }
  asm.ret(otherwise);
  asm.place(allow);
  asm.ret(SECCOMP_RET_ALLOW);
}
