// tsvisor as the OCI runtime of real clients (issue 6): Debian's podman
// (conmon), docker.io (dockerd and the containerd shim) and containerd
// (`ctr run --runc-binary`), each set up as /work/shared/CLIENTS.md says:
// all state under one temporary folder, daemons started here and stopped by
// pid, a busybox image made from busybox-static. Each client runs a busybox
// container that prints and exits with a chosen status, one with a
// terminal, and one detached that it execs into (with and without a
// terminal), lists the processes of, pauses, resumes, stops and removes;
// then nothing of tsvisor's may be left: no process, no cgroup under
// <controller>/tsvisor/, no mount, no state folder. No mocks: the clients
// call bin/tsvisor-runtime (through a logging wrapper, below), which runs the
// built CLI.
//
// A describe is skipped only when its client is not installed (.ci/run
// installs them all).
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PROJECT_ROOT } from './helpers/sandbox.js';

const RUNTIME = path.join(PROJECT_ROOT, 'bin', 'tsvisor-runtime');
const BIN = {
  podman: '/usr/bin/podman',
  conmon: '/usr/bin/conmon',
  containerd: '/usr/bin/containerd',
  ctr: '/usr/bin/ctr',
  shim: '/usr/bin/containerd-shim-runc-v2',
  dockerd: '/usr/sbin/dockerd',
  // Debian's client, not whatever else is first on PATH.
  docker: '/usr/bin/docker',
};
const has = (...bins: string[]): boolean => bins.every((b) => fs.existsSync(b));
const missing = (...bins: string[]): string => bins.filter((b) => !fs.existsSync(b)).join(', ');

const T = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-clients-'));
/** The runtime path the clients get: logs its argv, then execs bin/tsvisor-runtime. */
const WRAPPER = path.join(T, 'tsvisor');
const ARGV_LOG = path.join(T, 'runtime-argv.log');
/** The wrapper's default --root; a client's own --root, later on the line, wins. */
const DEFAULT_ROOT = path.join(T, 'tsvisor-state');
const IMAGE = 'localhost/busybox:local';
const CMD_TIMEOUT = 120_000;
const LONG = 600_000;
/** The detached container's program: ends with 7 on SIGTERM, so a stop's status is checked too. */
const LOOP = 'echo started; trap "echo got TERM; exit 7" TERM; while true; do sleep 0.2; done';

/** Top-level folders the clients make for themselves (hardcoded paths); removed at the end if they were not there before and are empty. */
const CLIENT_DIRS = ['/run/containerd/s', '/run/containerd/fifo', '/run/containerd/runc', '/run/containerd', '/run/docker/plugins', '/run/docker'];
const preexisting = new Set(CLIENT_DIRS.filter((d) => fs.existsSync(d)));

interface Result { status: number | null; stdout: string; stderr: string }

function sh(file: string, args: readonly string[], env: Readonly<Record<string, string>> = {}, timeout = CMD_TIMEOUT): Result {
  const r = spawnSync(file, [...args], { encoding: 'utf8', timeout, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  return { status: r.status, stdout: r.stdout ?? '', stderr: (r.stderr ?? '') + (r.error ? `\n${r.error.message}` : '') };
}

function ok(r: Result, what: string): string {
  expect(r.status, `${what}: ${r.stderr}${r.stdout}`).toBe(0);
  return r.stdout;
}

const quote = (s: string): string => `'${s.replace(/'/g, `'\\''`)}'`;

/**
 * Runs a client command on a terminal of its own (util-linux `script`), as
 * `docker run -t` from a shell would be; the status is the command's.
 */
function onTty(file: string, args: readonly string[], env: Readonly<Record<string, string>> = {}): Result {
  return sh('script', ['-qec', [file, ...args].map(quote).join(' '), '/dev/null'], env);
}

// ---------------------------------------------------------------------------
// What tsvisor leaves, and the check that it left nothing

/** Every container (its id and root) the clients created through the wrapper, from its log. */
function createdContainers(): { id: string; root: string }[] {
  if (!fs.existsSync(ARGV_LOG)) return [];
  const out: { id: string; root: string }[] = [];
  for (const line of fs.readFileSync(ARGV_LOG, 'utf8').split('\n')) {
    if (line === '') continue;
    // printf '%s\0' ends each argument with a NUL: the last field is empty.
    const args = line.split('\0').slice(0, -1);
    let root = DEFAULT_ROOT;
    let i = 0;
    for (; i < args.length && args[i]!.startsWith('-'); i++) {
      const a = args[i]!;
      if (a === '--root' || a === '-root') root = args[++i]!;
      else if (a.startsWith('--root=')) root = a.slice('--root='.length);
      else if (['--log', '-log', '--log-format', '-log-format'].includes(a)) i++;
    }
    if (args[i] === 'create' || args[i] === 'run') out.push({ id: args[args.length - 1]!, root: path.resolve(root) });
  }
  return out;
}

interface Seen {
  /** pid and start time of each daemon (the container's pid) and sandbox init. */
  readonly procs: Map<number, string>;
  readonly cgroups: Set<string>;
  /** The sandboxes' own temporary folders (their overlay's mount points). */
  readonly tmpDirs: Set<string>;
}

function startTimeOf(pid: number): string | undefined {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    const rest = s.slice(s.lastIndexOf(')') + 2).split(' ');
    return rest[0] === 'Z' ? undefined : rest[19];
  } catch {
    return undefined;
  }
}

/**
 * Watches the state roots while the clients run: every record's daemon and
 * init pids, cgroups and the gofer's temporary folder, so that the end can
 * check that they are gone, even for containers that lived one second.
 */
class Watcher {
  readonly seen: Seen = { procs: new Map(), cgroups: new Set(), tmpDirs: new Set() };
  private readonly timer: NodeJS.Timeout;

  constructor() {
    this.timer = setInterval(() => this.scan(), 40);
  }

  scan(): void {
    for (const { id, root } of createdContainers()) {
      let rec: { sandboxPid?: number; initPid?: number; cgroups?: Record<string, string> };
      try {
        rec = JSON.parse(fs.readFileSync(path.join(root, id, 'state.json'), 'utf8')) as typeof rec;
      } catch {
        continue;
      }
      for (const pid of [rec.sandboxPid, rec.initPid]) {
        const st = pid === undefined ? undefined : startTimeOf(pid);
        if (pid !== undefined && st !== undefined) this.seen.procs.set(pid, st);
      }
      for (const dir of Object.values(rec.cgroups ?? {})) this.seen.cgroups.add(dir);
      if (rec.sandboxPid !== undefined) {
        for (const child of childrenOf(rec.sandboxPid)) {
          const m = /\/tmp\/tsvisor-[A-Za-z0-9]+/.exec(cmdline(child));
          if (m) this.seen.tmpDirs.add(m[0]);
        }
      }
    }
  }

  stop(): void {
    clearInterval(this.timer);
    this.scan();
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function childrenOf(pid: number): number[] {
  try {
    return fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim().split(/\s+/).filter((s) => s !== '').map(Number);
  } catch {
    return [];
  }
}

async function until(what: string, cond: () => boolean, timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** What of tsvisor's is still there, for the containers created so far; [] when nothing. */
function leftovers(w: Watcher): string[] {
  w.scan();
  const left: string[] = [];
  const containers = createdContainers();
  for (const { id, root } of containers) {
    if (fs.existsSync(path.join(root, id))) left.push(`state folder ${path.join(root, id)}`);
    if (fs.existsSync(path.join(root, '@locks', id))) left.push(`lock ${path.join(root, '@locks', id)}`);
    const sock = path.join(root, '@sockets', createHash('sha256').update(id).digest('hex').slice(0, 24));
    if (fs.existsSync(sock)) left.push(`control socket ${sock}`);
    for (const c of ['freezer', 'cpu', 'memory', 'pids']) {
      const dir = `/sys/fs/cgroup/${c}/tsvisor/oci-${id}`;
      if (fs.existsSync(dir)) left.push(`cgroup ${dir}`);
    }
  }
  for (const dir of w.seen.cgroups) if (fs.existsSync(dir)) left.push(`cgroup ${dir}`);
  for (const [pid, st] of w.seen.procs) if (startTimeOf(pid) === st) left.push(`process ${pid}: ${cmdline(pid)}`);
  for (const dir of w.seen.tmpDirs) if (fs.existsSync(dir)) left.push(`sandbox folder ${dir}`);
  // A sandbox's folder names its owner (the daemon): one still naming a
  // daemon seen here was left behind, whether or not a scan caught it live.
  for (const name of fs.readdirSync('/tmp')) {
    if (!name.startsWith('tsvisor-')) continue;
    try {
      const owner = Number(fs.readFileSync(path.join('/tmp', name, 'owner'), 'latin1'));
      if (w.seen.procs.has(owner) && !w.seen.tmpDirs.has(path.join('/tmp', name))) left.push(`sandbox folder /tmp/${name}`);
    } catch { /* not a sandbox's, or gone */ }
  }
  // tsvisor's own processes for these containers: the daemons and exec waiters name the id.
  const ids = new Set(containers.map((c) => c.id));
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const cl = cmdline(Number(name));
    if (!cl.includes('__oci-')) continue;
    if (cl.split(' ').some((a) => ids.has(a)) && startTimeOf(Number(name)) !== undefined) left.push(`process ${name}: ${cl}`);
  }
  const mounts = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')
    .filter((l) => [...w.seen.tmpDirs].some((d) => l.includes(d)) || [...new Set(containers.map((c) => c.root))].some((r) => l.includes(` ${r}`)));
  left.push(...mounts.map((m) => `mount ${m}`));
  return left;
}

/** Waits (a stopped container's sandbox takes a moment to go) until nothing is left, and says what stays. */
async function expectNothingLeft(w: Watcher): Promise<void> {
  try {
    await until('tsvisor to leave nothing behind', () => leftovers(w).length === 0, 30_000);
  } catch {
    // The assertion below names what is left.
  }
  expect(leftovers(w)).toEqual([]);
}

// ---------------------------------------------------------------------------
/** The host's own network settings a client's hook could change by entering the wrong namespace. */
function hostNetworkSettings(): Record<string, string> {
  const out: Record<string, string> = {};
  for (const f of ['ipv6/conf/all/disable_ipv6', 'ipv6/conf/lo/disable_ipv6', 'ipv4/ip_forward']) {
    out[f] = fs.readFileSync(`/proc/sys/net/${f}`, 'latin1').trim();
  }
  return out;
}

// Daemons we start (containerd, dockerd): in a session of their own, stopped by pid.

interface Daemon { readonly name: string; readonly child: ChildProcess; readonly log: string }
const daemons: Daemon[] = [];

function startDaemon(name: string, file: string, args: readonly string[]): Daemon {
  const log = path.join(T, `${name}.log`);
  const fd = fs.openSync(log, 'a');
  const child = spawn(file, [...args], { detached: true, stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  const d = { name, child, log };
  daemons.push(d);
  return d;
}

function exited(c: ChildProcess): boolean {
  return c.exitCode !== null || c.signalCode !== null;
}

async function stopDaemon(d: Daemon): Promise<void> {
  if (d.child.pid === undefined || exited(d.child)) return;
  d.child.kill('SIGTERM');
  try {
    await until(`${d.name} to exit`, () => exited(d.child), 60_000);
  } catch {
    d.child.kill('SIGKILL');
    await until(`${d.name} to die`, () => exited(d.child), 10_000);
  }
}

async function waitForSocket(d: Daemon, sock: string): Promise<void> {
  // Generous: two noisy vCPUs, and dockerd's first start makes its data root.
  await until(`${d.name} to listen on ${sock}`, () => {
    if (exited(d.child)) throw new Error(`${d.name} exited: ${fs.readFileSync(d.log, 'utf8').slice(-2000)}`);
    return fs.existsSync(sock);
  }, 120_000);
}

let containerdSock: string | undefined;

/** One containerd for ctr and dockerd, its whole state under T (CRI off). */
async function containerd(): Promise<string> {
  if (containerdSock !== undefined) return containerdSock;
  const dir = path.join(T, 'containerd');
  fs.mkdirSync(dir, { recursive: true });
  const sock = path.join(dir, 'containerd.sock');
  const config = path.join(dir, 'config.toml');
  fs.writeFileSync(config, [
    'version = 2',
    `root = "${dir}/root"`,
    `state = "${dir}/state"`,
    'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
    '[grpc]',
    `  address = "${sock}"`,
    '[ttrpc]',
    `  address = "${sock}.ttrpc"`,
    // Its default is /opt/containerd.
    '[plugins."io.containerd.internal.v1.opt"]',
    `  path = "${dir}/opt"`,
    '',
  ].join('\n'));
  const d = startDaemon('containerd', BIN.containerd, ['--config', config]);
  await waitForSocket(d, sock);
  containerdSock = sock;
  return sock;
}

// ---------------------------------------------------------------------------
// The busybox image, from busybox-static

const BUSYBOX_TAR = path.join(T, 'busybox.tar');
/** Watches every client's containers from the start to the end of the file. */
let w: Watcher;

/** A docker-style image config and an OCI image layout of the busybox tar, for `ctr images import`. */
function ociArchive(): string {
  const dir = path.join(T, 'oci');
  const blobs = path.join(dir, 'blobs', 'sha256');
  fs.mkdirSync(blobs, { recursive: true });
  const blob = (data: Buffer): { digest: string; size: number } => {
    const hex = createHash('sha256').update(data).digest('hex');
    fs.writeFileSync(path.join(blobs, hex), data);
    return { digest: `sha256:${hex}`, size: data.length };
  };
  const layer = blob(fs.readFileSync(BUSYBOX_TAR));
  const config = blob(Buffer.from(JSON.stringify({
    architecture: 'amd64', os: 'linux',
    config: { Cmd: ['/bin/sh'], Env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin'] },
    rootfs: { type: 'layers', diff_ids: [layer.digest] },
  })));
  const manifest = blob(Buffer.from(JSON.stringify({
    schemaVersion: 2, mediaType: 'application/vnd.oci.image.manifest.v1+json',
    config: { mediaType: 'application/vnd.oci.image.config.v1+json', ...config },
    layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar', ...layer }],
  })));
  fs.writeFileSync(path.join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  fs.writeFileSync(path.join(dir, 'index.json'), JSON.stringify({
    schemaVersion: 2,
    manifests: [{ mediaType: 'application/vnd.oci.image.manifest.v1+json', ...manifest, annotations: { 'org.opencontainers.image.ref.name': 'local' } }],
  }));
  const out = path.join(T, 'busybox-oci.tar');
  ok(sh('tar', ['-C', dir, '-cf', out, 'oci-layout', 'index.json', 'blobs']), 'tar of the OCI layout');
  return out;
}

beforeAll(() => {
  const rootfs = path.join(T, 'rootfs');
  for (const d of ['bin', 'dev', 'proc', 'sys', 'etc', 'tmp', 'root']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  ok(sh('chroot', [rootfs, '/bin/busybox', '--install', '-s', '/bin']), 'busybox --install');
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\n');
  fs.writeFileSync(path.join(rootfs, 'etc', 'group'), 'root:x:0:\n');
  ok(sh('tar', ['-C', rootfs, '-cf', BUSYBOX_TAR, '.']), 'tar of the rootfs');
  w = new Watcher();
  // NUL-separated argv, one call a line: what each client sent, for the checks and for debugging.
  fs.writeFileSync(WRAPPER, [
    '#!/bin/sh',
    `printf '%s\\0' "$@" | tr '\\n' ' ' >> ${quote(ARGV_LOG)}; echo >> ${quote(ARGV_LOG)}`,
    `exec ${quote(RUNTIME)} --root ${quote(DEFAULT_ROOT)} "$@"`,
    '',
  ].join('\n'), { mode: 0o755 });
}, LONG);

afterAll(async () => {
  w?.stop();
  for (const d of [...daemons].reverse()) await stopDaemon(d);
  // Mounts a client left under T (its own, never tsvisor's: those are checked above) go before T does.
  const mine = fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').map((l) => l.split(' ')[4]).filter((m): m is string => m !== undefined && m.startsWith(T + '/'));
  for (const m of mine.sort((a, b) => b.length - a.length)) sh('umount', ['-l', m]);
  fs.rmSync(T, { recursive: true, force: true });
  // Folders the clients made at fixed host paths: only empty ones, only if they were not there before.
  for (const d of CLIENT_DIRS) {
    if (preexisting.has(d)) continue;
    try {
      fs.rmdirSync(d);
    } catch {
      // Not empty (another user's) or absent.
    }
  }
}, LONG);

// ---------------------------------------------------------------------------
// Podman (conmon, no daemon)

describe.skipIf(!has(BIN.podman, BIN.conmon))(`podman${has(BIN.podman, BIN.conmon) ? '' : ` (skipped: ${missing(BIN.podman, BIN.conmon)} not installed)`}`, () => {
  const dir = path.join(T, 'podman');
  const env = { CONTAINERS_STORAGE_CONF: path.join(dir, 'storage.conf'), CONTAINERS_CONF: path.join(dir, 'containers.conf') };
  const podman = (...args: string[]): Result => sh(BIN.podman, ['--runtime', WRAPPER, ...args], env);

  beforeAll(() => {
    fs.mkdirSync(dir, { recursive: true });
    fs.writeFileSync(env.CONTAINERS_STORAGE_CONF, `[storage]\ndriver = "overlay"\nrunroot = "${dir}/run"\ngraphroot = "${dir}/graph"\n`);
    fs.writeFileSync(env.CONTAINERS_CONF, [
      '[containers]',
      'netns = "none"',
      // This VM's hard nofile limit is 20000; podman's default is 1048576.
      'default_ulimits = ["nofile=20000:20000", "nproc=32768:32768"]',
      '[engine]',
      'cgroup_manager = "cgroupfs"',
      'events_logger = "file"',
      `events_logfile_path = "${dir}/events.log"`,
      `tmp_dir = "${dir}/tmp"`,
      // The runtime's file name: podman then passes --log-format=json.
      `runtime_supports_json = ["${path.basename(WRAPPER)}"]`,
      '',
    ].join('\n'));
    ok(podman('import', '--change', 'CMD ["/bin/sh"]', BUSYBOX_TAR, IMAGE), 'podman import');
  }, LONG);

  afterAll(() => {
    podman('rm', '--force', '--all');
  }, LONG);

  it('runs a container that prints and exits with a chosen status', async () => {
    const r = podman('run', '--rm', IMAGE, 'sh', '-c', 'echo hello from podman; exit 3');
    expect(r.status, r.stderr).toBe(3);
    expect(r.stdout).toBe('hello from podman\n');
    // podman passed --log-format=json (runtime_supports_json) and used tsvisor.
    const log = fs.readFileSync(ARGV_LOG, 'utf8');
    expect(log).toContain('--log-format=json');
    await expectNothingLeft(w);
  });

  it('runs one with a terminal', async () => {
    const r = onTty(BIN.podman, ['--runtime', WRAPPER, 'run', '--rm', '-t', IMAGE, 'sh', '-c', 'tty; echo tty-ok; exit 4'], env);
    expect(r.status, r.stderr + r.stdout).toBe(4);
    expect(r.stdout).toMatch(/\/dev\/pts\/0\r*\n/);
    expect(r.stdout).toContain('tty-ok');
    await expectNothingLeft(w);
  });

  it('runs one detached; exec (with and without a terminal), top, pause, resume, stop, rm', async () => {
    const id = ok(podman('run', '-d', '--name', 'p-detached', IMAGE, 'sh', '-c', LOOP), 'podman run -d').trim();
    await until('started', () => podman('logs', 'p-detached').stdout.includes('started'));

    const e = podman('exec', 'p-detached', 'sh', '-c', 'echo in-exec; exit 5');
    expect(e.status, e.stderr).toBe(5);
    expect(e.stdout).toBe('in-exec\n');
    const et = onTty(BIN.podman, ['--runtime', WRAPPER, 'exec', '-t', 'p-detached', 'sh', '-c', 'tty; exit 6'], env);
    expect(et.status, et.stderr + et.stdout).toBe(6);
    expect(et.stdout).toMatch(/\/dev\/pts\/\d+/);

    // ps(1) descriptors: podman runs ps in the container (its own psgo
    // reads the namespaces of the container's pid, which is tsvisor's
    // daemon on the host: docs/oci.md).
    const top = ok(podman('top', 'p-detached', '-ef'), 'podman top');
    expect(top).toContain('while true');

    ok(podman('pause', 'p-detached'), 'podman pause');
    expect(podman('inspect', '--format', '{{.State.Status}}', 'p-detached').stdout.trim()).toBe('paused');
    expect(fs.readFileSync(`/sys/fs/cgroup/freezer/tsvisor/oci-${id}/freezer.state`, 'latin1').trim()).toBe('FROZEN');
    ok(podman('unpause', 'p-detached'), 'podman unpause');
    expect(podman('inspect', '--format', '{{.State.Status}}', 'p-detached').stdout.trim()).toBe('running');

    ok(podman('stop', '--time', '30', 'p-detached'), 'podman stop');
    expect(podman('inspect', '--format', '{{.State.ExitCode}}', 'p-detached').stdout.trim()).toBe('7');
    expect(podman('logs', 'p-detached').stdout).toBe('started\ngot TERM\n');
    ok(podman('rm', 'p-detached'), 'podman rm');
    await expectNothingLeft(w);
  }, LONG);
});

// ---------------------------------------------------------------------------
// containerd and ctr

describe.skipIf(!has(BIN.containerd, BIN.ctr, BIN.shim))(`containerd (ctr)${has(BIN.containerd, BIN.ctr, BIN.shim) ? '' : ` (skipped: ${missing(BIN.containerd, BIN.ctr, BIN.shim)} not installed)`}`, () => {
  let ctrArgs: string[] = [];
  const ctr = (...args: string[]): Result => sh(BIN.ctr, [...ctrArgs, ...args]);
  const runtimeArgs = (): string[] => ['--runc-binary', WRAPPER, '--runc-root', path.join(T, 'ctr-runc-root'), '--fifo-dir', path.join(T, 'ctr-fifo')];

  beforeAll(async () => {
    const sock = await containerd();
    ctrArgs = ['--address', sock, '--namespace', 'tsvisor-test'];
    ok(ctr('images', 'import', '--base-name', 'localhost/busybox', ociArchive()), 'ctr images import');
  }, LONG);

  it('runs a container that prints and exits with a chosen status', async () => {
    const r = ctr('run', ...runtimeArgs(), '--rm', IMAGE, 'c-run', 'sh', '-c', 'echo hello from ctr; exit 3');
    expect(r.status, r.stderr).toBe(3);
    expect(r.stdout).toBe('hello from ctr\n');
    expect(ctr('containers', 'ls', '-q').stdout.trim()).toBe('');
    await expectNothingLeft(w);
  });

  it('runs one with a terminal', async () => {
    const r = onTty(BIN.ctr, [...ctrArgs, 'run', ...runtimeArgs(), '--rm', '-t', IMAGE, 'c-tty', 'sh', '-c', 'tty; echo tty-ok; exit 4']);
    expect(r.status, r.stderr + r.stdout).toBe(4);
    expect(r.stdout).toMatch(/\/dev\/pts\/0\r*\n/);
    expect(r.stdout).toContain('tty-ok');
    expect(ctr('containers', 'ls', '-q').stdout.trim()).toBe('');
    await expectNothingLeft(w);
  });

  it('runs one detached; exec (with and without a terminal), ps, pause, resume, kill, rm', async () => {
    const id = 'c-detached';
    ok(ctr('run', ...runtimeArgs(), '-d', IMAGE, id, 'sh', '-c', LOOP), 'ctr run -d');
    const status = (): string => ctr('tasks', 'ls').stdout.split('\n').find((l) => l.startsWith(id + ' '))?.trim().split(/\s+/)[2] ?? '';
    expect(status()).toBe('RUNNING');

    const e = ctr('tasks', 'exec', '--exec-id', 'e1', id, 'sh', '-c', 'echo in-exec; exit 5');
    expect(e.status, e.stderr).toBe(5);
    expect(e.stdout).toBe('in-exec\n');
    const et = onTty(BIN.ctr, [...ctrArgs, 'tasks', 'exec', '-t', '--exec-id', 'e2', id, 'sh', '-c', 'tty; exit 6']);
    expect(et.status, et.stderr + et.stdout).toBe(6);
    expect(et.stdout).toMatch(/\/dev\/pts\/\d+/);

    // The shim's ps is `tsvisor ps --format json`: the container's host pids.
    const pids = ok(ctr('tasks', 'ps', id), 'ctr tasks ps').split('\n').slice(1).map((l) => Number(l.trim().split(/\s+/)[0])).filter((n) => n > 0);
    expect(pids.length).toBeGreaterThan(0);
    expect(pids.map(cmdline).join('\n')).toContain('while true');

    ok(ctr('tasks', 'pause', id), 'ctr tasks pause');
    expect(status()).toBe('PAUSED');
    ok(ctr('tasks', 'resume', id), 'ctr tasks resume');
    expect(status()).toBe('RUNNING');

    ok(ctr('tasks', 'kill', id), 'ctr tasks kill');
    await until('stopped', () => status() === 'STOPPED');
    const rm = ctr('tasks', 'rm', id);
    expect(rm.status, rm.stderr).toBe(0);
    // ctr reports the status it got from the shim, which had it from tsvisor's daemon.
    expect(rm.stderr).toContain('exit code 7');
    ok(ctr('containers', 'rm', id), 'ctr containers rm');
    await expectNothingLeft(w);
  }, LONG);
});

// ---------------------------------------------------------------------------
// Docker: dockerd by hand on that containerd

describe.skipIf(!has(BIN.dockerd, BIN.docker, BIN.containerd, BIN.shim))(
  `docker${has(BIN.dockerd, BIN.docker, BIN.containerd, BIN.shim) ? '' : ` (skipped: ${missing(BIN.dockerd, BIN.docker, BIN.containerd, BIN.shim)} not installed)`}`,
  () => {
    const dir = path.join(T, 'docker');
    const sock = path.join(dir, 'docker.sock');
    const env = { DOCKER_HOST: `unix://${sock}`, DOCKER_CONFIG: path.join(dir, 'client') };
    const docker = (...args: string[]): Result => sh(BIN.docker, args, env);
    const RUN = ['--runtime', 'tsvisor', '--network', 'none'];
  
    beforeAll(async () => {
      const containerdSock = await containerd();
      fs.mkdirSync(dir, { recursive: true });
      const config = path.join(dir, 'daemon.json');
      fs.writeFileSync(config, JSON.stringify({
        'data-root': path.join(dir, 'data'), 'exec-root': path.join(dir, 'exec'), pidfile: path.join(dir, 'dockerd.pid'),
        hosts: [`unix://${sock}`], containerd: containerdSock,
        bridge: 'none', iptables: false, ip6tables: false, 'ip-masq': false,
        'storage-driver': 'overlay2', 'exec-opts': ['native.cgroupdriver=cgroupfs'],
      }, null, 2));
      // The runtime goes in with `tsvisor install --docker`, as a user would add it.
      ok(sh(process.execPath, [path.join(PROJECT_ROOT, 'dist', 'bundle', 'main.cjs'), 'install', '--docker', '--daemon-json', config, '--runtime-name', 'tsvisor', '--path', WRAPPER]), 'tsvisor install --docker');
      const d = startDaemon('dockerd', BIN.dockerd, ['--config-file', config]);
      await waitForSocket(d, sock);
      await until('dockerd to answer', () => docker('version').status === 0, 120_000);
      ok(docker('import', '--change', 'CMD ["/bin/sh"]', BUSYBOX_TAR, IMAGE), 'docker import');
    }, LONG);

    afterAll(() => {
      const ids = docker('ps', '-aq').stdout.trim();
      if (ids !== '') docker('rm', '--force', ...ids.split('\n'));
    }, LONG);

    it('runs a container that prints and exits with a chosen status', async () => {
      const hostNet = hostNetworkSettings();
      const r = docker('run', '--rm', ...RUN, IMAGE, 'sh', '-c', 'echo hello from docker; exit 3');
      expect(r.status, r.stderr).toBe(3);
      expect(r.stdout).toBe('hello from docker\n');
      expect(docker('ps', '-aq').stdout.trim()).toBe('');
      await expectNothingLeft(w);
      // Docker's prestart hook sets up the network namespace of the state's
      // pid: the sandbox's, never the host's (it once turned IPv6 off here).
      expect(hostNetworkSettings()).toEqual(hostNet);
    });

    it('leaves a container\'s writes in its layer, where docker diff and docker cp read them', async () => {
      const r = docker('run', '--name', 'd-writes', ...RUN, IMAGE, 'sh', '-c', 'echo written > /written; mkdir /made; rm /bin/ls');
      expect(r.status, r.stderr).toBe(0);
      expect(ok(docker('diff', 'd-writes'), 'docker diff').trim().split('\n')).toEqual(expect.arrayContaining(['A /written', 'A /made', 'D /bin/ls']));
      const copy = path.join(T, 'docker-cp-written');
      ok(docker('cp', 'd-writes:/written', copy), 'docker cp');
      expect(fs.readFileSync(copy, 'utf8')).toBe('written\n');
      ok(docker('rm', 'd-writes'), 'docker rm');
      await expectNothingLeft(w);
    }, LONG);

    it('runs one with a terminal', async () => {
      const r = onTty(BIN.docker, ['run', '--rm', '-t', ...RUN, IMAGE, 'sh', '-c', 'tty; echo tty-ok; exit 4'], env);
      expect(r.status, r.stderr + r.stdout).toBe(4);
      expect(r.stdout).toMatch(/\/dev\/pts\/0\r*\n/);
      expect(r.stdout).toContain('tty-ok');
      await expectNothingLeft(w);
    });

    it('runs one detached; exec (with and without a terminal), top, pause, unpause, stop, rm', async () => {
      const id = ok(docker('run', '-d', '--name', 'd-detached', ...RUN, IMAGE, 'sh', '-c', LOOP), 'docker run -d').trim();
      await until('started', () => docker('logs', 'd-detached').stdout.includes('started'));

      const e = docker('exec', 'd-detached', 'sh', '-c', 'echo in-exec; exit 5');
      expect(e.status, e.stderr).toBe(5);
      expect(e.stdout).toBe('in-exec\n');
      const et = onTty(BIN.docker, ['exec', '-t', 'd-detached', 'sh', '-c', 'tty; exit 6'], env);
      expect(et.status, et.stderr + et.stdout).toBe(6);
      expect(et.stdout).toMatch(/\/dev\/pts\/\d+/);

      // docker top: `tsvisor ps --format json`, then the host's ps on those pids.
      expect(ok(docker('top', 'd-detached'), 'docker top')).toContain('while true');

      ok(docker('pause', 'd-detached'), 'docker pause');
      expect(docker('inspect', '--format', '{{.State.Status}}', 'd-detached').stdout.trim()).toBe('paused');
      expect(fs.readFileSync(`/sys/fs/cgroup/freezer/tsvisor/oci-${id}/freezer.state`, 'latin1').trim()).toBe('FROZEN');
      ok(docker('unpause', 'd-detached'), 'docker unpause');
      expect(docker('inspect', '--format', '{{.State.Status}}', 'd-detached').stdout.trim()).toBe('running');

      ok(docker('stop', '--time', '30', 'd-detached'), 'docker stop');
      expect(docker('inspect', '--format', '{{.State.ExitCode}}', 'd-detached').stdout.trim()).toBe('7');
      expect(docker('logs', 'd-detached').stdout).toBe('started\ngot TERM\n');
      ok(docker('rm', 'd-detached'), 'docker rm');
      await expectNothingLeft(w);
    }, LONG);
  },
);

// ---------------------------------------------------------------------------
// `tsvisor install --docker`, on files of its own (no dockerd needed)

describe('tsvisor install --docker', () => {
  const CLI = path.join(PROJECT_ROOT, 'dist', 'bundle', 'main.cjs');
  const install = (file: string, ...more: string[]): Result => sh(process.execPath, [CLI, 'install', '--docker', '--daemon-json', file, ...more]);

  it('adds the runtime and keeps the rest of the file', () => {
    const file = path.join(T, 'install-keep.json');
    fs.writeFileSync(file, JSON.stringify({ 'data-root': '/x', runtimes: { other: { path: '/usr/bin/other' } }, 'log-level': 'warn' }));
    ok(install(file, '--path', '/opt/tsvisor', '--', '--platform', 'ptrace'), 'install');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({
      'data-root': '/x', 'log-level': 'warn',
      runtimes: { other: { path: '/usr/bin/other' }, tsvisor: { path: '/opt/tsvisor', runtimeArgs: ['--platform', 'ptrace'] } },
    });
    // Again: the same file, not a second entry.
    ok(install(file, '--path', '/opt/tsvisor', '--', '--platform', 'ptrace'), 'install again');
    expect(Object.keys((JSON.parse(fs.readFileSync(file, 'utf8')) as { runtimes: object }).runtimes)).toEqual(['other', 'tsvisor']);
  });

  it('makes a missing file, with bin/tsvisor-runtime by default', () => {
    const file = path.join(T, 'install-new', 'daemon.json');
    ok(install(file), 'install');
    expect(JSON.parse(fs.readFileSync(file, 'utf8'))).toEqual({ runtimes: { tsvisor: { path: RUNTIME } } });
  });

  it('refuses a malformed file with a clear message and leaves it as it was', () => {
    for (const [name, text, msg] of [
      ['bad-json', '{"runtimes": {', 'is not valid JSON'],
      ['not-object', '[1, 2]', 'is not a JSON object'],
      ['bad-runtimes', '{"runtimes": "runc"}', '"runtimes" is not a JSON object'],
    ] as const) {
      const file = path.join(T, `install-${name}.json`);
      fs.writeFileSync(file, text);
      const r = install(file);
      expect(r.status, name).toBe(1);
      expect(r.stderr).toContain(msg);
      expect(r.stderr).toContain(file);
      expect(fs.readFileSync(file, 'utf8')).toBe(text);
      expect(fs.readdirSync(T).filter((f) => f.includes('.tsvisor-'))).toEqual([]);
    }
  });

  it('needs --docker, and knows its flags', () => {
    expect(sh(process.execPath, [CLI, 'install']).status).toBe(2);
    const r = install(path.join(T, 'x.json'), '--bogus');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown argument '--bogus'");
  });
});

describe('afterwards', () => {
  it('has stopped every daemon it started and left nothing of tsvisor\'s', async () => {
    for (const d of [...daemons].reverse()) await stopDaemon(d);
    for (const d of daemons) expect(exited(d.child), d.name).toBe(true);
    w.stop();
    expect(leftovers(w)).toEqual([]);
    // The check above was not vacuous: it saw the clients' containers and their sandboxes.
    if (has(BIN.podman, BIN.conmon) || has(BIN.containerd, BIN.ctr, BIN.shim)) {
      // The checks by container id (state, locks, sockets, cgroups, daemons)
      // are the ones that matter. The sampled pids and cgroups add to them,
      // but are not required to be there: the scan runs on this file's event
      // loop, which the clients' synchronous runs hold up, so on a loaded
      // machine it can miss a short-lived container altogether.
      expect(createdContainers().length).toBeGreaterThan(0);
    }
  }, LONG);
});
