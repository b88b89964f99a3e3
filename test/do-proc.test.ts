// /proc inside the sandbox: the global entries and the per-process ones read
// as they do natively where they should (ids, limits, cmdline, environ, links,
// fds, /proc/sys), and show the sandbox where they must (its pids, its mounts,
// its cgroup, and with --memory its memory limit, which the kernel enforces).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_ENV,
  descendantsOf,
  doArgs,
  makeWorkDir,
  removeDir,
  runCli,
  runNative,
  runSandboxed,
  spawnSandboxed,
  waitFor,
  type HostProcess,
  type RunResult,
} from './helpers/sandbox.js';

const TSVISOR_CGROUPS = '/sys/fs/cgroup/memory/tsvisor';

let work = '';
beforeAll(() => {
  work = makeWorkDir('proc');
});
afterAll(() => removeDir(work));

function show(r: RunResult): string {
  return `status=${r.status} signal=${r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

function ok(r: RunResult): string {
  if (r.status !== 0) throw new Error(show(r));
  return r.stdout;
}

/** "name=value" lines of a program's output. */
function keyValues(text: string): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of text.split('\n')) {
    const i = line.indexOf('=');
    if (i > 0) m.set(line.slice(0, i), line.slice(i + 1));
  }
  return m;
}

/** The kB value of a /proc/meminfo field. */
function meminfoKb(text: string, field: string): number {
  const m = new RegExp(`^${field.replace(/[()]/g, '\\$&')}:\\s+([0-9]+) kB$`, 'm').exec(text);
  if (!m) throw new Error(`no ${field} in\n${text}`);
  return Number(m[1]);
}

describe('/proc global entries', () => {
  // Values the sandbox reads from its own procfs instance: the same kernel,
  // so the same values. (random/uuid is new on each read; checked apart.)
  const SYS = [
    'kernel/pid_max', 'kernel/ngroups_max', 'kernel/threads-max', 'kernel/cap_last_cap',
    'kernel/hostname', 'kernel/osrelease', 'kernel/ostype', 'kernel/random/boot_id',
    'vm/overcommit_memory', 'vm/max_map_count', 'net/core/somaxconn',
    'fs/file-max', 'fs/nr_open', 'fs/pipe-max-size',
  ];
  const script = [
    ...SYS.map((f) => `printf '%s=%s\\n' ${f} "$(cat /proc/sys/${f})"`),
    `printf 'uuid1=%s\\n' "$(cat /proc/sys/kernel/random/uuid)"`,
    `printf 'uuid2=%s\\n' "$(cat /proc/sys/kernel/random/uuid)"`,
    `printf 'processors=%s\\n' "$(grep -c '^processor' /proc/cpuinfo)"`,
    `printf 'version=%s\\n' "$(cat /proc/version)"`,
    `printf 'filesystems=%s\\n' "$(cat /proc/filesystems | tr '\\n\\t' '| ')"`,
    `printf 'statcpus=%s\\n' "$(grep -c '^cpu' /proc/stat)"`,
    `printf 'loadavg=%s\\n' "$(cat /proc/loadavg)"`,
    `printf 'uptime=%s\\n' "$(cat /proc/uptime)"`,
    `printf 'memtotal=%s\\n' "$(grep '^MemTotal:' /proc/meminfo)"`,
  ].join('\n');
  let native = new Map<string, string>();
  let sandboxed = new Map<string, string>();

  beforeAll(async () => {
    native = keyValues(ok(await runNative(['sh', '-c', script], { cwd: work })));
    sandboxed = keyValues(ok(await runSandboxed(['sh', '-c', script], { cwd: work })));
  });

  it.each(SYS)('/proc/sys/%s reads as natively', (f) => {
    expect(native.get(f)).toMatch(/\S/);
    expect(sandboxed.get(f)).toBe(native.get(f));
  });

  it('/proc/sys/kernel/random/uuid is a fresh uuid on each read', () => {
    const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    expect(sandboxed.get('uuid1')).toMatch(uuid);
    expect(sandboxed.get('uuid2')).toMatch(uuid);
    expect(sandboxed.get('uuid1')).not.toBe(sandboxed.get('uuid2'));
  });

  it('cpuinfo, stat, version, filesystems and meminfo (no --memory) read as natively', () => {
    for (const k of ['processors', 'statcpus', 'version', 'filesystems', 'memtotal']) {
      expect(sandboxed.get(k), k).toBe(native.get(k));
    }
    expect(Number(sandboxed.get('processors'))).toBeGreaterThan(0);
  });

  it('loadavg and uptime have their kernel format', () => {
    expect(sandboxed.get('loadavg')).toMatch(/^[0-9.]+ [0-9.]+ [0-9.]+ [0-9]+\/[0-9]+ [0-9]+$/);
    expect(sandboxed.get('uptime')).toMatch(/^[0-9]+\.[0-9]{2} [0-9]+\.[0-9]{2}$/);
  });

  it('self and thread-self name the program, pid 2 under the sandbox init', async () => {
    const r = await runSandboxed(['sh', '-c', 'echo $$; readlink /proc/self /proc/thread-self'], { cwd: work });
    // readlink is sh's child: sh is pid 2, its child pid 3 or more.
    const [shPid, self, threadSelf] = ok(r).trim().split('\n');
    expect(shPid).toBe('2');
    expect(Number(self)).toBeGreaterThan(2);
    expect(threadSelf).toBe(`${self}/task/${self}`);
  });
});

/**
 * Reads /proc/<pid>/... of itself and of a child (sleep, started with
 * Popen, which returns once the child has exec'd) and prints it as JSON.
 */
const PER_PROCESS = String.raw`
import json, os, subprocess, sys, time
def info(pid):
    p = '/proc/%s' % pid
    st = {}
    for line in open(p + '/status'):
        k, _, v = line.partition(':')
        st[k] = v.strip()
    stat = open(p + '/stat').read()
    exe = os.readlink(p + '/exe')
    return {
        'status': {k: st.get(k) for k in ('Name', 'Umask', 'Uid', 'Gid', 'Groups', 'Threads', 'Pid', 'PPid', 'NSpid')},
        'stat_pid': int(stat.split(' ', 1)[0]),
        'stat_ppid': int(stat.rsplit(')', 1)[1].split()[1]),
        'cmdline': open(p + '/cmdline', 'rb').read().decode().split('\0'),
        'environ': sorted(x for x in open(p + '/environ', 'rb').read().decode().split('\0') if x),
        'exe': exe,
        'cwd': os.readlink(p + '/cwd'),
        'root': os.readlink(p + '/root'),
        'fds': sorted(int(x) for x in os.listdir(p + '/fd')),
        'fd0': os.readlink(p + '/fd/0'),
        'fdinfo0': sorted(l.split(':')[0] for l in open(p + '/fdinfo/0')),
        'limits': open(p + '/limits').read(),
        'maps_exe': any(l.rstrip().endswith(' ' + exe) for l in open(p + '/maps')),
        'cgroup': open(p + '/cgroup').read().splitlines(),
        'ns': sorted(os.listdir(p + '/ns')),
        'ns_pid': os.readlink(p + '/ns/pid'),
        'mounts': [l.split()[1] for l in open(p + '/mounts')],
        'mountinfo': [l.split()[4] for l in open(p + '/mountinfo')],
    }
child = subprocess.Popen(['sleep', '30'], stdin=subprocess.DEVNULL)
# Popen may return before the exec is complete (vfork lets the parent go on
# before the new name is set): wait for it, natively and sandboxed alike.
for _ in range(5000):
    if open('/proc/%d/comm' % child.pid).read() == 'sleep\n' and os.readlink('/proc/%d/exe' % child.pid).endswith('/sleep'):
        break
    time.sleep(0.001)
try:
    out = {'self': info('self'), 'child': info(child.pid), 'pid': os.getpid(), 'child_pid': child.pid}
finally:
    child.kill()
    child.wait()
print(json.dumps(out))
`;

interface ProcInfo {
  status: Record<string, string | null>;
  stat_pid: number;
  stat_ppid: number;
  cmdline: string[];
  environ: string[];
  exe: string;
  cwd: string;
  root: string;
  fds: number[];
  fd0: string;
  fdinfo0: string[];
  limits: string;
  maps_exe: boolean;
  cgroup: string[];
  ns: string[];
  ns_pid: string;
  mounts: string[];
  mountinfo: string[];
}

interface PerProcess {
  self: ProcInfo;
  child: ProcInfo;
  pid: number;
  child_pid: number;
}

describe('/proc per process, for the program and for its child', () => {
  let native: PerProcess;
  let sandboxed: PerProcess;

  beforeAll(async () => {
    // The same argv both ways (runNative resolves the name on PATH itself).
    const python = execFileSync('sh', ['-c', 'command -v python3'], { env: BASE_ENV, encoding: 'utf8' }).trim();
    native = JSON.parse(ok(await runNative([python, '-c', PER_PROCESS], { cwd: work }))) as PerProcess;
    sandboxed = JSON.parse(ok(await runSandboxed([python, '-c', PER_PROCESS], { cwd: work }))) as PerProcess;
  });

  const WHO = ['self', 'child'] as const;

  it.each(WHO)('%s: status ids, umask, threads, name as natively', (who) => {
    for (const k of ['Name', 'Umask', 'Uid', 'Gid', 'Groups', 'Threads']) {
      expect(sandboxed[who].status[k], k).toBe(native[who].status[k]);
    }
  });

  for (const who of WHO) it(`${who}: cmdline, environ, exe, cwd, root, fd listing, limits as natively`, () => {
    const s = sandboxed[who];
    const n = native[who];
    expect(s.cmdline).toEqual(n.cmdline);
    expect(s.environ).toEqual(n.environ);
    expect(s.exe).toBe(n.exe);
    expect(s.cwd).toBe(work);
    expect(s.cwd).toBe(n.cwd);
    expect(s.root).toBe('/');
    // Natively the program also inherits the test runner's stray high fds
    // (the sandbox starts with stdio only): compare the low ones.
    expect(s.fds).toEqual(n.fds.filter((fd) => fd < 100));
    expect(s.fd0).toBe('/dev/null');
    expect(s.fdinfo0).toEqual(n.fdinfo0);
    expect(s.limits).toBe(n.limits);
    expect(s.maps_exe).toBe(true);
    expect(s.ns).toEqual(n.ns);
  });

  it('pids are the sandbox\'s: the program is 2 under init 1, its child is its child', () => {
    expect(sandboxed.pid).toBe(2);
    expect(sandboxed.self.status.Pid).toBe('2');
    expect(sandboxed.self.status.PPid).toBe('1');
    expect(sandboxed.self.status.NSpid).toBe('2');
    expect(sandboxed.self.stat_pid).toBe(2);
    expect(sandboxed.self.stat_ppid).toBe(1);
    expect(sandboxed.child.status.Pid).toBe(String(sandboxed.child_pid));
    expect(sandboxed.child.status.PPid).toBe('2');
    expect(sandboxed.child.stat_ppid).toBe(2);
  });

  it('ns/ links are the sandbox\'s own namespaces, shared by program and child', () => {
    expect(sandboxed.self.ns_pid).toMatch(/^pid:\[[0-9]+\]$/);
    expect(sandboxed.self.ns_pid).not.toBe(native.self.ns_pid);
    expect(sandboxed.child.ns_pid).toBe(sandboxed.self.ns_pid);
  });

  it('cgroup paths are relative to the sandbox\'s cgroup namespace', () => {
    expect(sandboxed.self.cgroup.length).toBeGreaterThan(0);
    for (const line of sandboxed.self.cgroup) expect(line).toMatch(/^[0-9]+:[^:]*:\/$/);
  });

  it.each(WHO)('%s: mounts and mountinfo show the sandbox\'s mount table, not the host\'s', (who) => {
    const s = sandboxed[who];
    expect(s.mountinfo).toEqual(s.mounts);
    expect(s.mounts[0]).toBe('/');
    for (const p of ['/proc', '/dev', '/tmp']) expect(s.mounts).toContain(p);
    // The host's own mounts (its cgroup controllers, for one) are not there.
    const hostOnly = native[who].mounts.filter((m) => m.startsWith('/sys/fs/cgroup/'));
    expect(hostOnly.length).toBeGreaterThan(0);
    for (const m of hostOnly) expect(s.mounts).not.toContain(m);
  });
});

/** The memory cgroup tsvisor made for a running sandbox: the one holding a process of it. */
function sandboxCgroup(tsvisorPid: number): string | null {
  let names: string[];
  try {
    names = fs.readdirSync(TSVISOR_CGROUPS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return null;
  }
  const ours = new Set(descendantsOf(tsvisorPid).map((p) => p.pid));
  for (const name of names) {
    const dir = path.join(TSVISOR_CGROUPS, name);
    try {
      const procs = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
      if (procs.some((p) => ours.has(p))) return dir;
    } catch {
      // removed meanwhile
    }
  }
  return null;
}

describe('--memory', () => {
  it('sysinfo(2) agrees with meminfo: the limit is the total, what is unused is free', async () => {
    const program = 'import os; ps = os.sysconf("SC_PAGE_SIZE"); print(os.sysconf("SC_PHYS_PAGES") * ps, os.sysconf("SC_AVPHYS_PAGES") * ps)';
    const r = await runSandboxed(['python3', '-c', program], { cwd: work, flags: ['--memory', '256m'] });
    const [total, free] = ok(r).trim().split(' ').map(Number);
    expect(total).toBe(256 * 1024 * 1024);
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThan(256 * 1024 * 1024);
  });

  it('meminfo shows the limit as MemTotal, and what the cgroup has not used as free', async () => {
    const r = await runSandboxed(['cat', '/proc/meminfo'], { cwd: work, flags: ['--memory', '256m'] });
    const text = ok(r);
    expect(meminfoKb(text, 'MemTotal')).toBe(262144);
    const free = meminfoKb(text, 'MemFree');
    expect(free).toBeGreaterThan(0);
    expect(free).toBeLessThan(262144);
    expect(meminfoKb(text, 'MemAvailable')).toBe(free);
    expect(meminfoKb(text, 'SwapTotal')).toBe(0);
    expect(meminfoKb(text, 'CommitLimit')).toBe(262144);
    // The host's layout is kept: the same fields in the same order.
    const fields = (t: string): string[] => t.split('\n').filter(Boolean).map((l) => l.split(':')[0]!);
    expect(fields(text)).toEqual(fields(fs.readFileSync('/proc/meminfo', 'latin1')));
  });

  it('meminfo opens read-only, stats as a 0444 regular file, and follows the usage', async () => {
    const program = String.raw`
import os, errno
fd = os.open('/proc/meminfo', os.O_RDONLY)
st = os.fstat(fd)
print('mode', oct(st.st_mode))
try:
    os.write(fd, b'x')
    print('write ok')
except OSError as e:
    print('write', errno.errorcode[e.errno])
try:
    os.open('/proc/meminfo', os.O_WRONLY)
except OSError as e:
    print('open for writing', errno.errorcode[e.errno])
def free():
    for line in open('/proc/meminfo'):
        if line.startswith('MemFree:'):
            return int(line.split()[1])
before = free()
block = b'x' * (64 << 20)
print('grew', before - free() >= 60 * 1024)
`;
    const r = await runSandboxed(['python3', '-c', program], { cwd: work, flags: ['--memory', '256m'] });
    expect(ok(r)).toBe('mode 0o100444\nwrite EBADF\nopen for writing EACCES\ngrew True\n');
  });

  it('a program touching more memory than the limit is OOM-killed (137), one under it runs', async () => {
    const big = await runSandboxed(['python3', '-c', "x = b'a' * (256 << 20); print(len(x))"], { cwd: work, flags: ['--memory', '64m'] });
    expect(big.status, show(big)).toBe(137);
    expect(big.stdout).toBe('');
    const small = await runSandboxed(['python3', '-c', "x = b'a' * (16 << 20); print(len(x))"], { cwd: work, flags: ['--memory', '64m'] });
    expect(small.status, show(small)).toBe(0);
    expect(small.stdout).toBe(`${16 << 20}\n`);
  });

  it.each(['exit', 'SIGTERM'] as const)(
    'holds the whole sandbox in a cgroup of its own, removed after the run (%s)',
    async (end) => {
      // Long enough for the checks below to see it running (SIGTERM ends it early).
      const script = end === 'exit' ? 'sleep 2; exit 3' : 'sleep 60';
      const child = spawnSandboxed(['sh', '-c', script], { cwd: work, flags: ['--memory', '32m'] });
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      let dir: string | null = null;
      await waitFor(() => (dir = sandboxCgroup(child.pid!)) !== null, 10_000);
      expect(dir).not.toBeNull();
      const cg = dir!;
      expect(fs.readFileSync(path.join(cg, 'memory.limit_in_bytes'), 'latin1').trim()).toBe(String(32 << 20));
      // The launcher joins the cgroup before the program exists: wait for the program too.
      const isProgram = (p: HostProcess): boolean => p.cmdline[0] === 'sleep' || (p.cmdline[0] === 'sh' && p.cmdline[2] === script);
      await waitFor(() => descendantsOf(child.pid!).some(isProgram), 10_000);
      // Every process of the run but tsvisor itself (and its gofer) is in it:
      // the processes first, then the cgroup's list, which holds them all then.
      const sandboxProcs = descendantsOf(child.pid!).filter(isProgram);
      const procs = new Set(fs.readFileSync(path.join(cg, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number));
      expect(sandboxProcs.length).toBeGreaterThan(0);
      for (const p of sandboxProcs) expect(procs.has(p.pid), `${p.pid} ${p.cmdline.join(' ')}`).toBe(true);
      if (end === 'SIGTERM') child.kill('SIGTERM');
      const code = await exited;
      expect(code).toBe(end === 'exit' ? 3 : 143);
      expect(fs.existsSync(cg)).toBe(false);
    },
  );

  it('SIGTERM while the sandbox starts ends the run with 143, no error and nothing left', async () => {
    const child = spawnSandboxed(['sleep', '60'], { cwd: work, flags: ['--memory', '32m'] });
    let stderr = '';
    child.stderr!.on('data', (d: Buffer) => { stderr += d.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    // As soon as the app launcher exists (it starts beside the gofer, tens of
    // ms before the sentry has the sandbox): a tight poll of tsvisor's children.
    const launcherStarted = (): boolean => {
      try {
        return fs.readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'latin1').split(' ').filter(Boolean)
          .some((pid) => fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0')[1] === 'app');
      } catch {
        return false;
      }
    };
    const end = Date.now() + 10_000;
    while (!launcherStarted() && Date.now() < end) await new Promise((r) => setTimeout(r, 1));
    child.kill('SIGTERM');
    expect(await exited).toBe(143);
    expect(stderr).toBe('');
    expect(sandboxCgroup(child.pid!)).toBeNull();
  });

  it.each([
    ['12x', 'not a size'],
    ['1.5g', 'not a size'],
    ['-1', 'not a size'],
    ['4m', 'below the minimum'],
    ['99999999999t', 'too large'],
  ])('--memory %s is refused with a message', async (value, message) => {
    const r = await runCli(doArgs(['--memory', value, '--', 'true']), { cwd: work });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--memory: '${value}'`);
    expect(r.stderr).toContain(message);
  });

  it('--memory without a value is refused', async () => {
    const r = await runCli(doArgs(['--memory']), { cwd: work });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--memory needs a value');
  });
});
