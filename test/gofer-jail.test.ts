// The gofer's own seccomp filter (native/gofer/jail.c), on the real kernel:
//  - a real gofer (build/Release/tsvisor-gofer) serves every op through
//    GoferClient with the filter on;
//  - the very same program (test/helpers/gofer-filter.c builds it with
//    jail.c's own code), installed in test/helpers/filter-probe.c, refuses
//    what the gofer must never do and lets through what it needs;
//  - a gofer that cannot install it does not serve;
//  - `tsvisor do` still works, with its gofer jailed.
// Build first (node-gyp build, npx tsc -p tsconfig.json): the CLI runs from dist/.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { call, errnos, FilterProbe, type ProbeRun } from './helpers/filter-probe.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoferClient, GoferDiedError } from '../gofer/client.js';
import { GOFER_PATH, native } from '../native/index.js';
import { BPF_MAXINSNS, SOCK_FILTER_SIZE, X32_SYSCALL_BIT } from '../platform/seccomp-bpf.js';
import {
  AT_REMOVEDIR, E, O_CREAT, O_EXCL, O_NONBLOCK, O_RDONLY, O_WRONLY, S_IFIFO, XATTR_CREATE, XATTR_REPLACE,
} from '../sentry/abi/linux.js';
import { MAX_SYSCALL_NR, NR, SYSCALLS, type SyscallName } from '../syscall-tables/index.js';
import { sandboxArgs } from './helpers/sandbox.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const PROJECT_ROOT = path.resolve(HERE, '..');
const DIST = path.join(PROJECT_ROOT, 'dist');
const MAIN = GOFER_PATH;
const AT_FDCWD = -100;
const EPERM = E.EPERM;
const ENOSYS = E.ENOSYS;
/** seccomp-bpf.ts sends numbers with the x32 bit to ENOSYS whatever the table says. */
const X32_GETPID = X32_SYSCALL_BIT + NR.getpid;
/** All argument registers set to ~0: every fd invalid, every pointer faulting, every length absurd. */
const ALL_ONES = '-1';

interface RunningGofer {
  readonly client: GoferClient;
  readonly child: ChildProcess;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** The gofer's policy as jail.c builds it: the BPF program and the syscalls it allows. */
interface GoferPolicy {
  readonly program: Buffer;
  /** Allowed syscall numbers, with jail.c's names for them. */
  readonly allowed: ReadonlyMap<number, string>;
}

/** Compiles test/helpers/gofer-filter.c with native/gofer/jail.c and asks it for the policy. */
function loadGoferPolicy(dir: string): GoferPolicy {
  const binary = path.join(dir, 'gofer-filter');
  if (!fs.existsSync(binary)) {
    execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', binary,
      path.join(HERE, 'helpers', 'gofer-filter.c'), path.join(PROJECT_ROOT, 'native', 'gofer', 'jail.c')]);
  }
  const output = path.join(dir, `gofer-filter-${process.hrtime.bigint()}.bpf`);
  const listing = execFileSync(binary, [output], { encoding: 'utf8' });
  const allowed = new Map<number, string>();
  for (const line of listing.split('\n')) {
    if (line === '') continue;
    const [nr, name] = line.split(' ');
    allowed.set(Number(nr), name!);
  }
  return { program: fs.readFileSync(output), allowed };
}

/** Spawns a real gofer with the socket as its fd 3 (as test/gofer.test.ts does). */
function startGofer(root: string, extraArgs: string[] = []): RunningGofer {
  const pair = native.socketpair(true);
  if (typeof pair === 'number') throw new Error(`socketpair: errno ${-pair}`);
  const [mine, theirs] = [pair[0]!, pair[1]!];
  const child = spawn(MAIN, ['--root', root, '--sock-fd', '3', ...extraArgs], {
    stdio: ['ignore', 'inherit', 'inherit', theirs],
  });
  native.close(theirs); // only the gofer holds its end: its death is our end of file
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { client: new GoferClient(mine), child, exited };
}

/** The fields of a /proc/.../status file. */
function procStatus(file: string): Map<string, string> {
  const fields = new Map<string, string>();
  for (const line of fs.readFileSync(file, 'utf8').split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

function threads(pid: number): string[] {
  return fs.readdirSync(`/proc/${pid}/task`);
}

/** Checks that the process and every one of its threads run filtered, with no_new_privs. */
function expectJailed(pid: number): void {
  const status = procStatus(`/proc/${pid}/status`);
  expect(status.get('Seccomp'), 'SECCOMP_MODE_FILTER').toBe('2');
  expect(status.get('NoNewPrivs')).toBe('1');
  expect(Number(status.get('Seccomp_filters'))).toBeGreaterThanOrEqual(1);
  const tids = threads(pid);
  // The C gofer is one thread (TSYNC would cover any other).
  expect(tids).toEqual([String(pid)]);
  for (const tid of tids) {
    const thread = procStatus(`/proc/${pid}/task/${tid}/status`);
    expect(thread.get('Seccomp'), `thread ${tid}`).toBe('2');
    expect(thread.get('NoNewPrivs'), `thread ${tid}`).toBe('1');
  }
}

/** A status reply as a plain number: GoferClient's xattr calls answer success as -0. */
function asStatus(ret: number): number {
  return ret === 0 ? 0 : ret;
}

function readAll(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString('latin1');
}

let workDir = '';

beforeAll(() => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (node-gyp build)`);
  workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-jail-'));
});

afterAll(() => {
  if (workDir) fs.rmSync(workDir, { recursive: true, force: true });
});

// ---------------------------------------------------------------------------

describe('a real gofer, jailed', () => {
  let root = '';
  let gofer: RunningGofer;
  let client: GoferClient;
  let pid = 0;
  let fdsAtStart = 0;

  beforeAll(() => {
    root = path.join(workDir, 'tree');
    fs.mkdirSync(path.join(root, 'dir', 'sub'), { recursive: true });
    fs.writeFileSync(path.join(root, 'dir', 'file.txt'), 'hello gofer');
    fs.mkdirSync(path.join(root, 'big'));
    for (let i = 0; i < 300; i++) fs.writeFileSync(path.join(root, 'big', `entry-${i}`), '');
    gofer = startGofer(root);
    client = gofer.client;
    // The filter goes on before the first request is read: once this answers, it is on.
    expect(client.walk([])).toMatchObject({ found: 0, errno: 0 });
    pid = gofer.child.pid!;
    fdsAtStart = fs.readdirSync(`/proc/${pid}/fd`).length;
  });

  afterAll(async () => {
    client.close();
    await gofer.exited;
  });

  it('runs with its filter on, with no_new_privs', () => {
    expectJailed(pid);
  });

  it('walks, and opens a file whose fd reads', () => {
    expect(client.walk(['dir', 'file.txt'])).toMatchObject({ found: 2, errno: 0 });
    expect(client.walk(['dir', 'nope'])).toMatchObject({ found: 1, errno: E.ENOENT });
    const fd = client.open(['dir', 'file.txt'], O_RDONLY, 0);
    expect(fd).toBeGreaterThanOrEqual(0);
    try {
      expect(readAll(fd)).toBe('hello gofer');
    } finally {
      fs.closeSync(fd);
    }
    const created = client.open(['dir', 'created'], O_CREAT | O_EXCL | O_WRONLY, 0o640);
    expect(created).toBeGreaterThanOrEqual(0);
    fs.writeSync(created, 'new');
    fs.closeSync(created);
    expect(fs.readFileSync(path.join(root, 'dir', 'created'), 'latin1')).toBe('new');
    expect(fs.statSync(path.join(root, 'dir', 'created')).mode & 0o7777).toBe(0o640);
  });

  it('mkdir, mknod (a FIFO, opened non-blocking), unlink and rmdir', () => {
    expect(client.mkdir(['dir', 'newdir'], 0o751)).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'newdir')).mode & 0o7777).toBe(0o751);
    expect(client.mknod(['dir', 'fifo'], S_IFIFO | 0o600, 0)).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'fifo')).isFIFO()).toBe(true);
    const reader = client.open(['dir', 'fifo'], O_RDONLY | O_NONBLOCK, 0);
    expect(reader).toBeGreaterThanOrEqual(0);
    fs.closeSync(reader);
    // A blocking FIFO open is the kernel's to do for the sentry: the gofer only looks.
    expect(client.open(['dir', 'fifo'], O_RDONLY, 0)).toBe(-E.EWOULDBLOCK);
    expect(client.unlink(['dir', 'fifo'], 0)).toBe(0);
    expect(client.unlink(['dir', 'newdir'], AT_REMOVEDIR)).toBe(0);
    expect(fs.existsSync(path.join(root, 'dir', 'fifo'))).toBe(false);
    expect(fs.existsSync(path.join(root, 'dir', 'newdir'))).toBe(false);
  });

  // rename, NOREPLACE and EXCHANGE: test/gofer.test.ts, whose gofer is jailed the same way.

  it('symlink, readlink and link', () => {
    expect(client.symlink('/etc/shadow', ['dir', 'sl'])).toBe(0);
    expect(fs.readlinkSync(path.join(root, 'dir', 'sl'))).toBe('/etc/shadow');
    expect(client.readlink(['dir', 'sl'])).toBe('/etc/shadow');
    expect(client.walk(['dir', 'sl'])).toMatchObject({ found: 2, errno: 0, symlinkTarget: '/etc/shadow' });
    expect(client.link(['dir', 'file.txt'], ['dir', 'hard'])).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'hard')).ino).toBe(fs.statSync(path.join(root, 'dir', 'file.txt')).ino);
  });

  it('chmod (fchmodat2), chown, utimes and truncate', () => {
    const file = path.join(root, 'dir', 'file.txt');
    expect(client.chmod(['dir', 'file.txt'], 0o4711)).toBe(0);
    expect(fs.statSync(file).mode & 0o7777).toBe(0o4711);
    expect(client.chmod(['dir', 'sl'], 0o600)).toBe(-E.EOPNOTSUPP);
    expect(client.chown(['dir', 'file.txt'], 1234, 5678)).toBe(0);
    expect(fs.statSync(file)).toMatchObject({ uid: 1234, gid: 5678 });
    expect(client.utimes(['dir', 'file.txt'], { sec: 1_000_000_000n, nsec: 5 }, { sec: 1_200_000_000n, nsec: 7 })).toBe(0);
    const st = fs.statSync(file, { bigint: true });
    expect(st.atimeNs).toBe(1_000_000_000_000_000_005n);
    expect(st.mtimeNs).toBe(1_200_000_000_000_000_007n);
    fs.writeFileSync(path.join(root, 'dir', 'long'), 'abcdefgh');
    expect(client.truncate(['dir', 'long'], 3)).toBe(0);
    expect(fs.readFileSync(path.join(root, 'dir', 'long'), 'latin1')).toBe('abc');
  });

  it('statfs and getdents, a large directory page by page', () => {
    const statfs = client.statfs([]);
    if (typeof statfs === 'number') throw new Error(`statfs: ${statfs}`);
    expect(new DataView(statfs.buffer, statfs.byteOffset).getBigInt64(0, true)).toBe(fs.statfsSync(root, { bigint: true }).type);
    const entries = client.listDirectory(['big']);
    if (typeof entries === 'number') throw new Error(`listDirectory: ${entries}`);
    expect(entries.map((e) => e.name).sort()).toEqual(['.', '..', ...fs.readdirSync(path.join(root, 'big'))].sort());
  });

  it('extended attributes: set, get, list, replace, remove', () => {
    const value = new TextEncoder().encode('jailed');
    expect(asStatus(client.setxattr(['dir', 'file.txt'], 'user.tsvisor', value, XATTR_CREATE))).toBe(0);
    expect(asStatus(client.setxattr(['dir', 'file.txt'], 'user.tsvisor', value, XATTR_CREATE))).toBe(-E.EEXIST);
    const got = client.getxattr(['dir', 'file.txt'], 'user.tsvisor');
    if (typeof got === 'number') throw new Error(`getxattr: ${got}`);
    expect(Buffer.from(got).toString('latin1')).toBe('jailed');
    const list = client.listxattr(['dir', 'file.txt']);
    if (typeof list === 'number') throw new Error(`listxattr: ${list}`);
    expect(Buffer.from(list).toString('latin1').split('\0')).toContain('user.tsvisor');
    expect(asStatus(client.setxattr(['dir', 'file.txt'], 'user.tsvisor', new TextEncoder().encode('again'), XATTR_REPLACE))).toBe(0);
    expect(asStatus(client.removexattr(['dir', 'file.txt'], 'user.tsvisor'))).toBe(0);
    expect(client.getxattr(['dir', 'file.txt'], 'user.tsvisor')).toBe(-E.ENODATA);
  });

  it('keeps serving under load and starts no thread', () => {
    const before = threads(pid).sort();
    const value = new Uint8Array(16); // small: ext4 keeps all of a file's xattrs in one block
    // Each listing makes the gofer encode 300 entries: all of it in its static buffers (no mmap, no brk).
    for (let i = 0; i < 10_000; i++) {
      expect(client.walk(['dir', 'sub'])).toMatchObject({ found: 2, errno: 0 });
      if (i % 10 === 0) expect(asStatus(client.setxattr(['dir', 'long'], `user.n${i % 20}`, value, 0))).toBe(0);
      if (i % 20 === 0) expect(client.listDirectory(['big'])).toHaveLength(302);
    }
    expect(threads(pid).sort()).toEqual(before);
    expectJailed(pid);
  });

  it('leaks no fd', () => {
    expect(fs.readdirSync(`/proc/${pid}/fd`).length).toBe(fdsAtStart);
  });

  it('a read-only gofer, jailed too, answers EROFS and exits cleanly', async () => {
    const ro = startGofer(root, ['--read-only']);
    try {
      expect(ro.client.walk(['dir'])).toMatchObject({ found: 1, errno: 0 });
      expectJailed(ro.child.pid!);
      expect(ro.client.mkdir(['dir', 'x'], 0o755)).toBe(-E.EROFS);
      expect(asStatus(ro.client.setxattr(['dir', 'file.txt'], 'user.ro', new Uint8Array(1), 0))).toBe(-E.EROFS);
      expect(ro.client.open(['dir', 'file.txt'], O_WRONLY, 0)).toBe(-E.EROFS);
    } finally {
      ro.client.close();
    }
    // The exit path runs under the filter too.
    expect(await ro.exited).toEqual({ code: 0, signal: null });
  });
});

// ---------------------------------------------------------------------------
// The policy itself: pure checks.

/** What the gofer must never be able to do, whatever else changes in the list. */
const MUST_DENY: readonly SyscallName[] = [
  'execve', 'execveat', 'fork', 'vfork', 'clone', 'clone3',
  // bind is allowed: the gofer names a program's unix socket (bindSocket); it makes none of its own.
  'socket', 'socketpair', 'connect', 'listen', 'accept', 'accept4',
  'mount', 'umount2', 'fsopen', 'fsmount', 'fsconfig', 'move_mount', 'open_tree', 'mount_setattr', 'pivot_root', 'chroot',
  'unshare', 'setns', 'ptrace', 'process_vm_readv', 'process_vm_writev', 'pidfd_getfd', 'bpf', 'perf_event_open',
  'kexec_load', 'kexec_file_load', 'init_module', 'finit_module', 'delete_module', 'keyctl', 'add_key', 'request_key',
  'kill', 'tkill', 'tgkill', 'rt_sigqueueinfo', 'rt_tgsigqueueinfo', 'pidfd_send_signal',
  'open_by_handle_at', 'name_to_handle_at', 'io_uring_setup', 'io_uring_enter', 'io_uring_register', 'userfaultfd',
  // setgroups and capset are allowed (the gofer takes each task's identity):
  // per thread, within what the gofer already holds. setuid/setgid are not.
  'reboot', 'swapon', 'setuid', 'setgid', 'setresuid', 'setresgid', 'prctl', 'seccomp', 'prlimit64', 'setrlimit', 'umask',
];

describe('the gofer policy', () => {
  let policy: GoferPolicy;
  beforeAll(() => {
    policy = loadGoferPolicy(workDir);
  });

  it("names syscalls of the project's table, each by its own number", () => {
    expect(policy.allowed.size).toBeGreaterThan(0);
    for (const [nr, name] of policy.allowed) expect(NR[name as SyscallName], name).toBe(nr);
  });

  it('allows what the ops need and denies what the gofer must never do', () => {
    const allowedNames = new Set(policy.allowed.values());
    for (const name of MUST_DENY) expect(allowedNames.has(name), name).toBe(false);
    const needed: SyscallName[] = [
      'openat2', 'statx', 'readlinkat', 'mkdirat', 'mknodat', 'unlinkat', 'renameat2', 'symlinkat',
      'linkat', 'fchmodat2', 'fchownat', 'utimensat', 'faccessat2', 'ftruncate', 'fstatfs', 'getdents64', 'lseek', 'fcntl',
      'close', 'getxattr', 'listxattr', 'setxattr', 'removexattr', 'recvmsg', 'sendmsg', 'bind', 'write', 'exit_group',
      'setfsuid', 'setfsgid', 'setgroups', 'capset',
    ];
    for (const name of needed) expect(allowedNames.has(name), name).toBe(true);
    // One thread, static buffers: no memory mapping, no threads, no signal handlers, no reopening stdio.
    const notNeeded: SyscallName[] = [
      'mmap', 'mprotect', 'brk', 'futex', 'rt_sigaction', 'ioctl', 'openat', 'dup3', 'epoll_wait', 'getsockname',
    ];
    for (const name of notNeeded) expect(allowedNames.has(name), name).toBe(false);
  });

  it('builds into a valid, deterministic program', () => {
    const program = policy.program;
    expect(program.length % SOCK_FILTER_SIZE).toBe(0);
    expect(program.length / SOCK_FILTER_SIZE).toBeLessThanOrEqual(BPF_MAXINSNS);
    expect(loadGoferPolicy(workDir).program.equals(program)).toBe(true);
  });
});

// ---------------------------------------------------------------------------
// The same program on the real kernel, in test/helpers/filter-probe.c.

describe('the gofer filter in filter-probe', () => {
  let runner: FilterProbe;
  let goferFilter: Buffer;
  let allowedNumbers: ReadonlySet<number>;
  beforeAll(() => {
    runner = new FilterProbe(workDir);
    const policy = loadGoferPolicy(workDir);
    goferFilter = policy.program;
    allowedNumbers = new Set(policy.allowed.keys());
  });
  const probe = (filter: Buffer | null, calls: readonly string[]): ProbeRun => runner.run(filter, calls);

  it('refuses exec, sockets, mounts, namespaces, tracing, signals to others and the rest with EPERM', () => {
    const AF_UNIX = 1;
    const SOCK_STREAM = 1;
    const calls = [
      call(NR.execve, '@str:/bin/true', 0, 0),
      call(NR.execveat, AT_FDCWD, '@str:/bin/true', 0, 0, 0),
      call(NR.socket, AF_UNIX, SOCK_STREAM, 0),
      call(NR.socketpair, AF_UNIX, SOCK_STREAM, 0, '@buf'),
      call(NR.mount, '@str:none', '@str:/tmp', '@str:tmpfs', 0, 0),
      call(NR.unshare, 0),
      call(NR.setns, ALL_ONES, 0),
      call(NR.ptrace, ALL_ONES, ALL_ONES, 0, 0),
      call(NR.process_vm_readv, ALL_ONES, 0, 0, 0, 0, 0),
      call(NR.bpf, ALL_ONES, 0, 0),
      call(NR.kexec_load, 0, 0, 0, 0),
      call(NR.init_module, 0, 0, '@str:'),
      call(NR.keyctl, ALL_ONES, 0, 0, 0, 0),
      call(NR.chroot, '@str:/'),
      call(NR.pivot_root, '@str:/', '@str:/'),
      call(NR.open_by_handle_at, ALL_ONES, 0, 0),
      call(NR.clone, ALL_ONES, 0, 0, 0, 0),
      call(NR.clone3, 0, 0),
      call(NR.kill, 0, 0),
      call(NR.tgkill, ALL_ONES, ALL_ONES, 0),
      call(NR.io_uring_setup, 0, 0),
      call(NR.prctl, ALL_ONES, 0, 0, 0, 0),
      call(MAX_SYSCALL_NR + 100), // a number the table does not define: refused, never allowed
    ];
    const run = probe(goferFilter, calls);
    expect(run.isolated, 'the probe runs in its own IPC/UTS/net namespaces (needs root)').toBe(true);
    expect(errnos(run, calls.length)).toEqual(calls.map(() => EPERM));
    // The filter's own answers, not the kernel's: unfiltered, these succeed.
    const harmless = [call(NR.socket, AF_UNIX, SOCK_STREAM, 0), call(NR.unshare, 0), call(NR.kill, 0, 0)];
    expect(errnos(probe(null, harmless), harmless.length)).toEqual([0, 0, 0]);
    // And the x32 ABI and foreign arches keep seccomp-bpf.ts's answers.
    expect(errnos(probe(goferFilter, [call(X32_GETPID)]), 1)).toEqual([ENOSYS]);
  });

  it('lets through what the gofer needs: openat2, getdents64, statx, recvmsg, sendmsg, xattrs; not memory', () => {
    const openRoot = call(NR.openat2, AT_FDCWD, '@str:/', '@buf', 24); // a zeroed struct open_how: O_RDONLY
    const unfilteredOpen = probe(null, [openRoot]);
    const fd = unfilteredOpen.results[0]?.ret ?? -1;
    expect(fd).toBeGreaterThanOrEqual(0);
    const calls = [
      openRoot,
      call(NR.getdents64, fd, '@buf', 4096),
      call(NR.statx, AT_FDCWD, '@str:/', 0, 0, '@buf'),
      call(NR.readlinkat, AT_FDCWD, '@str:/proc/self/exe', '@buf', 4096),
      call(NR.getxattr, '@str:/', '@str:user.tsvisor-none', '@buf', 4096),
      call(NR.recvmsg, ALL_ONES, 0, 0),
      call(NR.sendmsg, ALL_ONES, 0, 0),
      call(NR.close, fd),
    ];
    const filtered = probe(goferFilter, calls);
    const unfiltered = probe(null, calls);
    const got = errnos(filtered, calls.length);
    expect(got).toEqual(errnos(unfiltered, calls.length));
    expect(got).not.toContain(EPERM);
    const [open, getdents, statx, readlink] = filtered.results;
    expect(open?.ret).toBe(fd);
    expect(getdents?.ret, 'a listing of / came back').toBeGreaterThan(0);
    expect(statx?.ret).toBe(0);
    expect(readlink?.ret).toBeGreaterThan(0);
    expect(got[5], 'recvmsg reached the kernel').toBe(E.EBADF);
    expect(got[6], 'sendmsg reached the kernel').toBe(E.EBADF);
    // exit_group is allowed: the probe ends normally rather than on its trap instruction.
    expect(filtered).toMatchObject({ status: 0, signal: null });
    // The gofer allocates nothing once jailed: memory calls are refused like the rest.
    const PROT_READ = 1;
    const MAP_PRIVATE_ANONYMOUS = 0x22;
    const memory = [call(NR.mmap, 0, 4096, PROT_READ, MAP_PRIVATE_ANONYMOUS, ALL_ONES, 0), call(NR.brk, 0)];
    expect(errnos(probe(goferFilter, memory), memory.length)).toEqual([EPERM, EPERM]);
  });

  it('gives every number the policy answer: a sweep over the whole table', () => {
    // Calls that would block, end or crash the probe if they ran (or, after rseq,
    // numbers this kernel answers before seccomp runs; see test/seccomp-bpf.test.ts).
    const skip = new Set<number>([NR.pause, NR.rt_sigreturn, NR.sync, NR.exit, NR.exit_group, NR.rseq + 1, NR.rseq + 2]);
    const numbers: number[] = [];
    for (let nr = 0; nr <= MAX_SYSCALL_NR + 16; nr++) if (!skip.has(nr)) numbers.push(nr);
    const allOnes = (nr: number): string => call(nr, ALL_ONES, ALL_ONES, ALL_ONES, ALL_ONES, ALL_ONES, ALL_ONES);
    const names = new Map(SYSCALLS.map((entry) => [entry.nr, entry.name]));

    const filtered = probe(goferFilter, numbers.map(allOnes));
    expect(filtered.isolated).toBe(true);
    const filteredErrno = errnos(filtered, numbers.length);

    // Allowed calls must answer as if no filter were there (their arguments are all invalid).
    const allowed = numbers.filter((nr) => allowedNumbers.has(nr));
    const native = errnos(probe(null, allowed.map(allOnes)), allowed.length);
    const nativeErrno = new Map(allowed.map((nr, index) => [nr, native[index]]));

    const mismatches: string[] = [];
    numbers.forEach((nr, index) => {
      const expected = allowedNumbers.has(nr) ? nativeErrno.get(nr) : EPERM;
      const got = filteredErrno[index];
      if (got !== expected) mismatches.push(`${names.get(nr) ?? 'unknown'} (${nr}): errno ${got}, expected ${expected}`);
    });
    expect(mismatches).toEqual([]);
    // Nothing the policy allows is refused by the kernel's filter by accident.
    expect(allowed.length).toBe([...allowedNumbers].filter((nr) => !skip.has(nr)).length);
  });
});

// ---------------------------------------------------------------------------
// The install path in native/gofer/jail.c and main.c.

describe('installing the filter', () => {
  /** Runs an ES module script in a fresh node with the project as its working directory (so 'koffi' resolves). */
  function runScript(script: string, stdio3?: number): { status: number | null; stdout: string; stderr: string } {
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
      cwd: PROJECT_ROOT,
      stdio: ['ignore', 'pipe', 'pipe', stdio3 ?? 'ignore'],
      encoding: 'utf8',
      timeout: 30_000,
    });
    return { status: child.status, stdout: child.stdout, stderr: child.stderr };
  }

  const distUrl = (...parts: string[]): string => pathToFileURL(path.join(DIST, ...parts)).href;

  it('fails closed: a gofer that cannot install its filter exits non-zero without serving', () => {
    // A node that refuses seccomp(2) itself (EPERM, everything else allowed),
    // then runs the gofer, which inherits that: the gofer's own filter cannot go on.
    const script = `
      import koffi from 'koffi';
      import { spawnSync } from 'node:child_process';
      import { buildFilter, SECCOMP_RET_ALLOW, SOCK_FILTER_SIZE } from ${JSON.stringify(distUrl('platform', 'seccomp-bpf.js'))};
      import { NR, SYSCALLS } from ${JSON.stringify(distUrl('syscall-tables', 'index.js'))};
      const table = SYSCALLS.map((e) => e.name === 'seccomp'
        ? { ...e, disposition: 'denied', deniedErrno: 1, argDeny: undefined }
        : { ...e, disposition: 'passthrough', deniedErrno: undefined });
      const program = buildFilter(table, { trapAction: SECCOMP_RET_ALLOW, strict: false });
      const libc = koffi.load('libc.so.6');
      const prctl = libc.func('int prctl(int option, ...)');
      const syscall = libc.func('long syscall(long number, ...)');
      const fprog = koffi.struct({ len: 'uint16_t', filter: 'void *' });
      if (prctl(38, 'unsigned long', 1, 'unsigned long', 0, 'unsigned long', 0, 'unsigned long', 0) !== 0) process.exit(90);
      const r = syscall(NR.seccomp, 'unsigned int', 1, 'unsigned int', 1, koffi.pointer(fprog),
        { len: program.length / SOCK_FILTER_SIZE, filter: program });
      if (r !== 0) process.exit(91);
      const gofer = spawnSync(${JSON.stringify(MAIN)}, ['--root', ${JSON.stringify(workDir)}, '--sock-fd', '3'],
        { stdio: ['ignore', 'inherit', 'inherit', 3] });
      process.exit(gofer.status ?? 92);
    `;
    const pair = native.socketpair(true);
    if (typeof pair === 'number') throw new Error(`socketpair: errno ${-pair}`);
    const client = new GoferClient(pair[0]!);
    let run: { status: number | null; stderr: string };
    try {
      run = runScript(script, pair[1]!);
    } finally {
      native.close(pair[1]!);
    }
    expect(run.stderr).toMatch(/tsvisor-gofer: seccomp\(SECCOMP_SET_MODE_FILTER, TSYNC\): errno 1: refusing to serve/);
    expect(run.status).toBe(1);
    // It answered nothing: its end of the socket is closed.
    expect(() => client.walk([])).toThrow(GoferDiedError);
    client.close();
  });
});

// ---------------------------------------------------------------------------
// End to end: the gofer of a real sandbox runs jailed, and the sandbox works.

describe('tsvisor do', () => {
  it("works with a jailed gofer: echo > /tmp/x, cat, ls /", () => {
    const run = spawnSync(process.execPath, sandboxArgs(['sh', '-c', 'echo hi > /tmp/x && cat /tmp/x && ls / >/dev/null && echo ok']), {
      encoding: 'utf8',
      timeout: 90_000,
    });
    expect(run.stderr).toBe('');
    expect(run.stdout).toBe('hi\nok\n');
    expect(run.status).toBe(0);
  });

  it("the sandbox's gofer runs with its filter", async () => {
    // The program waits on stdin, so the gofer can be looked at while it serves.
    const cli = spawn(process.execPath, sandboxArgs(['sh', '-c', 'echo hi > /tmp/x && cat /tmp/x && echo ok && read line && echo "$line"']), {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const hang = setTimeout(() => cli.kill('SIGKILL'), 60_000);
    let stdout = '';
    let stderr = '';
    cli.stderr.on('data', (b: Buffer) => { stderr += b.toString(); });
    const exited = new Promise<number | null>((resolve) => cli.on('exit', (code) => resolve(code)));
    await new Promise<void>((resolve) => {
      cli.stdout.on('data', (b: Buffer) => {
        stdout += b.toString();
        if (stdout.includes('ok\n')) resolve();
      });
      cli.on('exit', () => resolve());
    });
    try {
      // The gofer: the launcher the CLI spawned, which execs build/Release/tsvisor-gofer in place.
      const gofers = fs.readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).filter((entry) => {
        try {
          const stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8');
          const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
          return ppid === cli.pid && fs.readFileSync(`/proc/${entry}/cmdline`, 'latin1').includes('tsvisor-gofer');
        } catch {
          return false; // gone meanwhile
        }
      });
      expect(gofers).toHaveLength(1);
      expectJailed(Number(gofers[0]));
    } finally {
      cli.stdin.end('bye\n');
    }
    const code = await exited;
    clearTimeout(hang);
    expect(stderr).toBe('');
    expect(stdout).toBe('hi\nok\nbye\n');
    expect(code).toBe(0);
  });
});
