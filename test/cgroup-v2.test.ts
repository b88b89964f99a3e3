// cgroup v2, as on a unified host. This machine is hybrid (v1 controllers,
// an empty cgroup2 at /sys/fs/cgroup/unified), so each tsvisor command here
// runs in a private mount namespace of its own where /sys/fs/cgroup is that
// cgroup2 hierarchy: tsvisor then takes the host for a unified one, as runc
// would, and the machine's own mounts are not touched. The tsvisor/ cgroups
// it makes there are its own. Its root hands no controller down but
// hugetlb, so what is checked is what v2 gives every cgroup (membership,
// cgroup.freeze, removal) and the clear refusal of a limit whose controller
// the root does not hand down; the limits themselves (memory.max, pids.max,
// cpu.weight, cpu.max) cannot be checked on this machine, and the cpu
// conversions, which runc and crun share, are checked as functions.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { cpuMaxText, cpuWeightOfShares } from '../cli/oci/cgroups.js';
import { makeBundle, makeBusyboxRootfs } from './helpers/busybox-rootfs.js';
import { CLI, sleep, waitFor } from './helpers/sandbox.js';

const UNIFIED = '/sys/fs/cgroup/unified';
const tmp = fs.mkdtempSync('/var/tmp/tsvisor-cgroup-v2-');
const stateRoot = path.join(tmp, 'state');
let seq = 0;

/** Runs a command with /sys/fs/cgroup as the cgroup2 hierarchy, in a mount namespace of its own. */
function inUnified(argv: readonly string[], stdio: 'pipe' | number = 'pipe'): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount -t cgroup2 none /sys/fs/cgroup && exec "$@"', 'sh', ...argv], {
    encoding: 'utf8', timeout: 90_000, ...(stdio === 'pipe' ? {} : { stdio: ['ignore', stdio, stdio] }),
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

function tsvisor(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return inUnified([process.execPath, CLI, '--root', stateRoot, ...args]);
}

function tsvisorDo(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  return inUnified([process.execPath, CLI, 'do', ...args]);
}

/** The host path of the v2 cgroup tsvisor makes for container id. */
function containerCgroup(id: string): string {
  return path.join(UNIFIED, 'tsvisor', `oci-${id}`);
}

/** The cgroups in tsvisor's v2 folder (none when it is not there yet). */
function cgroupsOfTsvisor(): string[] {
  const parent = path.join(UNIFIED, 'tsvisor');
  return fs.existsSync(parent) ? fs.readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name).sort() : [];
}

afterAll(() => {
  for (const id of fs.existsSync(stateRoot) ? fs.readdirSync(stateRoot).filter((n) => !n.startsWith('@')) : []) tsvisor('delete', '--force', id);
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Config {
  process: { args: string[]; terminal: boolean };
  root: { path: string; readonly: boolean };
  linux: { resources?: { cpu?: { shares?: number; quota?: number; period?: number } } };
}

/** A bundle whose program counts in /count, on its own busybox rootfs (written in place). */
function counterBundle(edit: (c: Config) => void = () => {}): { dir: string; count: string } {
  const dir = path.join(tmp, `bundle-${++seq}`);
  makeBusyboxRootfs(path.join(dir, 'rootfs'));
  makeBundle<Config>(CLI, dir, 'rootfs', (c) => {
    c.root.readonly = false;
    c.process.args = ['/bin/sh', '-c', 'i=0; while :; do i=$((i+1)); echo $i > /count; usleep 20000; done'];
    edit(c);
  });
  return { dir, count: path.join(dir, 'rootfs', 'count') };
}

function create(dir: string, id: string): { status: number | null; log: string } {
  // create leaves its stdio to the container's daemon: a file, not a pipe that would stay open.
  const out = path.join(tmp, `${id}.out`);
  const fd = fs.openSync(out, 'w');
  try {
    const r = inUnified([process.execPath, CLI, '--root', stateRoot, 'create', '--bundle', dir, id], fd);
    return { status: r.status, log: fs.readFileSync(out, 'utf8') };
  } finally {
    fs.closeSync(fd);
  }
}

function readCount(file: string): number {
  try {
    return Number(fs.readFileSync(file, 'utf8').trim()) || 0;
  } catch {
    return 0;
  }
}

function status(id: string): string {
  const r = tsvisor('state', id);
  expect(r.status, r.stderr).toBe(0);
  return (JSON.parse(r.stdout) as { status: string }).status;
}

describe('cgroup v2: tsvisor do', () => {
  it('runs a program, with no default pids limit where the root hands no pids controller down', () => {
    const r = tsvisorDo('--', '/bin/echo', 'hello from v2');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('hello from v2\n');
  });

  it('refuses --memory and --pids-limit, naming the controller and the file that would hand it down', () => {
    const before = cgroupsOfTsvisor();
    for (const [flag, controller] of [['--memory=64m', 'memory'], ['--pids-limit=64', 'pids']] as const) {
      const [option, value] = flag.split('=');
      const r = tsvisorDo(option!, value!, '--', '/bin/true');
      expect(r.status).toBe(125);
      expect(r.stderr).toContain(`${option} needs the ${controller} controller, which this host's cgroup v2 root does not hand to its children (/sys/fs/cgroup/cgroup.subtree_control)`);
    }
    expect(cgroupsOfTsvisor()).toEqual(before);
  });
});

describe('cgroup v2: an OCI container', () => {
  it('lives in its one cgroup, which cgroup.freeze pauses and resumes, and delete removes', async () => {
    const id = `v2-${process.pid}`;
    const { dir, count } = counterBundle();
    const c = create(dir, id);
    expect(c.status, c.log).toBe(0);
    const cg = containerCgroup(id);
    expect(fs.existsSync(path.join(cg, 'cgroup.freeze'))).toBe(true);
    expect(tsvisor('start', id).status).toBe(0);
    expect(await waitFor(() => readCount(count) > 2, 20_000)).toBe(true);
    // Every process `ps` lists is in the container's cgroup, or has ended
    // since (the loop's usleep lives 20 ms); the shell stays.
    const ps = tsvisor('ps', '--format', 'json', id);
    expect(ps.status, ps.stderr).toBe(0);
    const pids = JSON.parse(ps.stdout) as number[];
    const members = fs.readFileSync(path.join(cg, 'cgroup.procs'), 'utf8').trim().split('\n').map(Number);
    const inCgroup = pids.filter((pid) => members.includes(pid));
    expect(inCgroup.length).toBeGreaterThan(0);
    for (const pid of pids.filter((p) => !members.includes(p))) expect(fs.existsSync(`/proc/${pid}`), `pid ${pid}`).toBe(false);

    expect(tsvisor('pause', id).status).toBe(0);
    expect(status(id)).toBe('paused');
    expect(fs.readFileSync(path.join(cg, 'cgroup.events'), 'utf8')).toMatch(/^frozen 1$/m);
    const stats = tsvisor('events', '--stats', id);
    expect((JSON.parse(stats.stdout) as { data: { freezer: string } }).data.freezer).toBe('FROZEN');
    const paused = readCount(count);
    await sleep(300);
    expect(readCount(count)).toBe(paused);

    expect(tsvisor('resume', id).status).toBe(0);
    expect(status(id)).toBe('running');
    expect(fs.readFileSync(path.join(cg, 'cgroup.events'), 'utf8')).toMatch(/^frozen 0$/m);
    expect(await waitFor(() => readCount(count) > paused + 2, 20_000)).toBe(true);

    const d = tsvisor('delete', '--force', id);
    expect(d.status, d.stderr).toBe(0);
    expect(fs.existsSync(cg)).toBe(false);
    expect(fs.existsSync(path.join(stateRoot, id))).toBe(false);
  });

  it('refuses CPU limits when the root hands no cpu controller down, naming the field, and leaves nothing', () => {
    const id = `v2-cpu-${process.pid}`;
    const { dir } = counterBundle((c) => { c.linux.resources = { cpu: { quota: 50_000, period: 100_000 } }; });
    const c = create(dir, id);
    expect(c.status).not.toBe(0);
    expect(c.log).toContain("linux.resources.cpu needs the cpu controller, which this host's cgroup v2 root does not hand to its children");
    expect(fs.existsSync(containerCgroup(id))).toBe(false);
    expect(fs.existsSync(path.join(stateRoot, id))).toBe(false);
  });
});

describe('cgroup v2: the CPU settings, as runc and crun convert them', () => {
  it('maps cpu.shares onto cpu.weight: [2, 262144] onto [1, 10000], in order, 1024 to 39', () => {
    expect(cpuWeightOfShares(2)).toBe(1);
    expect(cpuWeightOfShares(262144)).toBe(10000);
    expect(cpuWeightOfShares(1024)).toBe(39);
    fc.assert(fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.integer({ min: 1, max: 1 << 20 }), (a, b) => {
      const [wa, wb] = [cpuWeightOfShares(a), cpuWeightOfShares(b)];
      expect(wa).toBeGreaterThanOrEqual(1);
      expect(wa).toBeLessThanOrEqual(10000);
      if (a <= b) expect(wa).toBeLessThanOrEqual(wb);
    }));
  });

  it('writes cpu.max as QUOTA PERIOD, keeping what is not given and "max" for no quota', () => {
    expect(cpuMaxText('max 100000\n', { quota: 50_000 })).toBe('50000 100000');
    expect(cpuMaxText('50000 100000\n', { period: 250_000 })).toBe('50000 250000');
    expect(cpuMaxText('50000 100000\n', { quota: -1 })).toBe('max 100000');
    expect(cpuMaxText('max 100000\n', { quota: 20_000, period: 40_000 })).toBe('20000 40000');
  });
});
