// The seccomp filter on the real kernel: test/helpers/filter-probe.c installs it
// and makes the calls; there is no BPF interpreter of our own. Trapped calls are
// built to return EHWPOISON (133), a marker no call here returns on its own, so
// they are visible without a supervisor.
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { call, errnos, FilterProbe, type ProbeRun } from './helpers/filter-probe.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BPF_ABS,
  BPF_ALU,
  BPF_AND,
  BPF_JA,
  BPF_JMP,
  BPF_K,
  BPF_LD,
  BPF_MAXINSNS,
  BPF_RET,
  BPF_W,
  buildFilter,
  SECCOMP_RET_ALLOW,
  SECCOMP_RET_ERRNO,
  SECCOMP_RET_KILL_PROCESS,
  SECCOMP_RET_TRACE,
  SECCOMP_RET_USER_NOTIF,
  SOCK_FILTER_SIZE,
  X32_SYSCALL_BIT,
  type FilterOptions,
} from '../platform/seccomp-bpf.js';
import { AUDIT_ARCH_X86_64, MAX_SYSCALL_NR, NR, SYSCALLS, type ArgAllowRule, type ArgDenyRule, type SyscallEntry } from '../syscall-tables/index.js';

const EPERM = 1;
const EBADF = 9;
const EINVAL = 22;
const ENOTTY = 25;
const ENOSYS = 38;
const EHWPOISON = 133; // the trap marker
const TRAP_TO_MARKER: FilterOptions = { trapAction: SECCOMP_RET_ERRNO | EHWPOISON, strict: false };

// ioctl requests (asm-generic/ioctls.h); not syscall numbers.
const TIOCSTI = 0x5412;
const FIONREAD = 0x541b;
const TIOCLINUX = 0x541c;
const AT_FDCWD = -100;
/** getpid in the i386 table, made with int $0x80: seccomp_data.arch is AUDIT_ARCH_I386. */
const I386_GETPID = 20;
/** All argument registers set to ~0: every fd invalid, every pointer faulting, every length absurd. */
const ALL_ONES = '-1';

let workDir = '';
let runner: FilterProbe;

beforeAll(() => {
  workDir = mkdtempSync(path.join(os.tmpdir(), 'tsvisor-filter-probe-'));
  runner = new FilterProbe(workDir);
});

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

/** Runs the calls under the filter (null: unfiltered) on the real kernel. */
function probe(filter: Buffer | null, calls: readonly string[]): ProbeRun {
  return runner.run(filter, calls);
}

const realFilter = (): Buffer => buildFilter(SYSCALLS, TRAP_TO_MARKER);

// ---------------------------------------------------------------------------
// Reading the program back, for structural checks (not evaluation).

interface Instruction {
  readonly code: number;
  readonly jt: number;
  readonly jf: number;
  readonly k: number;
}

function decode(program: Buffer): Instruction[] {
  const instructions: Instruction[] = [];
  for (let offset = 0; offset < program.length; offset += SOCK_FILTER_SIZE) {
    instructions.push({
      code: program.readUInt16LE(offset),
      jt: program.readUInt8(offset + 2),
      jf: program.readUInt8(offset + 3),
      k: program.readUInt32LE(offset + 4),
    });
  }
  return instructions;
}

const isReturn = (insn: Instruction): boolean => (insn.code & 0x07) === BPF_RET;
const isJump = (insn: Instruction): boolean => (insn.code & 0x07) === BPF_JMP;
const isAlways = (insn: Instruction): boolean => insn.code === (BPF_JMP | BPF_JA);

/** Checks what the kernel's verifier checks, and returns the longest path's length. */
function checkStructure(program: Buffer): number {
  expect(program.length % SOCK_FILTER_SIZE).toBe(0);
  const instructions = decode(program);
  expect(instructions.length).toBeGreaterThan(0);
  expect(instructions.length).toBeLessThanOrEqual(BPF_MAXINSNS);
  expect(isReturn(instructions[instructions.length - 1] as Instruction), 'ends in a return').toBe(true);
  // Longest path: jumps only go forward, so one backward pass over the DAG suffices.
  const longest: number[] = new Array<number>(instructions.length).fill(0);
  for (let pc = instructions.length - 1; pc >= 0; pc--) {
    const insn = instructions[pc] as Instruction;
    const successors: number[] = [];
    if (isReturn(insn)) {
      longest[pc] = 1;
      continue;
    }
    if (isAlways(insn)) successors.push(pc + 1 + insn.k);
    else if (isJump(insn)) successors.push(pc + 1 + insn.jt, pc + 1 + insn.jf);
    else if (insn.code === (BPF_ALU | BPF_AND | BPF_K)) {
      // A &= k: a masked argument check (clone's namespace flags).
      successors.push(pc + 1);
    } else {
      // Loads: only 32-bit absolute loads of an aligned seccomp_data field.
      expect(insn.code).toBe(BPF_LD | BPF_W | BPF_ABS);
      expect(insn.k % 4).toBe(0);
      expect(insn.k).toBeLessThan(64);
      successors.push(pc + 1);
    }
    for (const next of successors) expect(next, `jump target of instruction ${pc}`).toBeLessThan(instructions.length);
    longest[pc] = 1 + Math.max(...successors.map((next) => longest[next] as number));
  }
  return longest[0] as number;
}

// ---------------------------------------------------------------------------

describe('buildFilter structure', () => {
  it('starts with the arch check and stays small and shallow for the real table', () => {
    const program = realFilter();
    const instructions = decode(program);
    expect(instructions[0]).toEqual({ code: BPF_LD | BPF_W | BPF_ABS, jt: 0, jf: 0, k: 4 });
    expect(instructions[1]?.k).toBe(AUDIT_ARCH_X86_64);
    const longestPath = checkStructure(program);
    // A binary search: about log2(ranges) comparisons, not one per syscall.
    expect(longestPath).toBeLessThanOrEqual(24);
    expect(instructions.length).toBeLessThan(SYSCALLS.length);
  });

  it('is deterministic and uses the trap action it is given', () => {
    const notify = buildFilter(SYSCALLS, { trapAction: SECCOMP_RET_USER_NOTIF, strict: false });
    expect(buildFilter(SYSCALLS, { trapAction: SECCOMP_RET_USER_NOTIF, strict: false }).equals(notify)).toBe(true);
    const returns = new Set(decode(notify).filter(isReturn).map((insn) => insn.k));
    expect(returns).toContain(SECCOMP_RET_USER_NOTIF);
    expect(returns).toContain(SECCOMP_RET_ALLOW);
    expect(returns).toContain(SECCOMP_RET_KILL_PROCESS);
    expect(returns).toContain((SECCOMP_RET_ERRNO | EPERM) >>> 0);
    const trace = decode(buildFilter(SYSCALLS, { trapAction: SECCOMP_RET_TRACE, strict: false }));
    expect(new Set(trace.filter(isReturn).map((insn) => insn.k))).toContain(SECCOMP_RET_TRACE);
  });

  it('rejects tables it cannot encode', () => {
    const entry = (nr: number, extra: Partial<SyscallEntry> = {}): SyscallEntry => ({
      nr, name: `s${nr}`, family: 'fd', args: [], ret: 'int', disposition: 'passthrough', ...extra,
    });
    expect(() => buildFilter([entry(1), entry(1)], TRAP_TO_MARKER)).toThrow(/twice/);
    expect(() => buildFilter([entry(X32_SYSCALL_BIT)], TRAP_TO_MARKER)).toThrow(/out of range/);
    expect(() => buildFilter([entry(1, { disposition: 'denied' })], TRAP_TO_MARKER)).toThrow(/errno/);
    expect(() => buildFilter([entry(1, { argDeny: [{ arg: 6, value: 0, errno: 1 }] })], TRAP_TO_MARKER)).toThrow(/argument/);
    // Every syscall its own action: more than BPF_MAXINSNS instructions.
    const huge = Array.from({ length: 5000 }, (_, nr) => entry(nr, nr % 2 ? { disposition: 'emulated' } : {}));
    expect(() => buildFilter(huge, TRAP_TO_MARKER)).toThrow(/at most 4096/);
  });

  it('keeps every jump in range for random tables (far targets go through BPF_JA)', () => {
    fc.assert(
      fc.property(randomTable({ minNr: 0, maxNr: 3000, maxEntries: 600 }), fc.boolean(), (table, strict) => {
        const program = buildFilter(table, { trapAction: SECCOMP_RET_USER_NOTIF, strict });
        const longestPath = checkStructure(program);
        const ranges = table.length * 2 + 2;
        // header (4) + two per search level (compare, maybe a trampoline) + argument checks (up to 4 rules: 9)
        expect(longestPath).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(ranges)) + 13);
      }),
      { numRuns: 200 },
    );
  });
});

describe('the real table on the real kernel', () => {
  it('allows passthrough, traps emulated, refuses denied', () => {
    const calls = [
      call(NR.getpid),
      call(NR.getppid),
      call(NR.openat, AT_FDCWD, '@str:/', 0),
      call(NR.mount, 0, 0, 0, 0, 0),
      call(NR.bpf, ALL_ONES, 0, 0),
      call(NR.kexec_load, 0, 0, 0, 0),
      call(NR.init_module, 0, 0, 0),
      call(NR.unshare, 0),
      call(NR.ptrace, ALL_ONES, 0, 0, 0),
      call(NR.clone3, 0, 0),
      call(NR.io_uring_setup, 0, 0),
      call(NR.create_module, 0, 0),
      call(1000),
      call(MAX_SYSCALL_NR + 1),
      call(X32_SYSCALL_BIT - 1),
      call(X32_SYSCALL_BIT + NR.getpid),
      call(NR.exit_group, 0), // trapped: the probe lives on
    ];
    const run = probe(realFilter(), calls);
    const getpid = run.results[0];
    expect(getpid?.errno).toBe(0);
    expect(getpid?.ret).toBeGreaterThan(0);
    expect(errnos(run, calls.length).slice(1)).toEqual([
      EHWPOISON, // getppid: emulated
      EHWPOISON, // openat: emulated
      EPERM, // mount
      EPERM, // bpf
      EPERM, // kexec_load
      EPERM, // init_module
      EPERM, // unshare
      EPERM, // ptrace
      ENOSYS, // clone3: libc falls back to clone
      ENOSYS, // io_uring_setup
      ENOSYS, // create_module: Linux has none
      EHWPOISON, // 1000: unknown numbers are trapped, never allowed
      EHWPOISON, // just past the table
      EHWPOISON, // the last number below the x32 bit
      ENOSYS, // x32 ABI
      EHWPOISON, // exit_group: emulated
    ]);
  });

  it('refuses TIOCSTI and TIOCLINUX in the filter and lets other ioctls through', () => {
    const calls = [
      call(NR.ioctl, 0, TIOCSTI, '@buf'),
      call(NR.ioctl, 0, TIOCLINUX, '@buf'),
      // Only the low 32 bits of the request are compared, as the kernel only reads those.
      call(NR.ioctl, 0, (1n << 32n) | BigInt(TIOCSTI), '@buf'),
      call(NR.ioctl, 0, FIONREAD, '@buf'),
      call(NR.ioctl, 0, TIOCSTI + 1, '@buf'),
    ];
    // stdin is /dev/null: a request that reaches the kernel answers ENOTTY.
    expect(errnos(probe(realFilter(), calls), calls.length)).toEqual([EPERM, EPERM, EPERM, ENOTTY, ENOTTY]);
    expect(errnos(probe(null, calls.slice(3)), 2)).toEqual([ENOTTY, ENOTTY]);
  });

  it('runs sendto natively when its address is NULL (all 64 bits) and traps it otherwise', () => {
    const calls = [
      call(NR.sendto, -1, '@buf', 1, 0, 0, 0),
      call(NR.sendto, -1, '@buf', 1, 0, '@buf', 16),
      call(NR.sendto, -1, '@buf', 1, 0, 1n << 32n, 16),
    ];
    // fd -1: a call that reaches the kernel answers EBADF; a trapped one the marker.
    expect(errnos(probe(realFilter(), calls), calls.length)).toEqual([EBADF, EHWPOISON, EHWPOISON]);
  });

  it('runs clone natively without a namespace flag (low 32 bits) and traps it with one', () => {
    // CLONE_SIGHAND without CLONE_VM: Linux answers EINVAL before it makes anything.
    const CLONE_SIGHAND = 0x800;
    const namespaceFlags = [0x00020000, 0x02000000, 0x04000000, 0x08000000, 0x10000000, 0x20000000, 0x40000000, 0x00000080];
    const calls = [
      call(NR.clone, CLONE_SIGHAND, 0, 0, 0, 0),
      ...namespaceFlags.map((flag) => call(NR.clone, CLONE_SIGHAND | flag, 0, 0, 0, 0)),
      // The kernel reads only the low 32 bits of clone's flags: a high bit is no namespace.
      call(NR.clone, (1n << 40n) | BigInt(CLONE_SIGHAND), 0, 0, 0, 0),
    ];
    expect(errnos(probe(realFilter(), calls), calls.length)).toEqual([EINVAL, ...namespaceFlags.map(() => EHWPOISON), EINVAL]);
    expect(errnos(probe(null, [calls[0]!, calls[calls.length - 1]!]), 2)).toEqual([EINVAL, EINVAL]);
  });

  it('strict mode traps everything, getpid included', () => {
    const calls = [call(NR.getpid), call(NR.read, 0, 0, 0), call(NR.write, 1, 0, 0), call(NR.mount, 0, 0, 0, 0, 0)];
    const run = probe(buildFilter(SYSCALLS, { ...TRAP_TO_MARKER, strict: true }), calls);
    expect(errnos(run, calls.length)).toEqual([EHWPOISON, EHWPOISON, EHWPOISON, EHWPOISON]);
  });

  it('kills a process that makes a syscall through another ABI', () => {
    const native = probe(null, [`i386:${I386_GETPID}`]);
    if (native.results[0]?.errno !== 0) return; // no IA32 emulation in this kernel: nothing to escape through
    const run = probe(realFilter(), [call(NR.getpid), `i386:${I386_GETPID}`]);
    expect(run.signal).toBe('SIGSYS');
    expect(run.completed).toBe(false);
    expect(run.results).toHaveLength(1);
  });

  it('gives every number its disposition: a sweep over the whole table', () => {
    // Calls that would block or end the probe if they ran, fork and vfork (a second
    // probe would run on), and sync (slow): all passthrough.
    // And the two numbers after rseq: Linux leaves them unassigned, but the kernel of the
    // machines this was written on (6.18.44-fc) answers them before seccomp runs, so no
    // filter can see them (one raises SIGILL). That is the host's, not the table's.
    const skip = new Set<number>([NR.pause, NR.rt_sigreturn, NR.fork, NR.vfork, NR.sync, NR.rseq + 1, NR.rseq + 2]);
    const numbers: number[] = [];
    for (let nr = 0; nr <= MAX_SYSCALL_NR + 16; nr++) if (!skip.has(nr)) numbers.push(nr);
    const allOnes = (nr: number): string => call(nr, ALL_ONES, ALL_ONES, ALL_ONES, ALL_ONES, ALL_ONES, ALL_ONES);
    const byNr = new Map(SYSCALLS.map((entry) => [entry.nr, entry]));

    const filtered = probe(realFilter(), numbers.map(allOnes));
    // The probe's own namespaces keep passthrough calls made with garbage away from the host.
    expect(filtered.isolated, 'probe runs in its own IPC/UTS/net namespaces (needs root)').toBe(true);
    const filteredErrno = errnos(filtered, numbers.length);

    const passthrough = numbers.filter((nr) => byNr.get(nr)?.disposition === 'passthrough');
    const native = probe(null, passthrough.map(allOnes));
    const nativeErrno = new Map(passthrough.map((nr, index) => [nr, errnos(native, passthrough.length)[index]]));

    const mismatches: string[] = [];
    numbers.forEach((nr, index) => {
      const entry = byNr.get(nr);
      const got = filteredErrno[index];
      let expected: number | undefined;
      if (!entry || entry.disposition === 'emulated') expected = EHWPOISON;
      else if (entry.disposition === 'denied') expected = entry.deniedErrno;
      else expected = nativeErrno.get(nr); // as if no filter were there
      if (got !== expected) mismatches.push(`${entry?.name ?? 'unknown'} (${nr}): errno ${got}, expected ${expected}`);
    });
    expect(mismatches).toEqual([]);
  });
});

// ---------------------------------------------------------------------------
// Random tables on the real kernel. Their numbers start at 1000, where Linux has
// no syscall: a number the filter lets through comes back ENOSYS from the kernel
// itself, so nothing random ever runs.

const RANDOM_BASE = 1000;

function randomTable(bounds: { minNr: number; maxNr: number; maxEntries: number }): fc.Arbitrary<SyscallEntry[]> {
  const errno = fc.integer({ min: 1, max: 130 }).filter((value) => value !== ENOSYS);
  const rule = fc.record({ arg: fc.integer({ min: 0, max: 5 }), value: fc.nat({ max: 0xffffffff }), errno });
  // An emulated call's native cases: all 64 bits equal, or the low 32 bits under a mask.
  const allowRule = fc.record({ arg: fc.integer({ min: 0, max: 5 }), value: fc.nat({ max: 0xffffffff }), mask: fc.option(fc.integer({ min: 1, max: 0xffffffff }), { nil: undefined }) })
    .map((r): ArgAllowRule => (r.mask === undefined ? { arg: r.arg, value: r.value } : { arg: r.arg, value: (r.value & r.mask) >>> 0, mask: r.mask }));
  const entry = fc.record({
    disposition: fc.constantFrom('emulated', 'passthrough', 'denied', 'passthrough_checked', 'emulated_allowed'),
    deniedErrno: errno,
    rules: fc.array(rule, { minLength: 1, maxLength: 4 }),
    allow: fc.array(allowRule, { minLength: 1, maxLength: 3 }),
  });
  return fc
    .uniqueArray(fc.integer({ min: bounds.minNr, max: bounds.maxNr }), { maxLength: bounds.maxEntries })
    .chain((numbers) => fc.tuple(fc.constant(numbers), fc.array(entry, { minLength: numbers.length, maxLength: numbers.length })))
    .map(([numbers, shapes]) =>
      numbers.map((nr, index): SyscallEntry => {
        const shape = shapes[index] as { disposition: string; deniedErrno: number; rules: ArgDenyRule[]; allow: ArgAllowRule[] };
        const base = { nr, name: `random_${nr}`, family: 'fd' as const, args: [], ret: 'int' as const };
        if (shape.disposition === 'denied') return { ...base, disposition: 'denied', deniedErrno: shape.deniedErrno };
        if (shape.disposition === 'emulated_allowed') return { ...base, disposition: 'emulated', argAllow: shape.allow };
        if (shape.disposition === 'passthrough_checked') return { ...base, disposition: 'passthrough', argDeny: shape.rules };
        return { ...base, disposition: shape.disposition === 'emulated' ? 'emulated' : 'passthrough' };
      }),
    );
}

/** What the table says should happen, the specification the filter is held to. */
function expectedErrno(table: readonly SyscallEntry[], nr: number, args: readonly bigint[]): number {
  const entry = table.find((candidate) => candidate.nr === nr);
  if (!entry) return EHWPOISON;
  if (entry.disposition === 'emulated') {
    const native = (entry.argAllow ?? []).some((rule) => {
      const a = args[rule.arg] ?? 0n;
      return rule.mask === undefined ? a === BigInt(rule.value) : Number(a & BigInt(rule.mask)) === rule.value;
    });
    return native ? ENOSYS : EHWPOISON;
  }
  if (entry.disposition === 'denied') return entry.deniedErrno as number;
  for (const rule of entry.argDeny ?? []) {
    if (Number((args[rule.arg] ?? 0n) & 0xffffffffn) === rule.value) return rule.errno;
  }
  return ENOSYS; // let through to a kernel that has no such syscall
}

describe('random tables on the real kernel', () => {
  it('every number gets the action its table entry asks for', () => {
    const scenario = randomTable({ minNr: RANDOM_BASE, maxNr: RANDOM_BASE + 400, maxEntries: 250 }).chain((table) => {
      // Argument values: each rule's value (high bits random, as the filter must ignore
      // them) or a random value, for every number in range.
      const ruleValues = table.flatMap((entry) => [...(entry.argDeny ?? []), ...(entry.argAllow ?? [])].map((rule) => rule.value));
      const low = ruleValues.length > 0 ? fc.oneof(fc.constantFrom(...ruleValues), fc.nat({ max: 0xffffffff })) : fc.nat({ max: 0xffffffff });
      // A high word of 0 too: a rule on all 64 bits matches only then.
      const high = fc.oneof(fc.constant(0), fc.nat({ max: 0xffffffff }));
      const arg = fc.tuple(low, high).map(([lo, hi]) => (BigInt(hi) << 32n) | BigInt(lo));
      return fc.tuple(fc.constant(table), fc.array(fc.array(arg, { minLength: 6, maxLength: 6 }), { minLength: 420, maxLength: 420 }));
    });
    fc.assert(
      fc.property(scenario, ([table, argSets]) => {
        const numbers = Array.from({ length: 420 }, (_, index) => RANDOM_BASE - 10 + index);
        const calls = numbers.map((nr, index) => call(nr, ...(argSets[index] as bigint[])));
        const got = errnos(probe(buildFilter(table, TRAP_TO_MARKER), calls), calls.length);
        const expected = numbers.map((nr, index) => expectedErrno(table, nr, argSets[index] as bigint[]));
        expect(got).toEqual(expected);
      }),
      // No shrinking: each step spawns a probe, and the failing table is printed whole anyway.
      { numRuns: 30, endOnFailure: true },
    );
  });
});
