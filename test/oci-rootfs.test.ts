// A container's root as runc gives it: written in place (the files a program
// writes are in the bundle's rootfs afterwards, with the owners and modes
// runc gives them on the same bundle), read-only when root.readonly says so,
// under a throwaway layer with --overlay2; a user namespace with id mappings
// as runc gives it (the program's ids, its files' owners inside and on the
// host); and the hooks run where the OCI spec says (prestart on the host,
// createContainer and startContainer in the container's namespaces).
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { formatOverlay2, parseOverlay2 } from '../cli/oci/overlay2.js';
import { makeBundle, makeBusyboxRootfs } from './helpers/busybox-rootfs.js';
import { CLI, HELPERS_DIR } from './helpers/sandbox.js';

const tmp = fs.mkdtempSync('/var/tmp/tsvisor-oci-rootfs-');
const stateRoot = path.join(tmp, 'state');
const runcRoot = path.join(tmp, 'runc-state');
let seq = 0;

afterAll(() => {
  for (const id of fs.existsSync(stateRoot) ? fs.readdirSync(stateRoot).filter((n) => !n.startsWith('@')) : []) tsvisor(['delete', '--force', id]);
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Result { status: number | null; stdout: string; stderr: string }

function tsvisor(args: string[], global: string[] = []): Result {
  const r = spawnSync(process.execPath, [CLI, '--root', stateRoot, ...global, ...args], { encoding: 'utf8', timeout: 90_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

/** create leaves its stdio to the container's daemon: a file, not a pipe that would stay open. */
function create(dir: string, id: string): Result {
  const out = path.join(tmp, `${id}.out`);
  const fd = fs.openSync(out, 'w');
  try {
    const r = spawnSync(process.execPath, [CLI, '--root', stateRoot, 'create', '--bundle', dir, id], { stdio: ['ignore', fd, fd], timeout: 90_000 });
    return { status: r.status, stdout: '', stderr: fs.readFileSync(out, 'utf8') };
  } finally {
    fs.closeSync(fd);
  }
}

function runc(args: string[]): Result {
  const r = spawnSync('runc', ['--root', runcRoot, ...args], { encoding: 'utf8', timeout: 90_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

interface Config {
  process: { args: string[]; terminal: boolean; user: { uid: number; gid: number }; capabilities: Record<string, string[]> };
  root: { path: string; readonly: boolean };
  linux: { namespaces: { type: string }[]; uidMappings?: unknown[]; gidMappings?: unknown[] };
  mounts: { destination: string; type: string; source: string; options: string[] }[];
  hooks?: Record<string, { path: string; args: string[] }[]>;
}

/** A fresh busybox rootfs with /home/u owned by 1000:1000, and a bundle around it from `tsvisor spec`. */
function bundle(edit: (c: Config) => void): { dir: string; rootfs: string } {
  const dir = path.join(tmp, `bundle-${++seq}`);
  const rootfs = path.join(dir, 'rootfs');
  makeBusyboxRootfs(rootfs, [{ name: 'u', uid: 1000, home: '/home/u' }]);
  makeBundle<Config>(CLI, dir, 'rootfs', (c) => {
    c.root.readonly = false;
    edit(c);
  });
  return { dir, rootfs };
}

function setArgs(dir: string, edit: (c: Config) => void): void {
  const file = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as Config;
  edit(c);
  fs.writeFileSync(file, JSON.stringify(c));
}

/** Owner, group, type and mode of each path below rootfs (lstat), or 'missing'. */
function owners(rootfs: string, paths: readonly string[]): Record<string, string> {
  return Object.fromEntries(paths.map((p) => {
    try {
      const st = fs.lstatSync(path.join(rootfs, p));
      return [p, `${st.uid}:${st.gid} ${st.mode.toString(8)}`];
    } catch {
      return [p, 'missing'];
    }
  }));
}

/** What a program leaves in the root, as root and as the user 1000: the same under tsvisor and runc. */
const WRITES: { user: { uid: number; gid: number }; script: string; paths: string[] }[] = [
  { user: { uid: 0, gid: 0 }, script: 'umask 022; echo r > /f; mkdir /d; ln -s f /l; echo t > /tmp/t; chmod 4710 /f', paths: ['f', 'd', 'l', 'tmp/t'] },
  { user: { uid: 1000, gid: 1000 }, script: 'umask 077; echo u > /home/u/f; mkdir /home/u/d; echo t > /tmp/u', paths: ['home/u/f', 'home/u/d', 'tmp/u'] },
];

describe('a writable root (root.readonly false, --overlay2 none: the default)', () => {
  it('is the bundle\'s rootfs: what the program writes is there afterwards, as runc leaves it', () => {
    const { dir, rootfs } = bundle(() => {});
    for (const w of WRITES) {
      setArgs(dir, (c) => { c.process.args = ['sh', '-c', w.script]; c.process.user = w.user; });
      const id = `w${seq}-${w.user.uid}`;
      const ours = tsvisor(['run', '--bundle', dir, id]);
      expect(ours.status, ours.stderr).toBe(0);
      const seen = owners(rootfs, w.paths);
      expect(fs.readFileSync(path.join(rootfs, w.paths[0]!), 'utf8')).toMatch(/^[ru]\n$/);
      for (const p of w.paths) fs.rmSync(path.join(rootfs, p), { recursive: true, force: true });
      const theirs = runc(['run', '--bundle', dir, id]);
      expect(theirs.status, theirs.stderr).toBe(0);
      expect(seen).toEqual(owners(rootfs, w.paths));
      expect(Object.values(seen)).not.toContain('missing');
    }
  });

  it('is read-only with root.readonly true: a write is EROFS and the rootfs is untouched', () => {
    const { dir, rootfs } = bundle((c) => {
      c.root.readonly = true;
      c.process.args = ['sh', '-c', 'echo x > /f || exit 9'];
    });
    const before = fs.readdirSync(rootfs).sort();
    const r = tsvisor(['run', '--bundle', dir, `ro${seq}`]);
    expect(r.status).toBe(9);
    expect(r.stderr).toContain('Read-only file system');
    expect(fs.readdirSync(rootfs).sort()).toEqual(before);
  });
});

describe('an mqueue mount (every spec has /dev/mqueue)', () => {
  it('shows the container\'s own message queues, which mq_* and the files both reach, as runc shows them', () => {
    // mq: test/helpers/mq.c, static (the busybox rootfs has no libc).
    const script = [
      'grep -c " /dev/mqueue .* - mqueue mqueue " /proc/self/mountinfo',
      'ls /dev/mqueue',
      'mq create /jobs', 'mq create /jobs', 'mq send /jobs first',
      'ls -ln /dev/mqueue | grep jobs | sed "s/ \\+/ /g" | cut -d" " -f1,3,4,5',
      'cat /dev/mqueue/jobs',
      'mq recv /jobs',
      'echo > /dev/mqueue/made-by-open; mq open /made-by-open',
      'rm /dev/mqueue/jobs /dev/mqueue/made-by-open', 'mq open /jobs', 'ls /dev/mqueue',
    ].join('; ');
    const { dir, rootfs } = bundle((c) => {
      c.root.readonly = true;
      c.process.args = ['sh', '-c', script];
    });
    execFileSync('gcc', ['-static', '-O1', '-Wall', '-Werror', '-o', path.join(rootfs, 'bin', 'mq'), path.join(HELPERS_DIR, 'mq.c')]);
    const ours = tsvisor(['run', '--bundle', dir, `mq${seq}`]);
    expect(ours.status, ours.stderr).toBe(0);
    const theirs = runc(['run', '--bundle', dir, `mq${seq}`]);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toBe([
      '1', 'create: 0', 'create: EEXIST', 'send: 0', '-rw-r----- 0 0 80',
      'QSIZE:5          NOTIFY:0     SIGNO:0     NOTIFY_PID:0     ', 'recv: first', 'recv: 0', 'open: 0', 'open: ENOENT', '',
    ].join('\n'));
  });
});

describe('--overlay2', () => {
  for (const flag of ['root:memory', 'all:memory', 'root:self']) {
    it(`${flag}: the program sees its writes, the rootfs and the bundle keep none of them`, () => {
      const { dir, rootfs } = bundle((c) => { c.process.args = ['sh', '-c', 'echo x > /f && cat /f && echo t > /tmp/t && rm /bin/ls']; });
      const before = { root: fs.readdirSync(rootfs).sort(), bundle: fs.readdirSync(dir).sort(), tmp: fs.readdirSync(path.join(rootfs, 'tmp')) };
      const r = tsvisor(['run', '--bundle', dir, `ov${seq}`], ['--overlay2', flag]);
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout).toBe('x\n');
      expect({ root: fs.readdirSync(rootfs).sort(), bundle: fs.readdirSync(dir).sort(), tmp: fs.readdirSync(path.join(rootfs, 'tmp')) }).toEqual(before);
      expect(fs.existsSync(path.join(rootfs, 'bin', 'ls'))).toBe(true);
    });
  }

  it('root:dir=PATH puts the layer in a folder of PATH and removes it', () => {
    const layers = fs.mkdtempSync(path.join(tmp, 'layers-'));
    const { dir, rootfs } = bundle((c) => { c.process.args = ['sh', '-c', 'echo x > /f; ls /f']; });
    const r = tsvisor(['run', '--bundle', dir, `od${seq}`], [`--overlay2=root:dir=${layers}`]);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('/f\n');
    expect(fs.existsSync(path.join(rootfs, 'f'))).toBe(false);
    expect(fs.readdirSync(layers)).toEqual([]);
  });

  it('none writes in place (as the default does)', () => {
    const { dir, rootfs } = bundle((c) => { c.process.args = ['sh', '-c', 'echo x > /f']; });
    expect(tsvisor(['run', '--bundle', dir, `on${seq}`], ['--overlay2', 'none']).status).toBe(0);
    expect(fs.readFileSync(path.join(rootfs, 'f'), 'utf8')).toBe('x\n');
  });

  it.each(['memory', 'root:disk', 'root:dir=relative', 'some:memory', ''])('refuses %j as a usage error', (value) => {
    const r = tsvisor(['list'], ['--overlay2', value]);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--overlay2');
  });
});

describe('parseOverlay2', () => {
  const absolute = fc.array(fc.stringMatching(/^[a-z0-9._-]{1,8}$/), { maxLength: 4 }).map((parts) => '/' + parts.join('/'));
  const valid = fc.oneof(
    fc.constant('none'),
    fc.tuple(fc.constantFrom('root', 'all'), fc.oneof(fc.constantFrom('memory', 'self'), absolute.map((d) => `dir=${d}`))).map(([m, medium]) => `${m}:${medium}`),
  );

  it('reads every value runsc takes, and writes it back as the root\'s', () => {
    fc.assert(fc.property(valid, (text) => {
      const parsed = parseOverlay2(text);
      expect(typeof parsed).toBe('object');
      if (typeof parsed === 'string') return;
      expect(formatOverlay2(parsed)).toBe(text.replace(/^all:/, 'root:'));
      expect(parseOverlay2(formatOverlay2(parsed))).toEqual(parsed);
    }));
  });

  it('answers anything else with a message naming the flag, never a throw', () => {
    fc.assert(fc.property(fc.string(), (text) => {
      const parsed = parseOverlay2(text);
      const isValid = text === 'none' || /^(root|all):(memory|self|dir=\/.*)$/s.test(text);
      expect(typeof parsed === 'string').toBe(!isValid);
      if (typeof parsed === 'string') expect(parsed).toContain('--overlay2');
    }));
  });
});

describe('a user namespace with id mappings (0 -> host 100000, 65536 ids)', () => {
  const MAPPING = [{ containerID: 0, hostID: 100000, size: 65536 }];
  /** A bundle as runc's user-namespace users make one: the rootfs chowned into the mapped range. */
  function mappedBundle(edit: (c: Config) => void): { dir: string; rootfs: string } {
    // runc's container root (host 100000) walks the path to the bundle: mkdtemp made it 0700.
    fs.chmodSync(tmp, 0o755);
    const b = bundle((c) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = MAPPING;
      c.linux.gidMappings = MAPPING;
      // chown needs CAP_CHOWN, which tsvisor spec's default set (runc's) lacks.
      for (const set of ['bounding', 'effective', 'permitted']) {
        c.process.capabilities[set] = [...new Set([...c.process.capabilities[set] ?? [], 'CAP_CHOWN', 'CAP_FOWNER', 'CAP_DAC_OVERRIDE'])];
      }
      edit(c);
    });
    execFileSync('chown', ['-R', '-h', '100000:100000', b.rootfs]);
    fs.chownSync(path.join(b.rootfs, 'home/u'), 101000, 101000);
    return b;
  }

  // What the program sees of itself and of its root's owners, and what its writes and chowns give.
  const ROOT_SCRIPT = [
    'id', 'cat /proc/self/uid_map /proc/self/gid_map', 'grep -E "^(Uid|Gid|Groups):" /proc/self/status',
    'stat -c "%u:%g %n" / /bin /etc /tmp /home/u /dev /dev/shm /dev/pts /dev/null /proc /sys',
    'echo x > /f', 'stat -c "%u:%g %n" /f', 'touch /g', 'chown 1000:1000 /g', 'stat -c "%u:%g %n" /g',
    'chown 70000 /g 2>&1; echo "chown 70000: $?"', 'chown 0:70000 /g 2>&1; echo "chown 0:70000: $?"',
  ].join('; ');
  const USER_SCRIPT = 'id; grep -E "^(Uid|Gid):" /proc/self/status; echo u > /home/u/f; stat -c "%u:%g %n" /home/u/f /';

  it('runs the program as the namespace\'s root and shows ids as runc does; its files land on the host with mapped owners', () => {
    const { dir, rootfs } = mappedBundle((c) => { c.process.args = ['sh', '-c', ROOT_SCRIPT]; });
    const clean = (): void => { for (const f of ['f', 'g']) fs.rmSync(path.join(rootfs, f), { force: true }); };
    const ours = tsvisor(['run', '--bundle', dir, `un${seq}`]);
    expect(ours.status, ours.stderr).toBe(0);
    const oursOnHost = owners(rootfs, ['f', 'g']);
    clean();
    const theirs = runc(['run', '--bundle', dir, `un${seq}`]);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(owners(rootfs, ['f', 'g'])).toEqual(oursOnHost);
    clean();
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toMatch(/^uid=0\(root\) gid=0\(root\)/);
    expect(ours.stdout).toMatch(/^\s+0\s+100000\s+65536$/m);
    expect(ours.stdout).toMatch(/^Uid:\t0\t0\t0\t0$/m);
    expect(ours.stdout).toContain('0:0 /bin\n');
    expect(ours.stdout).toContain('65534:65534 /proc\n');
    expect(ours.stdout).toContain('1000:1000 /g\n');
    expect(ours.stdout).toContain('Invalid argument\nchown 70000: 1\n');
    expect(ours.stdout).toContain('Invalid argument\nchown 0:70000: 1\n');
    expect(oursOnHost).toEqual({ f: '100000:100000 100644', g: '101000:101000 100644' });
  });

  it('shows the owners of its sockets in /proc/net as runc does: namespace ids', () => {
    // A listening TCP socket of the namespace's root (host 100000), then of user 1000 (host 101000).
    const script = [
      'nc -l -p 4321 &',
      // busybox nc listens on IPv6's any address, in tcp6.
      'while [ $(awk \'NR > 1\' /proc/net/tcp6 | wc -l) -lt 1 ]; do usleep 10000; done',
      'awk \'FNR > 1 { split($2, a, ":"); print a[2], $8 }\' /proc/net/tcp6 /proc/1/net/tcp6',
      'kill %1',
    ].join('\n');
    for (const [user, expected] of [[{ uid: 0, gid: 0 }, '0'], [{ uid: 1000, gid: 1000 }, '1000']] as const) {
      const { dir } = mappedBundle((c) => { c.process.args = ['sh', '-c', script]; c.process.user = user; });
      const ours = tsvisor(['run', '--bundle', dir, `un${seq}`]);
      expect(ours.status, ours.stderr).toBe(0);
      const theirs = runc(['run', '--bundle', dir, `un${seq}`]);
      expect(theirs.status, theirs.stderr).toBe(0);
      expect(ours.stdout).toBe(theirs.stdout);
      expect(ours.stdout).toBe(`10E1 ${expected}\n10E1 ${expected}\n`);
    }
  });

  it('runs process.user 1000 as host 101000, as runc does', () => {
    const { dir, rootfs } = mappedBundle((c) => { c.process.args = ['sh', '-c', USER_SCRIPT]; c.process.user = { uid: 1000, gid: 1000 }; });
    const ours = tsvisor(['run', '--bundle', dir, `uu${seq}`]);
    expect(ours.status, ours.stderr).toBe(0);
    const oursOnHost = owners(rootfs, ['home/u/f']);
    fs.rmSync(path.join(rootfs, 'home/u/f'));
    const theirs = runc(['run', '--bundle', dir, `uu${seq}`]);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stdout).toMatch(/^uid=1000\(u\) gid=1000\(u\)/);
    expect(oursOnHost).toEqual({ 'home/u/f': '101000:101000 100644' });
    expect(owners(rootfs, ['home/u/f'])).toEqual(oursOnHost);
  });

  // Root in the namespace holds CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER
  // and CAP_CHOWN only over files whose owner and group are mapped
  // (capable_wrt_inode_uidgid()): none over a bind mount of the host's
  // root's files, all over the rootfs chowned into the range.
  const UNMAPPED_SCRIPT = [
    'rm -f /home/u/s /home/u/new /home/u/t',
    'echo x > /mnt/host/new; echo "write in the bind: $?"',
    'cat /mnt/host/secret; echo "read 0600: $?"',
    'ls /mnt/host/locked; echo "list 0700: $?"',
    'chown 0:0 /mnt/host/pub; echo "chown: $?"',
    'chmod 666 /mnt/host/pub; echo "chmod: $?"',
    'touch -d 2001-01-01 /mnt/host/pub; echo "utimes: $?"',
    'mkdir /mnt/host/d; echo "mkdir: $?"',
    'rm /mnt/host/pub; echo "unlink: $?"',
    // The fd forms too: the sentry holds the fd, but the kernel must check the program.
    '/bin/fd-attr /mnt/host/pub',
    'stat -c "%u:%g %a %n" /mnt/host /mnt/host/pub /mnt/host/secret',
    'cat /mnt/host/pub; echo "read 0644: $?"',
    'echo s > /home/u/s && chown 1000:1000 /home/u/s && chmod 600 /home/u/s; echo "mapped setup: $?"',
    'cat /home/u/s; echo "read mapped 0600: $?"',
    'echo y > /home/u/new; echo "write in a mapped 0755 dir: $?"',
    'chown 0:0 /home/u/s; echo "chown mapped: $?"',
    'chmod 644 /home/u/new && chown 1000 /home/u/new && chmod 600 /home/u/new; echo "chmod mapped: $?"',
    'echo t > /home/u/t && /bin/fd-attr /home/u/t',
    'stat -c "%u:%g %a %n" /home/u/s /home/u/new',
  ].join('; ');

  it('denies root\'s file capabilities over unmapped owners (a bind mount of host-root files) and keeps them over mapped ones, as runc does', () => {
    const host = path.join(tmp, `host-${seq + 1}`);
    fs.mkdirSync(path.join(host, 'locked'), { recursive: true, mode: 0o700 });
    fs.chmodSync(host, 0o755);
    fs.writeFileSync(path.join(host, 'secret'), 'secret\n', { mode: 0o600 });
    fs.writeFileSync(path.join(host, 'pub'), 'pub\n', { mode: 0o644 });
    fs.writeFileSync(path.join(host, 'locked', 'f'), 'f\n');
    const before = owners(host, ['.', 'secret', 'pub', 'locked']);
    expect(before).toEqual({ '.': '0:0 40755', secret: '0:0 100600', pub: '0:0 100644', locked: '0:0 40700' });
    const { dir, rootfs } = mappedBundle((c) => {
      c.process.args = ['sh', '-c', UNMAPPED_SCRIPT];
      c.mounts.push({ destination: '/mnt/host', type: 'bind', source: host, options: ['rbind', 'rw'] });
      for (const set of ['bounding', 'effective', 'permitted']) {
        c.process.capabilities[set] = [...new Set([...c.process.capabilities[set] ?? [], 'CAP_DAC_READ_SEARCH', 'CAP_FSETID', 'CAP_MKNOD'])];
      }
    });
    fs.mkdirSync(path.join(rootfs, 'mnt', 'host'), { recursive: true });
    execFileSync('chown', ['-R', '100000:100000', path.join(rootfs, 'mnt')]);
    // Static: the busybox rootfs has no libc.
    execFileSync('gcc', ['-static', '-O1', '-Wall', '-Werror', '-o', path.join(rootfs, 'bin', 'fd-attr'), path.join(HELPERS_DIR, 'fd-attr.c')]);
    const ours = tsvisor(['run', '--bundle', dir, `um${seq}`]);
    expect(ours.status, ours.stderr).toBe(0);
    expect(owners(host, ['.', 'secret', 'pub', 'locked', 'new', 'd'])).toEqual({ ...before, new: 'missing', d: 'missing' });
    const oursOnHost = owners(rootfs, ['home/u/s', 'home/u/new']);
    const theirs = runc(['run', '--bundle', dir, `um${seq}`]);
    expect(theirs.status, theirs.stderr).toBe(0);
    expect(owners(host, ['.', 'secret', 'pub', 'locked', 'new', 'd'])).toEqual({ ...before, new: 'missing', d: 'missing' });
    expect(owners(rootfs, ['home/u/s', 'home/u/new'])).toEqual(oursOnHost);
    expect(ours.stdout).toBe(theirs.stdout);
    expect(ours.stderr.replace(/\r/g, '')).toBe(theirs.stderr);
    for (const denied of ['write in the bind', 'read 0600', 'list 0700', 'chown', 'chmod', 'utimes', 'mkdir', 'unlink']) {
      expect(ours.stdout).toContain(`${denied}: 1\n`);
    }
    for (const allowed of ['read 0644', 'mapped setup', 'read mapped 0600', 'write in a mapped 0755 dir', 'chown mapped', 'chmod mapped']) {
      expect(ours.stdout).toContain(`${allowed}: 0\n`);
    }
    expect(ours.stdout).toContain('65534:65534 755 /mnt/host\n');
    // fd-attr over /mnt/host/pub (host root's: EPERM each), then /home/u/t (mapped: all allowed).
    const fdLines = ours.stdout.split('\n').filter((l) => /^(f\w+|utimensat) .*: \d+$/.test(l));
    const fdCalls = ['fchown fd', 'fchownat AT_EMPTY_PATH fd', 'fchownat AT_EMPTY_PATH O_PATH', 'fchmod fd',
      'fchmodat2 AT_EMPTY_PATH fd', 'fchmodat2 AT_EMPTY_PATH O_PATH', 'futimens fd', 'utimensat AT_EMPTY_PATH O_PATH'];
    expect(fdLines).toEqual([...fdCalls.map((c) => `${c}: 1`), ...fdCalls.map((c) => `${c}: 0`)]);
    expect(oursOnHost).toEqual({ 'home/u/s': '100000:100000 100600', 'home/u/new': '101000:100000 100600' });
  });

  it.each([
    ['without a user namespace', (c: Config) => { c.linux.uidMappings = MAPPING; c.linux.gidMappings = MAPPING; }],
    ['overlapping', (c: Config) => {
      c.linux.namespaces.push({ type: 'user' });
      c.linux.uidMappings = [...MAPPING, { containerID: 70000, hostID: 100001, size: 1 }];
      c.linux.gidMappings = MAPPING;
    }],
  ])('are refused %s, naming linux.uidMappings, with nothing left behind', (_what, edit) => {
    const { dir, rootfs } = bundle((c) => {
      edit(c);
      c.process.args = ['sh', '-c', 'echo x > /f'];
    });
    const r = create(dir, `ur${seq}`);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toContain('linux.uidMappings');
    expect(fs.existsSync(path.join(stateRoot, `ur${seq}`))).toBe(false);
    expect(fs.existsSync(path.join(rootfs, 'f'))).toBe(false);
  });
});

describe('hooks', () => {
  it('prestart runs in the host\'s namespaces; createContainer and startContainer in the container\'s', () => {
    const log = path.join(tmp, 'hooks.log');
    // On the host (prestart, createContainer: the path resolves there): its namespaces and its state.
    const hostHook = path.join(tmp, 'hook.sh');
    fs.writeFileSync(hostHook, `#!/bin/sh\necho "$1 $(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/uts) $(sed -n 's/.*"pid":\\([0-9]*\\).*/\\1/p')" >> ${log}\n`, { mode: 0o755 });
    const { dir, rootfs } = bundle((c) => {
      c.process.args = ['sh', '-c', 'cat /started'];
      c.hooks = {
        prestart: [{ path: hostHook, args: ['hook.sh', 'prestart'] }],
        createContainer: [{ path: hostHook, args: ['hook.sh', 'createContainer'] }],
        // In the container (its path resolves there): / is the container's root.
        startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'echo "$(readlink /proc/self/ns/mnt) $(readlink /proc/self/ns/user) $(ls /home)" > /started'] }],
      };
    });
    const id = `h${seq}`;
    const created = create(dir, id);
    expect(created.status, created.stderr).toBe(0);
    try {
      const lines = fs.readFileSync(log, 'utf8').trim().split('\n').map((l) => l.split(' '));
      expect(lines.map((l) => l[0])).toEqual(['prestart', 'createContainer']);
      const [pre, cc] = lines as [string[], string[]];
      const init = Number(cc[3]);
      const launcher = Number(/\nPPid:\s*(\d+)/.exec(fs.readFileSync(`/proc/${init}/status`, 'utf8'))![1]);
      const ns = (pid: number | 'self', kind: string): string => fs.readlinkSync(`/proc/${pid}/ns/${kind}`);
      expect(pre.slice(1, 3)).toEqual([ns('self', 'mnt'), ns('self', 'uts')]);
      // createContainer: the container's mount namespace before its pivot_root (the gofer's, which its launcher joined).
      expect(cc[1]).toBe(ns(launcher, 'mnt'));
      expect(cc[1]).not.toBe(ns('self', 'mnt'));
      expect(cc[2]).toBe(ns(init, 'uts'));
      expect(cc[2]).not.toBe(ns('self', 'uts'));
      // startContainer: all the sandbox's namespaces (read now: pid 1 is gone once the program ends).
      const container = [ns(init, 'mnt'), ns(init, 'user'), 'u'];
      const started = tsvisor(['start', id]);
      expect(started.status, started.stderr).toBe(0);
      const waited = tsvisor(['wait', id]);
      expect(waited.status, waited.stderr).toBe(0);
      expect(fs.readFileSync(path.join(rootfs, 'started'), 'utf8').trim().split(' ')).toEqual(container);
    } finally {
      tsvisor(['delete', '--force', id]);
    }
  });
});
