// tsvisor as an OCI runtime, driven the way a client drives runc: the built
// CLI on a busybox bundle made from /bin/busybox and `tsvisor spec`, real
// sandboxes, real signals, a real console socket. Runs once (default
// platform) plus one ptrace run of the exec path.
import { execFileSync, spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeBundle, makeBusyboxRootfs } from './helpers/busybox-rootfs.js';
import { CLI, HELPERS_DIR } from './helpers/sandbox.js';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-oci-life-'));
const root = path.join(tmp, 'state');
const rootfs = path.join(tmp, 'rootfs');
const receiver = path.join(tmp, 'console-receiver');
let seq = 0;

beforeAll(() => {
  makeBusyboxRootfs(rootfs);
  execFileSync('gcc', ['-O2', '-Wall', '-o', receiver, path.join(HELPERS_DIR, 'console-receiver.c')]);
});

afterAll(() => {
  // Whatever a failed test left running goes too.
  for (const id of fs.existsSync(root) ? fs.readdirSync(root).filter((n) => !n.startsWith('@')) : []) tsvisor(['delete', '--force', id]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Result { status: number | null; stdout: string; stderr: string }

function tsvisor(args: string[], opts: { global?: string[]; stdio?: number } = {}): Result {
  // A command that starts a container leaves its stdio to the container: give it a file, not a pipe.
  const r: SpawnSyncReturns<string> = spawnSync(process.execPath, [CLI, '--root', root, ...(opts.global ?? []), ...args], {
    encoding: 'utf8', timeout: 90_000,
    stdio: opts.stdio !== undefined ? ['ignore', opts.stdio, opts.stdio] : ['ignore', 'pipe', 'pipe'],
  });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

interface Config {
  process: { args: string[]; terminal: boolean; cwd: string; env: string[]; consoleSize?: { height: number; width: number } };
  root: { path: string; readonly: boolean };
  hostname: string;
  mounts: unknown[];
}

/** A bundle from `tsvisor spec`, on the shared busybox rootfs, changed by edit. */
function bundle(edit: (c: Config) => void): string {
  return makeBundle(CLI, path.join(tmp, `bundle-${++seq}`), rootfs, edit);
}

function state(id: string): { status: string; pid?: number; id: string; bundle: string } {
  const r = tsvisor(['state', id]);
  expect(r.status, r.stderr).toBe(0);
  return JSON.parse(r.stdout) as { status: string; pid?: number; id: string; bundle: string };
}

async function until(what: string, ok: () => boolean, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

function alive(pid: number): boolean {
  try {
    const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

function cgroupsOf(id: string): string[] {
  return ['freezer', 'cpu'].map((c) => `/sys/fs/cgroup/${c}/tsvisor/oci-${id}`).filter((d) => fs.existsSync(d));
}

/** A container in the background, its stdio in a file; returns that file. */
function createRunning(id: string, dir: string, start = true, global: string[] = []): string {
  const out = path.join(tmp, `${id}.out`);
  const fd = fs.openSync(out, 'w');
  try {
    const r = tsvisor(['create', '--bundle', dir, '--pid-file', path.join(tmp, `${id}.pid`), id], { stdio: fd, global });
    expect(r.status, fs.readFileSync(out, 'utf8')).toBe(0);
  } finally {
    fs.closeSync(fd);
  }
  if (start) expect(tsvisor(['start', id]).status).toBe(0);
  return out;
}

const LOOP = ['sh', '-c', 'echo started; trap "echo got TERM; exit 7" TERM; while true; do sleep 0.1; done'];

describe('tsvisor run', () => {
  it('runs the spec\'s process and exits with its status, leaving no container behind', () => {
    const dir = bundle((c) => { c.process.args = ['sh', '-c', 'echo hello; hostname; exit 3']; c.hostname = 'box'; });
    const out = path.join(tmp, 'run.out');
    const fd = fs.openSync(out, 'w');
    const r = tsvisor(['run', '--bundle', dir, 'r1'], { stdio: fd });
    fs.closeSync(fd);
    expect(r.status).toBe(3);
    expect(fs.readFileSync(out, 'utf8')).toBe('hello\nbox\n');
    expect(fs.existsSync(path.join(root, 'r1'))).toBe(false);
    expect(cgroupsOf('r1')).toEqual([]);
  });

  it('hosts the sandbox in its own process: state, exec and kill reach it from other commands', async () => {
    const dir = bundle((c) => { c.process.args = LOOP; });
    const out = path.join(tmp, 'run-fg.out');
    const fd = fs.openSync(out, 'w');
    const run = spawn(process.execPath, [CLI, '--root', root, 'run', '--bundle', dir, '--pid-file', path.join(tmp, 'r2.pid'), 'r2'], { stdio: ['ignore', fd, fd] });
    fs.closeSync(fd);
    const status = new Promise<number | null>((resolve) => run.on('exit', (code) => resolve(code)));
    await until('the program\'s output', () => fs.readFileSync(out, 'utf8').includes('started'));
    const st = state('r2');
    expect(st.status).toBe('running');
    // No daemon: the container's pid, as clients reap it, is `run` itself.
    expect(st.pid).toBe(run.pid);
    expect(Number(fs.readFileSync(path.join(tmp, 'r2.pid'), 'utf8'))).toBe(run.pid);
    const ex = tsvisor(['exec', 'r2', 'sh', '-c', 'echo from exec; exit 4']);
    expect(ex.status).toBe(4);
    expect(ex.stdout).toBe('from exec\n');
    expect(tsvisor(['kill', 'r2', 'TERM']).status).toBe(0);
    expect(await status).toBe(7);
    expect(fs.readFileSync(out, 'utf8')).toBe('started\ngot TERM\n');
    expect(fs.existsSync(path.join(root, 'r2'))).toBe(false);
    expect(cgroupsOf('r2')).toEqual([]);
  });
});

describe('process.capabilities', () => {
  /** The program's capability sets and ids, as it sees them. */
  function capsOf(edit: (c: Config & { process: { capabilities?: unknown; user?: unknown } }) => void, id: string): string {
    const dir = bundle((c) => {
      c.process.args = ['sh', '-c', 'grep ^Cap /proc/self/status; id -u'];
      edit(c);
    });
    const out = path.join(tmp, `${id}.out`);
    const fd = fs.openSync(out, 'w');
    const r = tsvisor(['run', '--bundle', dir, id], { stdio: fd });
    fs.closeSync(fd);
    expect(r.status, r.stderr).toBe(0);
    return fs.readFileSync(out, 'utf8');
  }

  it('are the program\'s sets: bounding, effective, permitted for root; ambient across a change of user', () => {
    const two = ['CAP_CHOWN', 'CAP_KILL']; // bits 0 and 5
    expect(capsOf((c) => {
      c.process.capabilities = { bounding: two, effective: two, permitted: two, inheritable: [], ambient: [] };
    }, 'caps1')).toBe('CapInh:\t0000000000000000\nCapPrm:\t0000000000000021\nCapEff:\t0000000000000021\nCapBnd:\t0000000000000021\nCapAmb:\t0000000000000000\n0\n');
    const bind = ['CAP_NET_BIND_SERVICE']; // bit 10
    expect(capsOf((c) => {
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.capabilities = { bounding: [...bind, 'CAP_KILL'], effective: bind, permitted: bind, inheritable: bind, ambient: bind };
    }, 'caps2')).toBe('CapInh:\t0000000000000400\nCapPrm:\t0000000000000400\nCapEff:\t0000000000000400\nCapBnd:\t0000000000000420\nCapAmb:\t0000000000000400\n1000\n');
  });
});

describe('process.capabilities of exec', () => {
  it('are the container\'s, with --cap added; those of --process are its own', () => {
    const two = ['CAP_CHOWN', 'CAP_KILL']; // bits 0 and 5
    createRunning('capx', bundle((c) => {
      c.process.args = LOOP;
      (c.process as { capabilities?: unknown }).capabilities = { bounding: two, effective: two, permitted: two, inheritable: [], ambient: [] };
    }));
    try {
      const sets = (r: Result): string => r.stdout.split('\n').filter((l) => /^Cap(Prm|Eff|Bnd)/.test(l)).join(' ');
      const show = ['sh', '-c', 'grep ^Cap /proc/self/status'];
      expect(sets(tsvisor(['exec', 'capx', ...show]))).toBe('CapPrm:\t0000000000000021 CapEff:\t0000000000000021 CapBnd:\t0000000000000021');
      // CAP_SYS_ADMIN is bit 21
      expect(sets(tsvisor(['exec', '--cap', 'CAP_SYS_ADMIN', 'capx', ...show])))
        .toBe('CapPrm:\t0000000000200021 CapEff:\t0000000000200021 CapBnd:\t0000000000200021');
      const file = path.join(tmp, 'capx-process.json');
      fs.writeFileSync(file, JSON.stringify({
        args: show, cwd: '/', env: ['PATH=/bin'], user: { uid: 0, gid: 0 },
        capabilities: { bounding: ['CAP_KILL'], effective: ['CAP_KILL'], permitted: ['CAP_KILL'] },
      }));
      expect(sets(tsvisor(['exec', '--process', file, 'capx']))).toBe('CapPrm:\t0000000000000020 CapEff:\t0000000000000020 CapBnd:\t0000000000000020');
    } finally {
      expect(tsvisor(['delete', '--force', 'capx']).status).toBe(0);
    }
  });
});

describe('create, start, state, kill, delete', () => {
  it('holds the program until start, then runs it; kill reaches it; delete removes all', async () => {
    const dir = bundle((c) => { c.process.args = LOOP; });
    const out = createRunning('c1', dir, false);
    const st = state('c1');
    expect(st.status).toBe('created');
    expect(st.pid).toBe(Number(fs.readFileSync(path.join(tmp, 'c1.pid'), 'utf8')));
    expect(alive(st.pid!)).toBe(true);
    // Held before its exec: nothing printed yet.
    expect(fs.readFileSync(out, 'utf8')).toBe('');
    const list = JSON.parse(tsvisor(['list', '--format', 'json']).stdout) as { id: string; status: string }[];
    expect(list.find((c) => c.id === 'c1')?.status).toBe('created');

    expect(tsvisor(['start', 'c1']).status).toBe(0);
    expect(state('c1').status).toBe('running');
    await until('the program\'s output', () => fs.readFileSync(out, 'utf8').includes('started'));
    expect(tsvisor(['start', 'c1']).status).not.toBe(0);

    expect(tsvisor(['kill', 'c1', 'TERM']).status).toBe(0);
    await until('stopped', () => state('c1').status === 'stopped');
    expect(fs.readFileSync(out, 'utf8')).toBe('started\ngot TERM\n');
    expect(state('c1').pid).toBeUndefined();
    expect(tsvisor(['wait', 'c1']).stdout).toContain('"exitStatus":7');
    expect(tsvisor(['delete', 'c1']).status).toBe(0);
    expect(fs.existsSync(path.join(root, 'c1'))).toBe(false);
    expect(cgroupsOf('c1')).toEqual([]);
    const gone = tsvisor(['state', 'c1']);
    expect(gone.status).toBe(1);
    expect(gone.stderr).toContain('does not exist');
  });

  it('refuses to delete a running container without --force, and kills by number', async () => {
    createRunning('c2', bundle((c) => { c.process.args = LOOP; }));
    const r = tsvisor(['delete', 'c2']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('not stopped');
    expect(tsvisor(['kill', 'c2', '9']).status).toBe(0);
    await until('stopped', () => state('c2').status === 'stopped');
    expect(tsvisor(['delete', 'c2']).status).toBe(0);
  });
});

describe('exec, ps, pause and resume in a running container', () => {
  it('starts a process in the same sandbox, lists pids, freezes and thaws', async () => {
    createRunning('e1', bundle((c) => { c.process.args = LOOP; }));
    // The same pid namespace and filesystem: the program is there, pid 2 under tsvisor's init.
    const ex = tsvisor(['exec', '--env', 'FOO=bar', '--cwd', '/tmp', 'e1', 'sh', '-c', 'echo $FOO; pwd; cat /proc/2/cmdline | tr "\\0" " "; echo; touch /tmp/made; exit 5']);
    expect(ex.status, ex.stderr).toBe(5);
    expect(ex.stdout).toBe('bar\n/tmp\nsh -c echo started; trap "echo got TERM; exit 7" TERM; while true; do sleep 0.1; done \n');
    expect(tsvisor(['exec', 'e1', 'ls', '/tmp/made']).status).toBe(0);
    const user = tsvisor(['exec', '--user', '1000:1000', 'e1', 'id']);
    expect(user.stdout).toBe('uid=1000 gid=1000\n');
    expect(tsvisor(['exec', 'e1', '/no/such']).status).toBe(127);

    const pids = JSON.parse(tsvisor(['ps', '--format', 'json', 'e1']).stdout) as number[];
    expect(pids.length).toBeGreaterThan(0);
    // The program's own process (its loop's sleeps come and go).
    expect(alive(pids[0]!)).toBe(true);
    expect(fs.readFileSync(`/proc/${pids[0]}/cmdline`, 'latin1')).toContain('echo started');

    // A detached exec writes the pid of its waiter (a process the client
    // can reap, that exits with the exec'd one: as runsc's), and the process runs in the sandbox.
    const pidFile = path.join(tmp, 'exec.pid');
    // Its stdio is ours, in a file: a pipe would stay open as long as it runs.
    const execOut = fs.openSync(path.join(tmp, 'exec.out'), 'w');
    expect(tsvisor(['exec', '--detach', '--pid-file', pidFile, 'e1', 'sleep', '30'], { stdio: execOut }).status).toBe(0);
    fs.closeSync(execOut);
    const execPid = Number(fs.readFileSync(pidFile, 'utf8'));
    expect(fs.readFileSync(`/proc/${execPid}/cmdline`, 'latin1')).toContain('__oci-exec-wait');
    const sleeper = (JSON.parse(tsvisor(['ps', '--format', 'json', 'e1']).stdout) as number[])
      .find((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1') === 'sleep\x0030\x00');
    expect(sleeper).toBeDefined();

    expect(tsvisor(['pause', 'e1']).status).toBe(0);
    expect(state('e1').status).toBe('paused');
    expect(fs.readFileSync('/sys/fs/cgroup/freezer/tsvisor/oci-e1/freezer.state', 'latin1').trim()).toBe('FROZEN');
    expect(tsvisor(['resume', 'e1']).status).toBe(0);
    expect(state('e1').status).toBe('running');

    const stats = JSON.parse(tsvisor(['events', '--stats', 'e1']).stdout) as { type: string; data: { pids: { current: number } } };
    expect(stats.type).toBe('stats');
    expect(stats.data.pids.current).toBeGreaterThan(0);

    expect(tsvisor(['delete', '--force', 'e1']).status).toBe(0);
    for (const pid of [...pids, sleeper!]) expect(alive(pid)).toBe(false);
    // The waiter ends with the process it waited for.
    await until('the exec waiter to exit', () => !alive(execPid));
  });
});

describe('delete --force', () => {
  it('leaves no process, cgroup, mount or state behind', async () => {
    createRunning('f1', bundle((c) => { c.process.args = LOOP; }));
    const rec = JSON.parse(fs.readFileSync(path.join(root, 'f1', 'state.json'), 'utf8')) as { sandboxPid: number; initPid: number };
    const pids = JSON.parse(tsvisor(['ps', '--format', 'json', 'f1']).stdout) as number[];
    const gofer = fs.readFileSync('/proc/self/mountinfo', 'latin1');
    const sockets = fs.readdirSync(path.join(root, '@sockets')).length;
    expect(tsvisor(['delete', '--force', 'f1']).status).toBe(0);
    for (const pid of [rec.sandboxPid, rec.initPid, ...pids]) expect(alive(pid)).toBe(false);
    expect(cgroupsOf('f1')).toEqual([]);
    expect(fs.existsSync(path.join(root, 'f1'))).toBe(false);
    expect(fs.readdirSync(path.join(root, '@sockets')).length).toBe(sockets - 1);
    // The sandbox's mounts lived in its gofer's namespace: the host's table
    // gained none. (Only tsvisor's are compared: other test files, docker's
    // and containerd's among them, may mount on the host meanwhile.)
    const before = new Set(gofer.split('\n'));
    const added = fs.readFileSync('/proc/self/mountinfo', 'latin1').split('\n').filter((l) => !before.has(l));
    expect(added.filter((l) => l.includes('tsvisor') || l.includes(tmp))).toEqual([]);
  });
});

describe('a malformed spec', () => {
  it('is refused naming the field, with nothing left behind, and logged as json', () => {
    const dir = bundle((c) => { c.process.args = []; });
    const log = path.join(tmp, 'log.json');
    const r = tsvisor(['create', '--bundle', dir, 'm1'], { global: ['--log', log, '--log-format', 'json'] });
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('process.args');
    const line = JSON.parse(fs.readFileSync(log, 'utf8').trim()) as { level: string; msg: string; time: string };
    expect(line.level).toBe('error');
    expect(line.msg).toContain('process.args: must not be empty');
    expect(fs.existsSync(path.join(root, 'm1'))).toBe(false);
    expect(cgroupsOf('m1')).toEqual([]);
  });

  it('fails in the launcher with nothing left behind either', () => {
    // A read-only root cannot get a new mount point.
    const dir = bundle((c) => {
      c.root.readonly = true;
      c.mounts.push({ destination: '/newdir', type: 'bind', source: '/tmp', options: ['rbind'] });
    });
    const r = tsvisor(['create', '--bundle', dir, 'm2']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain('/newdir');
    expect(fs.existsSync(path.join(root, 'm2'))).toBe(false);
    expect(cgroupsOf('m2')).toEqual([]);
  });
});

describe('a terminal by --console-socket', () => {
  it('sends the pty master, and the program\'s terminal is /dev/pts/0', async () => {
    const dir = bundle((c) => {
      c.process.terminal = true;
      c.process.args = ['sh', '-c', 'tty; stty size'];
      c.process.consoleSize = { height: 30, width: 100 };
    });
    const sock = path.join(tmp, 'console.sock');
    const recv = spawn(receiver, [sock], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    recv.stdout.on('data', (d: Buffer) => { out += d.toString(); });
    recv.stderr.on('data', (d: Buffer) => { err += d.toString(); });
    const exited = new Promise<void>((r) => recv.on('exit', () => r()));
    await until('the receiver', () => err.includes('ready'));
    const createOut = fs.openSync(path.join(tmp, 't1.out'), 'w');
    expect(tsvisor(['create', '--bundle', dir, '--console-socket', sock, 't1'], { stdio: createOut }).status).toBe(0);
    fs.closeSync(createOut);
    // Its stderr is read by this event loop, which the synchronous create held up.
    await until('the master', () => err.includes('name=/dev/pts/0'));
    expect(tsvisor(['start', 't1']).status).toBe(0);
    await until('stopped', () => state('t1').status === 'stopped');
    await exited;
    expect(out.replace(/\r/g, '')).toBe('/dev/pts/0\n30 100\n');
    expect(tsvisor(['delete', 't1']).status).toBe(0);
  });
});

describe('exec on the ptrace platform', () => {
  it('runs in the same sandbox', () => {
    createRunning('p1', bundle((c) => { c.process.args = LOOP; }), true, ['--platform', 'ptrace']);
    // --platform is a global flag of create; exec reaches the same sandbox whatever it is given.
    const ex = tsvisor(['exec', 'p1', 'sh', '-c', 'echo ok; exit 4']);
    expect(ex.stdout).toBe('ok\n');
    expect(ex.status).toBe(4);
    expect(tsvisor(['delete', '-f', 'p1']).status).toBe(0);
  });
});
