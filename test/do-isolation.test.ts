// The sandbox holds: forbidden syscalls are refused, paths cannot climb out of
// the root, writes do not reach the host, killing the sentry or the gofer takes
// every sandboxed process with it, and bad command lines get a message.
import { randomBytes } from 'node:crypto';
import type { ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_ENV,
  compileHelper,
  descendantsOf,
  doArgs,
  listProcesses,
  makeWorkDir,
  processesWithEnv,
  removeDir,
  runCli,
  runNative,
  runSandboxed,
  spawnSandboxed,
  stillRunning,
  waitFor,
  type HostProcess,
  type RunResult,
} from './helpers/sandbox.js';

const EPERM = 1;
const ENOSYS = 38;
/** Environment variable that tags every process of one run (children inherit it). */
const MARK = 'TSVISOR_TEST_MARK';

let work = '';

beforeAll(() => {
  work = makeWorkDir('iso');
});

afterAll(() => {
  removeDir(work);
});

function uniq(): string {
  return randomBytes(6).toString('hex');
}

function show(r: RunResult): string {
  return `status=${r.status} signal=${r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

describe('forbidden syscalls', () => {
  let bin = '';
  let scratch = '';

  beforeAll(() => {
    // Inside the cwd temp dir, so the sandbox sees the binary at the same path.
    const dir = fs.mkdtempSync(path.join(work, 'forbidden-'));
    bin = compileHelper('forbidden', dir);
    scratch = path.join(dir, 'scratch');
    fs.mkdirSync(scratch);
  });

  function parse(stdout: string): Map<string, number> {
    const m = new Map<string, number>();
    for (const line of stdout.split('\n')) {
      const f = /^(\S+) (\d+)$/.exec(line);
      if (f) m.set(f[1]!, Number(f[2]));
    }
    return m;
  }

  it('mount, ptrace, bpf, kexec_load, init_module, unshare, clone(NEWUSER|NEWNS) and clone3 are refused', async () => {
    // For reference only: what root gets natively (most succeed, or fail differently).
    const native = await runNative([bin, scratch], { cwd: work });
    console.log(`native, as root (reference, not compared):\n${native.stdout}`);

    const r = await runSandboxed([bin, scratch], { cwd: work });
    expect(r.stdout, show(r)).toMatch(/\ndone\n$/);
    expect(r.status, show(r)).toBe(0);
    const got = parse(r.stdout);
    const refused = [EPERM, ENOSYS];
    for (const name of ['mount', 'ptrace', 'bpf', 'kexec_load', 'init_module', 'unshare']) {
      expect.soft(refused, `${name}: errno ${got.get(name)}`).toContain(got.get(name));
    }
    expect.soft(got.get('clone_newuser_newns'), 'clone(CLONE_NEWUSER|CLONE_NEWNS)').toBe(EPERM);
    expect.soft(got.get('clone3'), 'clone3').toBe(ENOSYS);
  });
});

describe('paths stay inside the root', () => {
  it('a symlink to ../../../../../../ in /tmp lists the sandbox root', async () => {
    const r = await runSandboxed(
      ['sh', '-c', 'ln -s ../../../../../../ /tmp/esc && ls /tmp/esc/ && echo ---- && ls /'],
      { cwd: work },
    );
    expect(r.status, show(r)).toBe(0);
    const [viaLink, root] = r.stdout.split('----\n');
    expect(root).toContain('\nusr\n');
    expect(viaLink).toBe(root);
  });

  it('cat /tmp/../../../etc/hostname is the sandbox\'s /etc/hostname', async () => {
    const r = await runSandboxed(
      ['sh', '-c', 'echo sandbox-name-only > /etc/hostname && cat /tmp/../../../etc/hostname && cat /etc/hostname'],
      { cwd: work },
    );
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('sandbox-name-only\nsandbox-name-only\n');
  });

  it('an absolute symlink resolves inside the sandbox root, not the host\'s', async () => {
    const name = `tsvisor-abs-${uniq()}`;
    const hostFile = path.join('/tmp', name);
    // The host's /tmp gets a decoy of the same name; the sandbox's own /tmp (a
    // fresh tmpfs) gets the real one. A symlink made on the host in the cwd, and
    // one made inside the sandbox, both name /tmp/NAME absolutely.
    fs.writeFileSync(hostFile, 'HOST\n');
    const hostLink = path.join(work, `abs-link-${name}`);
    fs.symlinkSync(hostFile, hostLink);
    try {
      const r = await runSandboxed(
        ['sh', '-c', `echo SANDBOX > /tmp/${name} && ln -s /tmp/${name} ./inner-${name} && cat ./inner-${name} && cat ${hostLink}`],
        { cwd: work },
      );
      expect(r.status, show(r)).toBe(0);
      expect(r.stdout).toBe('SANDBOX\nSANDBOX\n');
      expect(fs.readFileSync(hostFile, 'utf8')).toBe('HOST\n');
      expect(fs.existsSync(path.join(work, `inner-${name}`))).toBe(false);
    } finally {
      fs.rmSync(hostFile, { force: true });
      fs.rmSync(hostLink, { force: true });
    }
  });

  describe('--rootfs DIR', () => {
    let rootfs = '';
    const PASSWD = 'rootfsuser:x:0:0:rootfs user:/:/bin/sh\n';
    const ENTRIES = ['bin', 'etc', 'evil-abs', 'evil-rel', 'rootfs-marker'];

    beforeAll(() => {
      rootfs = fs.mkdtempSync(path.join(work, 'rootfs-'));
      fs.mkdirSync(path.join(rootfs, 'bin'));
      fs.mkdirSync(path.join(rootfs, 'etc'));
      fs.copyFileSync('/usr/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
      fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
      for (const applet of ['sh', 'ls', 'cat', 'echo', 'ln', 'readlink', 'mkdir', 'sort']) {
        fs.symlinkSync('busybox', path.join(rootfs, 'bin', applet));
      }
      fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), PASSWD);
      fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'rootfsgroup:x:0:\n');
      fs.writeFileSync(path.join(rootfs, 'rootfs-marker'), 'marker\n');
      fs.symlinkSync('/../../../../etc/passwd', path.join(rootfs, 'evil-abs'));
      fs.symlinkSync('../../../../../../../etc/passwd', path.join(rootfs, 'evil-rel'));
    });

    const env = { ...BASE_ENV, PATH: '/bin' };

    it('symlinks and .. chains read the rootfs\'s own /etc/passwd', async () => {
      const r = await runSandboxed(
        ['sh', '-c', [
          'cat /etc/passwd',
          'cat /evil-abs',
          'cat /evil-rel',
          'cat /../../../../etc/passwd',
          'cat /etc/../../../etc/passwd',
          'ln -s /../../../../etc/passwd /tmp/p && cat /tmp/p',
          'ln -s ../../../../../../etc/passwd /tmp/q && cat /tmp/q',
        ].join(' && ')],
        { cwd: work, env, flags: ['--rootfs', rootfs] },
      );
      expect(r.status, show(r)).toBe(0);
      expect(r.stdout).toBe(PASSWD.repeat(7));
    });

    it('ls / shows only the rootfs\'s entries (plus proc, dev, sys, tmp)', async () => {
      const r = await runSandboxed(['ls', '-a', '/'], { cwd: work, env, flags: ['--rootfs', rootfs] });
      expect(r.status, show(r)).toBe(0);
      const names = r.stdout.split('\n').filter((n) => n !== '' && n !== '.' && n !== '..');
      const extra = names.filter((n) => !ENTRIES.includes(n));
      expect(extra.filter((n) => !['proc', 'dev', 'sys', 'tmp'].includes(n))).toEqual([]);
      for (const e of ENTRIES) expect(names).toContain(e);
    });
  });
});

describe('the sandbox\'s init shows nothing of the host', () => {
  it('pid 1 is tsvisor-init: its command line names no host path or pid', async () => {
    const r = await runSandboxed(['sh', '-c', 'tr "\\0" " " < /proc/1/cmdline; echo; grep ^Name: /proc/1/status'], { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('tsvisor-init \nName:\ttsvisor-init\n');
  });
});

describe('writes stay in the throwaway layer', () => {
  it('a file written to / is gone after exit, and the host\'s / is unchanged', async () => {
    const marker = `/tsvisor-marker-${uniq()}`;
    const before = fs.readdirSync('/').sort();
    expect(fs.existsSync(marker)).toBe(false);
    const r = await runSandboxed(['sh', '-c', `echo x > ${marker} && cat ${marker}`], { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('x\n');
    expect(fs.existsSync(marker)).toBe(false);
    expect(fs.readdirSync('/').sort()).toEqual(before);
  });

  it('writing /etc/hostname inside does not change the host\'s', async () => {
    const before = fs.readFileSync('/etc/hostname', 'utf8');
    const beforeStat = fs.statSync('/etc/hostname');
    const name = `sandboxed-${uniq()}`;
    const r = await runSandboxed(['sh', '-c', `echo ${name} > /etc/hostname && cat /etc/hostname`], { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe(`${name}\n`);
    expect(fs.readFileSync('/etc/hostname', 'utf8')).toBe(before);
    const after = fs.statSync('/etc/hostname');
    expect([after.ino, after.size, after.mtimeMs]).toEqual([beforeStat.ino, beforeStat.size, beforeStat.mtimeMs]);
  });

  it('a file written in the cwd is not left in the host directory', async () => {
    const name = `written-${uniq()}`;
    const r = await runSandboxed(['sh', '-c', `echo y > ${name} && cat ${name}`], { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('y\n');
    expect(fs.existsSync(path.join(work, name))).toBe(false);
  });
});

describe('the sandbox dies with its sentry or its gofer', () => {
  let started: ChildProcess | null = null;
  let tracked: HostProcess[] = [];
  let stateDirs: string[] = [];

  afterEach(() => {
    // Clean up whatever a failing case left behind (by pid and exact cmdline only).
    if (started && started.exitCode === null && started.signalCode === null) started.kill('SIGKILL');
    for (const p of tracked) if (stillRunning(p)) process.kill(p.pid, 'SIGKILL');
    for (const d of stateDirs) {
      const mounted = fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(` ${d}`);
      if (!mounted) fs.rmSync(d, { recursive: true, force: true });
    }
    started = null;
    tracked = [];
    stateDirs = [];
  });

  interface Running {
    readonly child: ChildProcess;
    readonly sleeps: HostProcess[];
    readonly gofer: HostProcess;
    readonly all: HostProcess[];
    readonly mark: string;
    readonly stderr: () => string;
    readonly exited: Promise<{ status: number | null; signal: NodeJS.Signals | null }>;
  }

  async function startSleeps(): Promise<Running> {
    const base = 900_000 + Math.floor(Math.random() * 90_000) * 3;
    const durations = [base, base + 1, base + 2].map(String);
    const mark = uniq();
    const child = spawnSandboxed(
      ['sh', '-c', `sleep ${durations[0]} & sleep ${durations[1]} & exec sleep ${durations[2]}`],
      { cwd: work, env: { ...BASE_ENV, [MARK]: mark } },
    );
    started = child;
    let err = '';
    child.stderr?.on('data', (b: Buffer) => { err += b.toString('utf8'); });
    child.stdout?.resume();
    const exited = new Promise<{ status: number | null; signal: NodeJS.Signals | null }>((resolve) => {
      child.on('close', (status, signal) => resolve({ status, signal }));
    });
    const isSleep = (p: HostProcess): boolean =>
      p.cmdline.length === 2 && path.basename(p.cmdline[0]!) === 'sleep' && durations.includes(p.cmdline[1]!);
    let sleeps: HostProcess[] = [];
    const up = await waitFor(() => {
      sleeps = listProcesses().filter(isSleep);
      return sleeps.length === 3;
    }, 60_000);
    const all = descendantsOf(child.pid!);
    tracked = [...all];
    expect(up, `the three sleeps never all ran; tsvisor stderr:\n${err}`).toBe(true);
    const gofer = all.find((p) => p.cmdline.some((a) => a.endsWith('build/Release/tsvisor-gofer')));
    expect(gofer, `no gofer among ${JSON.stringify(all.map((p) => p.cmdline.join(' ')))}`).toBeDefined();
    for (const a of gofer!.cmdline) {
      const m = /^(\/tmp\/tsvisor-[^/]+)\/merged$/.exec(a);
      if (m) stateDirs.push(m[1]!);
    }
    for (const s of sleeps) expect(all.map((p) => p.pid)).toContain(s.pid);
    return { child, sleeps, gofer: gofer!, all, mark, stderr: () => err, exited };
  }

  function survivors(run: Running): HostProcess[] {
    const byPid = new Map<number, HostProcess>();
    for (const p of run.all) if (stillRunning(p)) byPid.set(p.pid, p);
    for (const p of processesWithEnv(MARK, run.mark)) byPid.set(p.pid, p);
    return [...byPid.values()];
  }

  it('kill -9 of the sentry (the tsvisor process) kills every sandboxed process and the gofer', async () => {
    const run = await startSleeps();
    process.kill(run.child.pid!, 'SIGKILL');
    await run.exited;
    await waitFor(() => survivors(run).length === 0, 10_000);
    const left = survivors(run).map((p) => `${p.pid} ${p.cmdline.join(' ')}`);
    expect(left).toEqual([]);
    expect(stillRunning(run.gofer)).toBe(false);
  });

  it('kill -9 of the gofer kills every sandboxed process, and tsvisor exits non-zero with a message', async () => {
    const run = await startSleeps();
    process.kill(run.gofer.pid, 'SIGKILL');
    const exitedInTime = await Promise.race([
      run.exited.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 20_000)),
    ]);
    expect(exitedInTime, `tsvisor still running 20 s after its gofer was killed; stderr:\n${run.stderr()}`).toBe(true);
    const { status, signal } = await run.exited;
    expect(signal).toBeNull();
    expect(status).not.toBe(0);
    expect(run.stderr()).toMatch(/gofer/i);
    await waitFor(() => survivors(run).length === 0, 10_000);
    expect(survivors(run).map((p) => `${p.pid} ${p.cmdline.join(' ')}`)).toEqual([]);
  });
});

describe('bad command lines', () => {
  async function expectNothingLeft(mark: string): Promise<void> {
    await waitFor(() => processesWithEnv(MARK, mark).length === 0, 10_000);
    expect(processesWithEnv(MARK, mark).map((p) => `${p.pid} ${p.cmdline.join(' ')}`)).toEqual([]);
  }

  const CASES: ReadonlyArray<readonly [string, readonly string[], RegExp]> = [
    ['no command', doArgs([]), /command/i],
    ['no command after --', doArgs(['--']), /command/i],
    ['--network bogus', doArgs(['--network', 'bogus', '--', 'true']), /network/],
    ['--rootfs /nonexistent', doArgs(['--rootfs', '/nonexistent-tsvisor-rootfs', '--', 'true']), /nonexistent-tsvisor-rootfs/],
    ['an unknown option', doArgs(['--no-such-option', '--', 'true']), /no-such-option/],
  ];

  for (const [name, args, message] of CASES) {
    it(`${name}: exit 2 and a message`, async () => {
      const mark = uniq();
      const r = await runCli(args, { cwd: work, env: { ...BASE_ENV, [MARK]: mark } });
      expect(r.status, show(r)).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|    at /);
      await expectNothingLeft(mark);
    });
  }

  it('a command that does not exist in the sandbox: exit 127 and a message', async () => {
    const mark = uniq();
    const cmd = `no-such-command-${mark}`;
    const r = await runCli(doArgs(['--', cmd, 'arg']), { cwd: work, env: { ...BASE_ENV, [MARK]: mark } });
    expect(r.status, show(r)).toBe(127);
    expect(r.stderr).toContain(cmd);
    expect(r.stderr).not.toMatch(/internal error|    at /);
    await expectNothingLeft(mark);
  });

  it('a command that exists on the host but not in --rootfs: exit 127 and a message', async () => {
    const mark = uniq();
    const rootfs = fs.mkdtempSync(path.join(work, 'emptyroot-'));
    const r = await runCli(doArgs(['--rootfs', rootfs, '--', '/usr/bin/env']), { cwd: work, env: { ...BASE_ENV, [MARK]: mark } });
    expect(r.status, show(r)).toBe(127);
    expect(r.stderr).toContain('/usr/bin/env');
    await expectNothingLeft(mark);
  });
});
