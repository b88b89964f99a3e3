// tsvisor do's root and mounts: the overlay modes (memory, dir=PATH, none),
// --bind and --tmpfs, the sandbox's own devpts (/dev/ptmx, openpty), and the
// minimal /sys, each checked on real programs and, where there is one, against
// the same thing done natively.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_ENV, PROJECT_ROOT, doArgs, makeWorkDir, removeDir, runCli, runNative, runSandboxed, sandboxArgs, sandboxCommandLine, spawnSandboxed, waitFor,
  type RunResult,
} from './helpers/sandbox.js';

let work: string;
beforeAll(() => {
  work = makeWorkDir('mounts');
});
afterAll(() => removeDir(work));

const show = (r: RunResult): string => `status ${r.status}\nstdout:\n${r.stdout}\nstderr:\n${r.stderr}`;

/** A python3 one-liner prelude: w(path) writes, md(path) makes a directory; each prints ok or the errno's name. */
const PY_TRY = [
  'import errno, os, sys',
  'def attempt(f):',
  '  try:',
  '    f(); return "ok"',
  '  except OSError as e:',
  '    return errno.errorcode[e.errno]',
  'def w(p): return attempt(lambda: open(p, "w").write("x"))',
  'def md(p): return attempt(lambda: os.mkdir(p))',
].join('\n');

function py(body: string): string[] {
  return ['python3', '-c', `${PY_TRY}\n${body}`];
}

function freshDir(name: string): string {
  const d = path.join(work, name);
  fs.mkdirSync(d, { recursive: true });
  return d;
}

describe('--overlay none: a read-only root', () => {
  it('writes to / and /etc and a mkdir are EROFS; /tmp and /dev/shm stay writable', async () => {
    const name = `tsvisor-ro-probe-${process.pid}`;
    const r = await runSandboxed(py(
      `print(w("/${name}"), w("/etc/${name}"), md("/${name}.d"), w("/tmp/x"), w("/dev/shm/x"), w("/usr/bin/${name}"))`,
    ), { cwd: work, flags: ['--overlay', 'none'] });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout.trim()).toBe('EROFS EROFS EROFS ok ok EROFS');
    expect(fs.existsSync(`/${name}`)).toBe(false);
  });

  it('the root is read-only even for root in the sandbox: remounting it is refused', async () => {
    const r = await runSandboxed(['sh', '-c', 'mount -o remount,rw / 2>/dev/null && echo remounted; echo x > /x 2>/dev/null || echo still-ro'],
      { cwd: work, flags: ['--overlay', 'none'] });
    expect(r.stdout.trim(), show(r)).toBe('still-ro');
  });

  it('a --bind to a missing DST fails with a message (a read-only root cannot get it), exit 125', async () => {
    const src = freshDir('ro-src');
    const r = await runCli(doArgs(['--overlay', 'none', '--bind', `${src}:/nonexistent-tsvisor-dst`, '--', 'true']), { cwd: work });
    expect(r.status, show(r)).toBe(125);
    expect(r.stderr).toMatch(/\/nonexistent-tsvisor-dst does not exist in the sandbox.*overlay none/);
    expect(r.stderr).toMatch(/root could not be set up/);
  });

  it('a --bind on an existing directory works, read-write', async () => {
    const src = freshDir('ro-bind');
    const r = await runSandboxed(py('print(w("/mnt/from-sandbox"))'), { cwd: work, flags: ['--overlay', 'none', '--bind', `${src}:/mnt`] });
    expect(r.stdout.trim(), show(r)).toBe('ok');
    expect(fs.readFileSync(path.join(src, 'from-sandbox'), 'utf8')).toBe('x');
  });

  it('a --rootfs without the mount points the sandbox needs: a clear message', async () => {
    const rootfs = freshDir('bare-rootfs');
    const r = await runCli(doArgs(['--overlay', 'none', '--rootfs', rootfs, '--', '/x']), { cwd: work });
    expect(r.status, show(r)).toBe(125);
    expect(r.stderr).toMatch(/the root has no \/tmp.*read-only/);
  });
});

describe('--overlay dir=PATH: the writable layer on disk', () => {
  it('holds the writes in PATH/tsvisor-upper-*/upper while the sandbox runs, and is removed after', async () => {
    const layers = freshDir('layers');
    const ctl = freshDir('dir-ctl');
    const name = `tsvisor-dir-probe-${process.pid}`;
    const child = spawnSandboxed(
      ['sh', '-c', `echo written > /${name} && touch /ctl/wrote && while [ ! -e /ctl/go ]; do sleep 0.1; done; cat /${name}`],
      { cwd: work, flags: ['--overlay', `dir=${layers}`, '--bind', `${ctl}:/ctl`] },
    );
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    const upperFile = (): string | undefined => {
      for (const d of fs.readdirSync(layers)) {
        const f = path.join(layers, d, 'upper', name);
        if (fs.existsSync(f)) return f;
      }
      return undefined;
    };
    try {
      const wrote = await waitFor(() => fs.existsSync(path.join(ctl, 'wrote')), 60_000);
      expect(wrote, Buffer.concat(err).toString()).toBe(true);
      const f = upperFile();
      expect(f, `entries: ${fs.readdirSync(layers).join(' ')}`).toMatch(new RegExp(`/tsvisor-upper-[^/]+/upper/${name}$`));
      expect(fs.readFileSync(f!, 'utf8')).toBe('written\n');
    } finally {
      fs.writeFileSync(path.join(ctl, 'go'), '');
    }
    expect(await exited, Buffer.concat(err).toString()).toBe(0);
    expect(Buffer.concat(out).toString()).toBe('written\n');
    // Thrown away as in memory mode: nothing in PATH, nothing on the host's /.
    expect(fs.readdirSync(layers)).toEqual([]);
    expect(fs.existsSync(`/${name}`)).toBe(false);
  });
});

describe('--overlay memory (the default)', () => {
  it('takes writes to / and /etc and throws them away at exit', async () => {
    const name = `tsvisor-mem-probe-${process.pid}`;
    const r = await runSandboxed(['sh', '-c', `echo a > /${name} && echo b > /etc/${name} && cat /${name} /etc/${name}`],
      { cwd: work, flags: ['--overlay', 'memory'] });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('a\nb\n');
    expect(fs.existsSync(`/${name}`)).toBe(false);
    expect(fs.existsSync(`/etc/${name}`)).toBe(false);
  });
});

describe('--bind SRC:DST[:ro]', () => {
  it('read-write: the sandbox reads the host\'s files and its writes land on the host', async () => {
    const src = freshDir('bind-rw');
    fs.writeFileSync(path.join(src, 'from-host'), 'host\n');
    const r = await runSandboxed(['sh', '-c', 'cat /data/from-host && echo sandbox > /data/from-sandbox && mkdir /data/d'],
      { cwd: work, flags: ['--bind', `${src}:/data`] });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('host\n');
    expect(fs.readFileSync(path.join(src, 'from-sandbox'), 'utf8')).toBe('sandbox\n');
    expect(fs.statSync(path.join(src, 'd')).isDirectory()).toBe(true);
  });

  it('inotify on a bind mount sees changes made on the host, and the sandbox\'s own, as natively', async () => {
    const src = freshDir('bind-inotify');
    // Watch, say so, then print the first three events' names and kinds.
    const watcher = [
      'import ctypes, os, struct, sys',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'fd = libc.inotify_init1(0)',
      'IN_CREATE, IN_CLOSE_WRITE, IN_DELETE = 0x100, 0x8, 0x200',
      'wd = libc.inotify_add_watch(fd, sys.argv[1].encode(), IN_CREATE | IN_CLOSE_WRITE | IN_DELETE)',
      'print("watching", wd > 0, flush=True)',
      'seen = []',
      'while len(seen) < 4:',
      '  buf = os.read(fd, 4096); off = 0',
      '  while off < len(buf):',
      '    _, mask, _, n = struct.unpack_from("iIII", buf, off)',
      '    name = buf[off + 16:off + 16 + n].rstrip(b"\\0").decode()',
      '    seen.append(f"{name}:{mask:#x}"); off += 16 + n',
      'print(" ".join(seen[:4]))',
    ].join('\n');
    const child = spawnSandboxed(['sh', '-c', `python3 -c '${watcher}' /data & until [ -s /data/from-host ]; do sleep 0.1; done; echo own > /data/from-sandbox; wait`],
      { cwd: work, flags: ['--bind', `${src}:/data`] });
    let out = '';
    child.stdout?.on('data', (b: Buffer) => { out += b.toString(); });
    expect(await waitFor(() => out.includes('watching True'), 60_000), out).toBe(true);
    fs.writeFileSync(path.join(src, 'from-host'), 'host\n');
    const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
    expect(await exited).toBe(0);
    const events = out.split('\n')[1]!.split(' ');
    // IN_CREATE then IN_CLOSE_WRITE for each file, the host's and the sandbox's
    // (which may interleave: the sandbox writes once the host's file has bytes).
    for (const file of ['from-host', 'from-sandbox']) {
      expect(events.filter((e) => e.startsWith(`${file}:`)), out).toEqual([`${file}:0x100`, `${file}:0x8`]);
    }
  });

  it('read-only: reads work, writes, creates and removes are EROFS, the host is unchanged', async () => {
    const src = freshDir('bind-ro');
    fs.writeFileSync(path.join(src, 'f'), 'host\n');
    const r = await runSandboxed(py([
      'print(open("/ro/f").read().strip())',
      'print(w("/ro/f"), w("/ro/new"), md("/ro/d"), attempt(lambda: os.unlink("/ro/f")), attempt(lambda: os.rename("/ro/f", "/ro/g")))',
    ].join('\n')), { cwd: work, flags: ['--bind', `${src}:/ro:ro`] });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('host\nEROFS EROFS EROFS EROFS EROFS\n');
    expect(fs.readdirSync(src)).toEqual(['f']);
    expect(fs.readFileSync(path.join(src, 'f'), 'utf8')).toBe('host\n');
  });

  it('read-only is recursive: a mount below SRC is read-only too', async () => {
    // A tmpfs below SRC, in a private mount namespace (never the host's), around tsvisor.
    const src = freshDir('bind-ro-rec');
    fs.mkdirSync(path.join(src, 'sub'), { recursive: true });
    const cmd = `mount -t tmpfs tsvisor-test ${src}/sub && exec ${sandboxCommandLine(['--bind', `${src}:/rr:ro`])} -- `
      + `python3 -c 'import errno\ntry:\n  open("/rr/sub/x","w"); print("ok")\nexcept OSError as e: print(errno.errorcode[e.errno])'`;
    const r = await runNative(['unshare', '--mount', 'sh', '-c', cmd], { cwd: PROJECT_ROOT });
    expect(r.stdout.trim(), show(r)).toBe('EROFS');
  });

  it('a file onto a file, and a DST that does not exist yet is made (in the throwaway layer)', async () => {
    const src = freshDir('bind-file');
    const file = path.join(src, 'conf');
    fs.writeFileSync(file, 'bound file\n');
    const dst = `/tsvisor-bind-new-${process.pid}/deeper/conf`;
    const r = await runSandboxed(['sh', '-c', `cat /etc/hostname-bound ${dst}; echo more >> ${dst}`],
      { cwd: work, flags: ['--bind', `${file}:/etc/hostname-bound:ro`, '--bind', `${file}:${dst}`] });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('bound file\nbound file\n');
    expect(fs.readFileSync(file, 'utf8')).toBe('bound file\nmore\n');
    expect(fs.existsSync(`/tsvisor-bind-new-${process.pid}`)).toBe(false);
  });

  it('a file onto a directory, or the other way round: a message and exit 125', async () => {
    const src = freshDir('bind-kind');
    fs.writeFileSync(path.join(src, 'f'), '');
    const a = await runCli(doArgs(['--bind', `${src}/f:/etc`, '--', 'true']), { cwd: work });
    expect(a.status, show(a)).toBe(125);
    expect(a.stderr).toMatch(/\/etc is a directory in the sandbox/);
    const b = await runCli(doArgs(['--bind', `${src}:/etc/hostname`, '--', 'true']), { cwd: work });
    expect(b.status, show(b)).toBe(125);
    expect(b.stderr).toMatch(/\/etc\/hostname is not a directory/);
  });

  it('DST is looked up inside the sandbox: a symlink in --rootfs cannot send a mount to the host', async () => {
    const rootfs = freshDir('evil-rootfs');
    const outside = freshDir('outside');
    fs.mkdirSync(path.join(rootfs, 'etc'), { recursive: true });
    fs.symlinkSync(outside, path.join(rootfs, 'escape'));
    fs.symlinkSync('/etc', path.join(rootfs, 'etclink'));
    const src = freshDir('evil-src');
    // The command does not exist in that rootfs (127): the mounts were made before.
    const r = await runCli(doArgs(['--rootfs', rootfs, '--bind', `${src}:/etclink/sub`, '--', '/nothing']), { cwd: work });
    expect(r.status, show(r)).toBe(127);
    expect(fs.existsSync('/etc/sub')).toBe(false);
    expect(fs.existsSync(path.join(rootfs, 'etc', 'sub'))).toBe(false);
    // A symlink out of the rootfs is dangling inside it: refused, and nothing made outside.
    const e = await runCli(doArgs(['--rootfs', rootfs, '--bind', `${src}:/escape/sub`, '--', '/nothing']), { cwd: work });
    expect(e.status, show(e)).toBe(125);
    expect(e.stderr).toMatch(/\/escape is a symlink whose target does not exist in the sandbox/);
    expect(fs.readdirSync(outside)).toEqual([]);
  });
});

describe('--tmpfs DST[:size=N][,mode=OCTAL]', () => {
  // Writes 1 KiB at a time until an error; prints the bytes written, the errno, the mode and the size.
  const writer = (dir: string): string[] => py([
    `d = "${dir}"`,
    'st = os.statvfs(d)',
    'n = 0',
    'err = "none"',
    'with open(d + "/fill", "wb", buffering=0) as f:',
    '  while n < (1 << 22):',
    '    try:',
    '      n += f.write(b"x" * 1024)',
    '    except OSError as e:',
    '      err = errno.errorcode[e.errno]; break',
    'print(n, err, oct(os.stat(d).st_mode & 0o7777), st.f_blocks * st.f_frsize)',
  ].join('\n'));

  it('writing past the size is ENOSPC, exactly as in the same tmpfs natively', async () => {
    const mnt = freshDir('native-tmpfs');
    const native = await runNative(['unshare', '--mount', 'sh', '-c',
      `mount -t tmpfs -o size=64k,mode=0710 tsvisor-test ${mnt} && exec "$@"`, 'sh', ...writer(mnt)], { cwd: work });
    expect(native.status, show(native)).toBe(0);
    const r = await runSandboxed(writer('/scratch'), { cwd: work, flags: ['--tmpfs', '/scratch:size=64k,mode=0710'] });
    expect(r.status, show(r)).toBe(0);
    expect(native.stdout.trim()).toBe('65536 ENOSPC 0o710 65536');
    expect(r.stdout).toBe(native.stdout);
  });

  it('without options: a tmpfs of the default size and mode 1777, over an existing /tmp too', async () => {
    const r = await runSandboxed(['sh', '-c', "stat -c '%a %F' /t /tmp; stat -f -c %T /t /tmp; echo x > /t/f && cat /t/f"],
      { cwd: work, flags: ['--tmpfs', '/t', '--tmpfs', '/tmp:size=1m'] });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('1777 directory\n1777 directory\ntmpfs\ntmpfs\nx\n');
  });

  it('mounts go in the order given: a bind inside an earlier tmpfs', async () => {
    const src = freshDir('in-tmpfs');
    fs.writeFileSync(path.join(src, 'f'), 'inner\n');
    const r = await runSandboxed(['cat', '/outer/inner/f'], { cwd: work, flags: ['--tmpfs', '/outer:size=1m', '--bind', `${src}:/outer/inner:ro`] });
    expect(r.stdout, show(r)).toBe('inner\n');
  });
});

describe('/dev/ptmx and /dev/pts: the sandbox\'s own ptys', () => {
  const OPENPTY = [
    'import ctypes, os, re',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'libc.ptsname.restype = ctypes.c_char_p',
    'm, s = os.openpty()',
    'os.write(m, b"to-slave\\n")',
    'print(re.sub(r"[0-9]+$", "N", os.ttyname(s)), os.read(s, 100))',
    // posix_openpt by hand: /dev/ptmx, grantpt, unlockpt, ptsname, open the slave by name.
    'p = os.open("/dev/ptmx", os.O_RDWR | os.O_NOCTTY)',
    'assert libc.grantpt(p) == 0 and libc.unlockpt(p) == 0',
    'name = libc.ptsname(p).decode()',
    'q = os.open(name, os.O_RDWR | os.O_NOCTTY)',
    'os.write(q, b"to-master\\n")',
    'print(re.sub(r"[0-9]+$", "N", name), os.path.samestat(os.fstat(q), os.stat(name)), os.read(p, 100))',
  ].join('\n');

  it('openpty() and /dev/ptmx + ptsname give working ptys, as natively', async () => {
    const native = await runNative(['python3', '-c', OPENPTY], { cwd: work });
    const r = await runSandboxed(['python3', '-c', OPENPTY], { cwd: work });
    expect(native.status, show(native)).toBe(0);
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe(native.stdout);
    expect(r.stdout).toBe("/dev/pts/N b'to-slave\\n'\n/dev/pts/N True b'to-master\\r\\n'\n");
  });

  it('numbers from 0 (a devpts instance of its own), /dev/ptmx -> pts/ptmx', async () => {
    const r = await runSandboxed(['sh', '-c', 'readlink /dev/ptmx; ls /dev/pts; python3 -c "import os; m, s = os.openpty(); print(os.ttyname(s))"'],
      { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('pts/ptmx\nptmx\n/dev/pts/0\n');
  });

  it('script(1) runs a program on a new pty inside the sandbox', async () => {
    const r = await runSandboxed(['script', '-qec', 'tty; test -t 0 && echo on-a-tty', '/dev/null'], { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout.replace(/\r/g, '')).toBe('/dev/pts/0\non-a-tty\n');
  });
});

describe('/sys', () => {
  const CPU = ['online', 'possible', 'present', 'kernel_max'];

  it('has the host\'s CPU counts, and nproc agrees with the host\'s', async () => {
    const cmd = `cat ${CPU.map((f) => `/sys/devices/system/cpu/${f}`).join(' ')}; nproc; nproc --all`;
    const native = await runNative(['sh', '-c', cmd], { cwd: work });
    const r = await runSandboxed(['sh', '-c', cmd], { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe(native.stdout);
  });

  it('has an empty, read-only /sys/fs/cgroup, and /sys itself is read-only', async () => {
    const r = await runSandboxed(py([
      'print(os.path.isdir("/sys/fs/cgroup"), os.listdir("/sys/fs/cgroup"))',
      'print(w("/sys/fs/cgroup/x"), md("/sys/fs/cgroup/d"), w("/sys/x"))',
    ].join('\n')), { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('True []\nEROFS EROFS EROFS\n');
  });
});

describe('the sentry knows every mount of the tree (its mount table, from the sandbox\'s mountinfo)', () => {
  /** Python helpers: xdev(dir, path) is openat2(RESOLVE_NO_XDEV) from dir, fstype(path) statfs's f_type in hex. */
  const PROBE = [
    'import ctypes',
    'libc = ctypes.CDLL(None, use_errno=True)',
    'class How(ctypes.Structure):',
    '  _fields_ = [("flags", ctypes.c_uint64), ("mode", ctypes.c_uint64), ("resolve", ctypes.c_uint64)]',
    'def oa2(d, p, resolve):',
    '  fd = os.open(d, os.O_RDONLY | os.O_DIRECTORY)',
    '  how = How(os.O_RDONLY, 0, resolve)',
    '  r = libc.syscall(437, fd, p.encode(), ctypes.byref(how), 24)',
    '  e = ctypes.get_errno()',
    '  os.close(fd)',
    '  if r < 0: return errno.errorcode[e]',
    '  os.close(r)',
    '  return "ok"',
    'def xdev(d, p): return oa2(d, p, 1)',
    'class Statfs(ctypes.Structure):',
    '  _fields_ = [("f_type", ctypes.c_long), ("rest", ctypes.c_char * 112)]',
    'def fstype(p):',
    '  s = Statfs()',
    '  return hex(s.f_type) if libc.statfs(p.encode(), ctypes.byref(s)) == 0 else errno.errorcode[ctypes.get_errno()]',
  ].join('\n');

  it('RESOLVE_NO_XDEV refuses to cross into /tmp, /dev, /dev/shm, /dev/null and back out by ".."', async () => {
    const r = await runSandboxed(py(`${PROBE}
print(xdev("/", "tmp"), xdev("/", "dev"), xdev("/dev", "shm"), xdev("/dev", "null"), xdev("/", "etc/passwd"))
print(xdev("/tmp", ".."), xdev("/dev/shm", ".."), xdev("/dev/shm", "."), xdev("/dev", "../proc"), xdev("/sys", "fs/cgroup"))
print(os.stat("/dev/shm/..").st_ino == os.stat("/dev").st_ino, os.stat("/tmp/..").st_ino == os.stat("/").st_ino)`), { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('EXDEV EXDEV EXDEV EXDEV ok\nEXDEV EXDEV ok EXDEV EXDEV\nTrue True\n');
  });

  it('statfs answers for the mount holding the path: overlayfs, tmpfs, devpts, proc', async () => {
    const r = await runSandboxed(py(`${PROBE}
print(*[fstype(p) for p in ["/", "/tmp", "/dev", "/dev/shm", "/dev/pts", "/sys", "/sys/fs/cgroup", "/proc"]])
print(*[bool(os.statvfs(p).f_flag & os.ST_RDONLY) for p in ["/", "/tmp", "/sys", "/sys/fs/cgroup"]])`), { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe('0x794c7630 0x1021994 0x1021994 0x1021994 0x1cd1 0x1021994 0x1021994 0x9fa0\nFalse False True True\n');
  });

  it('a --bind :ro and a --tmpfs are mounts of their own: EROFS, EXDEV, EBUSY, their own statfs', async () => {
    const src = freshDir('table-bind-ro');
    fs.writeFileSync(path.join(src, 'f'), 'host\n');
    fs.mkdirSync(path.join(src, 'd'));
    const r = await runSandboxed(py(`${PROBE}
print(w("/ro/f"), attempt(lambda: os.open("/ro/f", os.O_WRONLY)), md("/ro/new"), attempt(lambda: os.unlink("/ro/f")), attempt(lambda: os.rmdir("/ro/d")))
print(xdev("/", "ro/f"), xdev("/", "scratch"), xdev("/scratch", ".."), xdev("/ro", "d"))
print(w("/scratch/x"), attempt(lambda: os.rename("/scratch/x", "/tmp/x")), attempt(lambda: os.link("/scratch/x", "/x")))
print(attempt(lambda: os.rmdir("/scratch")), attempt(lambda: os.rmdir("/ro")), attempt(lambda: os.rename("/scratch", "/s2")))
print(fstype("/scratch"), fstype("/scratch/x"), bool(os.statvfs("/ro").f_flag & os.ST_RDONLY), bool(os.statvfs("/scratch").f_flag & os.ST_RDONLY))`),
    { cwd: work, flags: ['--bind', `${src}:/ro:ro`, '--tmpfs', '/scratch:size=1m'] });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe([
      'EROFS EROFS EROFS EROFS EROFS',
      'EXDEV EXDEV EXDEV ok',
      'ok EXDEV EXDEV',
      'EBUSY EBUSY EBUSY',
      '0x1021994 0x1021994 True False',
      '',
    ].join('\n'));
    expect(fs.readdirSync(src).sort()).toEqual(['d', 'f']);
  });
});

describe('bad mount options: a message and a non-zero exit, nothing started', () => {
  const CASES: ReadonlyArray<readonly [string, readonly string[], RegExp]> = [
    ['an unknown overlay mode', ['--overlay', 'disk'], /--overlay must be memory, none or dir=PATH, not 'disk'/],
    ['an overlay dir that does not exist', ['--overlay', 'dir=/nonexistent-tsvisor-layers'], /nonexistent-tsvisor-layers: no such directory/],
    ['a --bind without a colon', ['--bind', '/etc'], /expected SRC:DST/],
    ['a --bind of a nonexistent SRC', ['--bind', '/nonexistent-tsvisor-src:/x'], /nonexistent-tsvisor-src: no such file or directory/],
    ['a --bind to a relative DST', ['--bind', '/etc:etc2'], /absolute path/],
    ['a --bind with a bad mode', ['--bind', '/etc:/e:rx'], /ro or rw/],
    ['a --tmpfs with a bad size', ['--tmpfs', '/t:size=12q'], /bad size '12q'/],
    ['a --tmpfs with a bad mode', ['--tmpfs', '/t:mode=8'], /octal/],
    ['a --tmpfs in /proc', ['--tmpfs', '/proc/x'], /\/proc/],
  ];
  for (const [name, flags, message] of CASES) {
    it(`${name}: exit 2`, async () => {
      const r = await runCli(doArgs([...flags, '--', 'true']), { cwd: work });
      expect(r.status, show(r)).toBe(2);
      expect(r.stderr).toMatch(message);
      expect(r.stderr).not.toMatch(/internal error|    at /);
    });
  }
});

describe('nothing is left behind', () => {
  it('no state folder, no overlay folder, no mount on the host after a run with every option', async () => {
    const layers = freshDir('left-layers');
    const src = freshDir('left-src');
    const child = spawnSandboxed(['sh', '-c', 'echo x > /x && echo y > /data/y && echo z > /t/z'], {
      cwd: work, env: BASE_ENV,
      flags: ['--overlay', `dir=${layers}`, '--bind', `${src}:/data`, '--tmpfs', '/t:size=1m'],
    });
    const err: Buffer[] = [];
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    const status = await new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    expect(status, Buffer.concat(err).toString()).toBe(0);
    expect(fs.readdirSync(layers)).toEqual([]);
    expect(fs.readdirSync(src)).toEqual(['y']);
    // Its state folder named its owner: none names this run's tsvisor any more.
    const owned = fs.readdirSync('/tmp').filter((n) => n.startsWith('tsvisor-')).filter((n) => {
      try {
        return fs.readFileSync(path.join('/tmp', n, 'owner'), 'utf8') === String(child.pid);
      } catch {
        return false;
      }
    });
    expect(owned).toEqual([]);
    // The mounts lived in the gofer's private namespace: the host's table never saw them.
    const after = fs.readFileSync('/proc/self/mountinfo', 'utf8');
    expect(after.split('\n').filter((l) => l.includes(src) || l.includes(layers) || l.includes('tsvisor-tmpfs'))).toEqual([]);
  });

  it('a tsvisor killed with -9 leaves its overlay folder to the next run, which removes it', async () => {
    const layers = freshDir('killed-layers');
    const child = spawnSandboxed(['sh', '-c', 'echo x > /x; sleep 60'], { cwd: work, flags: ['--overlay', `dir=${layers}`] });
    const exited = new Promise<void>((r) => child.on('close', () => r()));
    expect(await waitFor(() => fs.readdirSync(layers).length === 1, 60_000)).toBe(true);
    child.kill('SIGKILL');
    await exited;
    // The sandbox dies with it (PR_SET_PDEATHSIG); the next run sweeps what the dead one left.
    const sweep = await waitFor(() => {
      spawnSync(process.execPath, sandboxArgs(['true']), { cwd: work });
      return fs.readdirSync(layers).length === 0;
    }, 30_000);
    expect(sweep, `left: ${fs.readdirSync(layers).join(' ')}`).toBe(true);
  });
});

// The host must have what the tests run natively.
execFileSync('sh', ['-c', 'command -v python3 script unshare nproc']);
