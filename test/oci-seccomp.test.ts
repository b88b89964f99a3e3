// linux.seccomp and linux.sysctl of an OCI container. The profile compiler
// (cli/oci/seccomp-profile.ts) is checked against the rules themselves: a
// small classic-BPF interpreter runs the program on random calls and its
// answer must be what a direct reading of the profile says (runc's reading,
// written out again here). Then real containers: busybox under profiles that
// refuse mkdir, an argument condition, an allow list, podman's own default
// profile (side by side with runc on the same bundle), an exec'd process,
// and sysctls read back inside the sandbox.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileSeccompProfile } from '../cli/oci/seccomp-profile.js';
import type { Seccomp, SeccompAction, SeccompArch, SeccompOperator, SeccompRule } from '../cli/oci/spec.js';
import {
  BPF_ABS, BPF_ALU, BPF_AND, BPF_JA, BPF_JEQ, BPF_JGE, BPF_JGT, BPF_JMP, BPF_K, BPF_LD, BPF_RET, BPF_W,
  SECCOMP_RET_ALLOW, SECCOMP_RET_ERRNO, SECCOMP_RET_KILL_PROCESS, SECCOMP_RET_KILL_THREAD, SECCOMP_RET_LOG, SECCOMP_RET_TRAP,
  SOCK_FILTER_SIZE, X32_SYSCALL_BIT,
} from '../platform/seccomp-bpf.js';
import { AUDIT_ARCH_X86_64, NR } from '../syscall-tables/index.js';
import { makeBundle, makeBusyboxRootfs } from './helpers/busybox-rootfs.js';
import { CLI } from './helpers/sandbox.js';
import { PLATFORM, platformFlags } from './helpers/platform.js';

const AUDIT_ARCH_I386 = 0x40000003;
const AUDIT_ARCH_AARCH64 = 0xc00000b7;
const ENOSYS = 38;
const U64 = (1n << 64n) - 1n;

// ---------------------------------------------------------------------------
// A classic-BPF interpreter (the instructions seccomp programs use) and the rules read directly.

interface Call { arch: number; nr: number; args: bigint[] }

function seccompData(c: Call): Buffer {
  const d = Buffer.alloc(64);
  d.writeInt32LE(c.nr | 0, 0);
  d.writeUInt32LE(c.arch >>> 0, 4);
  c.args.forEach((a, i) => d.writeBigUInt64LE(a & U64, 16 + 8 * i));
  return d;
}

function runBpf(program: Buffer, c: Call): number {
  const data = seccompData(c);
  let acc = 0;
  for (let pc = 0; ;) {
    if (pc * SOCK_FILTER_SIZE >= program.length) throw new Error(`ran off the end at ${pc}`);
    const at = pc * SOCK_FILTER_SIZE;
    const code = program.readUInt16LE(at);
    const jt = program.readUInt8(at + 2);
    const jf = program.readUInt8(at + 3);
    const k = program.readUInt32LE(at + 4);
    pc++;
    if (code === (BPF_LD | BPF_W | BPF_ABS)) {
      if (k % 4 !== 0 || k + 4 > data.length) throw new Error(`bad load at ${k}`);
      acc = data.readUInt32LE(k);
    } else if (code === (BPF_ALU | BPF_AND | BPF_K)) {
      acc = (acc & k) >>> 0;
    } else if (code === (BPF_JMP | BPF_JA)) {
      pc += k;
    } else if (code === (BPF_JMP | BPF_JEQ | BPF_K)) {
      pc += acc === k ? jt : jf;
    } else if (code === (BPF_JMP | BPF_JGT | BPF_K)) {
      pc += acc > k ? jt : jf;
    } else if (code === (BPF_JMP | BPF_JGE | BPF_K)) {
      pc += acc >= k ? jt : jf;
    } else if (code === (BPF_RET | BPF_K)) {
      return k >>> 0;
    } else {
      throw new Error(`unexpected opcode 0x${code.toString(16)}`);
    }
  }
}

const nrOf = (name: string): number | undefined => (NR as Readonly<Record<string, number>>)[name];

function actionOf(a: SeccompAction, errno: number): number {
  const table: Partial<Record<SeccompAction, number>> = {
    SCMP_ACT_ALLOW: SECCOMP_RET_ALLOW, SCMP_ACT_ERRNO: (SECCOMP_RET_ERRNO | errno) >>> 0, SCMP_ACT_KILL: SECCOMP_RET_KILL_THREAD,
    SCMP_ACT_KILL_THREAD: SECCOMP_RET_KILL_THREAD, SCMP_ACT_KILL_PROCESS: SECCOMP_RET_KILL_PROCESS >>> 0, SCMP_ACT_TRAP: SECCOMP_RET_TRAP,
    SCMP_ACT_LOG: SECCOMP_RET_LOG,
  };
  return table[a]!;
}

function holds(op: SeccompOperator, arg: bigint, value: bigint, valueTwo: bigint): boolean {
  switch (op) {
    case 'SCMP_CMP_EQ': return arg === value;
    case 'SCMP_CMP_NE': return arg !== value;
    case 'SCMP_CMP_LT': return arg < value;
    case 'SCMP_CMP_LE': return arg <= value;
    case 'SCMP_CMP_GT': return arg > value;
    case 'SCMP_CMP_GE': return arg >= value;
    case 'SCMP_CMP_MASKED_EQ': return (arg & value) === valueTwo;
  }
}

/** What runc with libseccomp makes of the profile for one call (see seccomp-profile.ts's header). */
function expected(p: Seccomp, c: Call): number {
  const def = actionOf(p.defaultAction, p.defaultErrnoRet);
  if (c.arch !== AUDIT_ARCH_X86_64) return c.arch === AUDIT_ARCH_I386 && p.architectures.includes('SCMP_ARCH_X86') ? def : SECCOMP_RET_KILL_THREAD;
  if ((c.nr >>> 0) >= X32_SYSCALL_BIT) return p.architectures.includes('SCMP_ARCH_X32') ? def : SECCOMP_RET_KILL_THREAD;
  for (const rule of p.syscalls) {
    const act = actionOf(rule.action, rule.errnoRet);
    if (act === def || !rule.names.some((n) => nrOf(n) === c.nr)) continue;
    const tests = rule.args.map((a) => holds(a.op, c.args[a.index]!, BigInt(a.value), BigInt(a.valueTwo)));
    const sameIndexTwice = new Set(rule.args.map((a) => a.index)).size < rule.args.length;
    if (sameIndexTwice ? tests.some(Boolean) : tests.every(Boolean)) return act;
  }
  const highest = Math.max(-1, ...p.syscalls.flatMap((r) => r.names.map(nrOf)).filter((n): n is number => n !== undefined));
  const stub = def !== SECCOMP_RET_ALLOW && def !== SECCOMP_RET_LOG && def !== ((SECCOMP_RET_ERRNO | ENOSYS) >>> 0);
  return stub && highest >= 0 && c.nr > highest ? (SECCOMP_RET_ERRNO | ENOSYS) >>> 0 : def;
}

// ---------------------------------------------------------------------------
// Random profiles and calls

const NAMES = ['read', 'write', 'openat', 'mkdir', 'personality', 'clone', 'kill', 'socket', 'ptrace', 'no_such_call', 'fchmodat2'];
const ACTIONS: SeccompAction[] = ['SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_LOG'];
const OPS: SeccompOperator[] = ['SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ'];
const ARCHES: SeccompArch[] = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32', 'SCMP_ARCH_AARCH64'];
/** Values JSON carries exactly (below 2^53), with both halves interesting. */
const VALUES = [0, 1, 2, 8, 0x7fffffff, 0x80000000, 0xffffffff, 0x100000000, 0x100000001, 0x1ffffffff, 2 ** 52 + 5, 2 ** 53 - 1];
const value = fc.oneof(fc.constantFrom(...VALUES), fc.integer({ min: 0, max: 2 ** 53 - 1 }));

const rule: fc.Arbitrary<SeccompRule> = fc.record({
  names: fc.uniqueArray(fc.constantFrom(...NAMES), { minLength: 1, maxLength: 3 }),
  action: fc.constantFrom(...ACTIONS),
  errnoRet: fc.constantFrom(1, 13, 22, 38),
  args: fc.array(fc.record({ index: fc.integer({ min: 0, max: 3 }), value, valueTwo: value, op: fc.constantFrom(...OPS) }), { maxLength: 3 }),
});
const profile: fc.Arbitrary<Seccomp> = fc.record({
  defaultAction: fc.constantFrom(...ACTIONS),
  defaultErrnoRet: fc.constantFrom(1, 38),
  architectures: fc.uniqueArray(fc.constantFrom(...ARCHES), { maxLength: 3 }),
  flags: fc.constant([]),
  syscalls: fc.array(rule, { maxLength: 8 }),
});

/** An argument near the profile's values: equal, one off, or with a half changed. */
function argNear(p: Seccomp): fc.Arbitrary<bigint> {
  const vs = p.syscalls.flatMap((r) => r.args.flatMap((a) => [BigInt(a.value), BigInt(a.valueTwo)]));
  const near = vs.length === 0 ? fc.constant(0n) : fc.tuple(fc.constantFrom(...vs), fc.constantFrom(0n, 1n, -1n, 1n << 32n, -(1n << 32n)))
    .map(([v, d]) => (v + d) & U64);
  return fc.oneof(near, fc.bigInt({ min: 0n, max: U64 }), fc.constantFrom(0n, U64, 0xffffffffn));
}

function callFor(p: Seccomp): fc.Arbitrary<Call> {
  const known = NAMES.map(nrOf).filter((n): n is number => n !== undefined);
  return fc.record({
    arch: fc.constantFrom(AUDIT_ARCH_X86_64, AUDIT_ARCH_X86_64, AUDIT_ARCH_X86_64, AUDIT_ARCH_I386, AUDIT_ARCH_AARCH64),
    nr: fc.oneof(fc.constantFrom(...known), fc.integer({ min: 0, max: 600 }), fc.constantFrom(X32_SYSCALL_BIT + 1, -1)),
    args: fc.array(argNear(p), { minLength: 6, maxLength: 6 }),
  });
}

describe('the seccomp profile compiler', () => {
  it('decides every call as the profile\'s rules do', () => {
    fc.assert(fc.property(profile.chain((p) => fc.tuple(fc.constant(p), fc.array(callFor(p), { minLength: 1, maxLength: 40 }))), ([p, calls]) => {
      const { program } = compileSeccompProfile(p);
      for (const c of calls) expect(runBpf(program, c), JSON.stringify({ c: { ...c, args: c.args.map(String) } })).toBe(expected(p, c));
    }), { numRuns: 400 });
  });

  it('compiles podman\'s default profile and decides each syscall number as its rules do', () => {
    const p = ociProfile(podmanProfile(), []);
    const { program } = compileSeccompProfile(p);
    fc.assert(fc.property(fc.integer({ min: 0, max: 1000 }), fc.array(fc.bigInt({ min: 0n, max: U64 }), { minLength: 6, maxLength: 6 }), (nr, args) => {
      const c = { arch: AUDIT_ARCH_X86_64, nr, args };
      expect(runBpf(program, c)).toBe(expected(p, c));
    }), { numRuns: 2000 });
    // socket(AF_NETLINK, *, NETLINK_AUDIT) is refused with EINVAL, other sockets pass.
    const socket = NR.socket;
    expect(runBpf(program, { arch: AUDIT_ARCH_X86_64, nr: socket, args: [16n, 3n, 9n, 0n, 0n, 0n] })).toBe((SECCOMP_RET_ERRNO | 22) >>> 0);
    expect(runBpf(program, { arch: AUDIT_ARCH_X86_64, nr: socket, args: [2n, 1n, 0n, 0n, 0n, 0n] })).toBe(SECCOMP_RET_ALLOW);
  });

  it('sets the flags the kernel takes', () => {
    const base: Seccomp = { defaultAction: 'SCMP_ACT_ALLOW', defaultErrnoRet: 1, architectures: [], flags: [], syscalls: [] };
    expect(compileSeccompProfile({ ...base, flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_TSYNC'] }).flags).toBe(2 | 4);
  });
});

// ---------------------------------------------------------------------------
// Podman's profile file (containers-common's JSON, a superset of the spec's
// section) as podman turns it into config.json's linux.seccomp: entries for
// other architectures, or that need capabilities the container lacks, dropped.

interface PodmanEntry {
  names: string[]; action: SeccompAction; errnoRet?: number; args?: SeccompRule['args'] | null;
  includes?: { caps?: string[]; arches?: string[] }; excludes?: { caps?: string[]; arches?: string[] };
}
interface PodmanProfile { defaultAction: SeccompAction; defaultErrnoRet?: number; syscalls: PodmanEntry[] }

function podmanProfile(): PodmanProfile {
  return JSON.parse(fs.readFileSync('/usr/share/containers/seccomp.json', 'utf8')) as PodmanProfile;
}

function ociProfile(p: PodmanProfile, caps: readonly string[]): Seccomp {
  const arch = 'amd64';
  const kept = p.syscalls.filter((s) => {
    if (s.includes?.arches && s.includes.arches.length > 0 && !s.includes.arches.includes(arch)) return false;
    if (s.includes?.caps && s.includes.caps.some((c) => !caps.includes(c))) return false;
    if (s.excludes?.arches?.includes(arch)) return false;
    if (s.excludes?.caps && s.excludes.caps.some((c) => caps.includes(c))) return false;
    return true;
  });
  return {
    defaultAction: p.defaultAction, defaultErrnoRet: p.defaultErrnoRet ?? 1,
    architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'], flags: [],
    syscalls: kept.map((s) => ({ names: s.names, action: s.action, errnoRet: s.errnoRet ?? 1, args: s.args ?? [] })),
  };
}

// ---------------------------------------------------------------------------
// Real containers

const tmp = fs.mkdtempSync('/var/tmp/tsvisor-oci-seccomp-');
const root = path.join(tmp, 'state');
const rootfs = path.join(tmp, 'rootfs');
let seq = 0;

beforeAll(() => makeBusyboxRootfs(rootfs));

afterAll(() => {
  for (const id of fs.existsSync(root) ? fs.readdirSync(root).filter((n) => !n.startsWith('@')) : []) tsvisor(['delete', '--force', id]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Result { status: number | null; stdout: string; stderr: string }

/** The CLI with the test's platform; a command that starts a container gets a file for its stdio. */
function tsvisor(args: string[], stdio?: number): Result {
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [CLI, '--root', root, ...platformFlags(), ...args], {
    encoding: 'utf8', timeout: 90_000, stdio: stdio !== undefined ? ['ignore', stdio, stdio] : ['ignore', 'pipe', 'pipe'],
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

interface Config {
  process: { args: string[]; terminal: boolean; capabilities?: Record<string, string[]> };
  root: { path: string; readonly: boolean };
  linux: { seccomp?: unknown; sysctl?: Record<string, string> };
}

function bundle(edit: (c: Config) => void): string {
  return makeBundle(CLI, path.join(tmp, `bundle-${++seq}`), rootfs, edit);
}

/** `run` of a bundle: its status and its output (stdout and stderr, in one file). */
function run(dir: string, runtime: 'tsvisor' | 'runc' = 'tsvisor'): { status: number | null; out: string } {
  const id = `sc-${PLATFORM}-${process.pid}-${++seq}`;
  const out = path.join(tmp, `${id}.out`);
  const fd = fs.openSync(out, 'w');
  let status: number | null;
  try {
    status = runtime === 'tsvisor'
      ? tsvisor(['run', '--bundle', dir, id], fd).status
      : spawnSync('runc', ['--root', path.join(tmp, 'runc'), 'run', '--bundle', dir, id], { stdio: ['ignore', fd, fd], timeout: 60_000 }).status;
  } finally {
    fs.closeSync(fd);
  }
  return { status, out: fs.readFileSync(out, 'utf8') };
}

const sh = (script: string): string[] => ['sh', '-c', script];

describe('linux.seccomp', () => {
  it('refuses mkdir with EPERM, and with the rule\'s errnoRet', () => {
    const dir = bundle((c) => {
      c.process.args = sh('mkdir /tmp/a; echo "a=$?"; rmdir /tmp; echo "rmdir=$?"; echo ok');
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
        { names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO' },
        { names: ['rmdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 13 },
      ] };
    });
    const r = run(dir);
    expect(r.status, r.out).toBe(0);
    expect(r.out).toContain("mkdir: can't create directory '/tmp/a': Operation not permitted");
    expect(r.out).toContain('a=1');
    expect(r.out).toContain("rmdir: '/tmp': Permission denied");
    expect(r.out).toContain('ok');
  });

  it('decides by the arguments: personality unless arg0 is 0, openat with O_CREAT (masked)', () => {
    const O_CREAT = 0o100;
    const dir = bundle((c) => {
      c.process.args = sh('linux64 true; echo "linux64=$?"; linux32 true; echo "linux32=$?"; x=$(cat /etc/passwd); echo "read=$?"; touch /tmp/new; echo "create=$?"');
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', errnoRet: 1, args: [{ index: 0, value: 0, op: 'SCMP_CMP_NE' }] },
        { names: ['openat'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 2, value: O_CREAT, valueTwo: O_CREAT, op: 'SCMP_CMP_MASKED_EQ' }] },
      ] };
    });
    const r = run(dir);
    expect(r.out).toContain('linux64=0');
    expect(r.out).toMatch(/linux32=[1-9]/);
    expect(r.out).toContain('read=0');
    expect(r.out, r.out).toMatch(/Permission denied[\s\S]*create=[1-9]/);
  });

  it('defaultAction ERRNO with an allow list: what is not listed fails', () => {
    // arch_prctl is in an entry of its own (amd64 only) in podman's file.
    const allowed = [...podmanProfile().syscalls[1]!.names.filter((n) => n !== 'mkdir' && n !== 'mkdirat'), 'arch_prctl'];
    const dir = bundle((c) => {
      c.process.args = sh('echo hi; ls / >/dev/null && echo listed; mkdir /tmp/m; echo "mkdir=$?"');
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ERRNO', defaultErrnoRet: 1, syscalls: [{ names: allowed, action: 'SCMP_ACT_ALLOW' }] };
    });
    const r = run(dir);
    expect(r.out).toContain('hi\nlisted');
    expect(r.out).toContain('mkdir=1');
    expect(r.out).toContain('Operation not permitted');
  });

  it('podman\'s default profile: busybox works, chroot and add_key are refused as under runc', () => {
    const script = 'echo hi; id; ls /bin/sh; mkdir /tmp/d && echo made; chroot / true; echo "chroot=$?"; '
      + 'linux32 true; echo "linux32=$?"; unshare -m true; echo "unshare=$?"; echo done';
    const dir = bundle((c) => {
      c.process.args = sh(script);
      c.linux.seccomp = ociProfile(podmanProfile(), c.process.capabilities?.['bounding'] ?? []);
    });
    const ours = run(dir);
    expect(ours.status, ours.out).toBe(0);
    expect(ours.out).toContain('hi\nuid=0(root) gid=0(root)');
    expect(ours.out).toContain('made');
    expect(ours.out).toContain("chroot: can't change root directory to '/': Operation not permitted");
    expect(ours.out).toContain('done');
    const runc = run(dir, 'runc');
    expect(runc.status, runc.out).toBe(0);
    const verdicts = (out: string): string[] => out.split('\n').filter((l) => /^[a-z0-9]+=\d+$/.test(l));
    expect(verdicts(ours.out)).toEqual(verdicts(runc.out));
  });

  it('holds for a process started by exec', () => {
    const dir = bundle((c) => {
      c.process.args = sh('while true; do sleep 0.1; done');
      c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['mkdir', 'mkdirat'], action: 'SCMP_ACT_ERRNO', errnoRet: 1 }] };
    });
    const id = `ex-${PLATFORM}-${process.pid}-${++seq}`;
    const fd = fs.openSync(path.join(tmp, `${id}.out`), 'w');
    try {
      expect(tsvisor(['create', '--bundle', dir, id], fd).status).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
    try {
      expect(tsvisor(['start', id]).status).toBe(0);
      const ex = tsvisor(['exec', id, 'sh', '-c', 'mkdir /tmp/e; echo "e=$?"; grep Seccomp: /proc/self/status']);
      expect(ex.stdout).toContain('e=1');
      expect(ex.stderr).toContain('Operation not permitted');
    } finally {
      tsvisor(['delete', '--force', id]);
    }
  });
});

describe('linux.sysctl', () => {
  it('sets namespaced sysctls the program reads back', () => {
    const dir = bundle((c) => {
      c.process.args = sh('cat /proc/sys/net/core/somaxconn /proc/sys/net/ipv4/ip_forward /proc/sys/kernel/shmmax /proc/sys/fs/mqueue/msg_max');
      c.linux.sysctl = { 'net.core.somaxconn': '1234', 'net.ipv4.ip_forward': '1', 'kernel.shmmax': '65536', 'fs.mqueue.msg_max': '17' };
    });
    const r = run(dir);
    expect(r.status, r.out).toBe(0);
    expect(r.out.trim()).toBe('1234\n1\n65536\n17');
  });

  it('refuses a sysctl the kernel does not have, naming it, and leaves nothing behind', () => {
    const dir = bundle((c) => {
      c.process.args = ['true'];
      c.linux.sysctl = { 'net.core.no_such_knob': '1' };
    });
    const r = tsvisor(['create', '--bundle', dir, `nosysctl-${PLATFORM}`]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('net.core.no_such_knob');
    expect(fs.existsSync(path.join(root, `nosysctl-${PLATFORM}`))).toBe(false);
  });
});
