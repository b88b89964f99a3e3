// The real gofer process (build/Release/tsvisor-gofer) serving a real temporary tree,
// driven through GoferClient, with every effect checked on the host. Build
// first (npx tsc -p tsconfig.json): the gofer runs from dist/.
import { execFileSync, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import koffi from 'koffi';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOFER_PATH, native } from '../native/index.js';
import {
  AT_REMOVEDIR, E, F_GETFL, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_RDONLY, O_RDWR,
  O_TMPFILE, O_TRUNC, O_WRONLY, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG, S_IFSOCK,
} from '../sentry/abi/linux.js';
import { GoferClient, GoferDiedError, UNCHANGED_ID } from '../gofer/client.js';
import { MAX_MESSAGE_BYTES, opCode, type FsIdentity } from '../gofer/protocol.js';

/** The gofer (native/gofer/, built by node-gyp). */
const MAIN = GOFER_PATH;
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;
const FD_CLOEXEC = 1;
const F_GETFD = 1;
const DT_DIR = 4;
const DT_REG = 8;
const DT_LNK = 10;

const libc = koffi.load('libc.so.6');
const fcntl: (fd: number, cmd: number) => number = libc.func('int fcntl(int fd, int cmd, ...)');

interface RunningGofer {
  readonly client: GoferClient;
  readonly child: ChildProcess;
  /** Our end of the socket (owned by the client). */
  readonly sockFd: number;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

/** Spawns a gofer with the socket as its fd 3. `command` wraps the gofer's command line (for unshare). */
function startGofer(root: string, extraArgs: string[] = [], command?: (gofer: string[]) => string[]): RunningGofer {
  const pair = native.socketpair(true);
  if (typeof pair === 'number') throw new Error(`socketpair: errno ${-pair}`);
  const [mine, theirs] = [pair[0]!, pair[1]!];
  const goferArgs = [MAIN, '--root', root, '--sock-fd', '3', ...extraArgs];
  const argv = command ? command(goferArgs) : goferArgs;
  const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'inherit', 'inherit', theirs] });
  native.close(theirs); // only the gofer holds its end: its death is our end of file
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.on('exit', (code, signal) => resolve({ code, signal }));
  });
  return { client: new GoferClient(mine), child, sockFd: mine, exited };
}

function fdCount(pid: number): number {
  return fs.readdirSync(`/proc/${pid}/fd`).length;
}

function statxMode(statx: Uint8Array): number {
  return statx[28]! | (statx[29]! << 8);
}

function statxIno(statx: Uint8Array): bigint {
  return new DataView(statx.buffer, statx.byteOffset).getBigUint64(32, true);
}

function statxSize(statx: Uint8Array): bigint {
  return new DataView(statx.buffer, statx.byteOffset).getBigUint64(40, true);
}

function readAll(fd: number): string {
  const buf = Buffer.alloc(4096);
  const n = fs.readSync(fd, buf, 0, buf.length, 0);
  return buf.subarray(0, n).toString('latin1');
}

let root = '';
let gofer: RunningGofer;
let client: GoferClient;
let fdsAtStart = 0;
const etcPasswd = fs.statSync('/etc/passwd');

beforeAll(() => {
  if (!fs.existsSync(MAIN)) throw new Error(`${MAIN} is missing: build first (node-gyp build)`);
  root = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-gofer-'));
  fs.mkdirSync(path.join(root, 'dir', 'sub'), { recursive: true });
  fs.writeFileSync(path.join(root, 'dir', 'file.txt'), 'hello gofer');
  fs.mkdirSync(path.join(root, 'a', 'b', 'c'), { recursive: true });
  fs.writeFileSync(path.join(root, 'a', 'b', 'c', 'd'), 'deep');
  fs.symlinkSync('dir/file.txt', path.join(root, 'link'));
  fs.symlinkSync('../../../../etc', path.join(root, 'escape'));
  fs.symlinkSync('/etc/passwd', path.join(root, 'abs'));
  fs.mkdirSync(path.join(root, 'proc'));
  gofer = startGofer(root);
  client = gofer.client;
  client.walk([]); // the gofer is up
  fdsAtStart = fdCount(gofer.child.pid!);
});

afterAll(async () => {
  client.close();
  await gofer.exited;
  fs.rmSync(root, { recursive: true, force: true });
});

describe('walk', () => {
  it('walks a regular file', () => {
    const w = client.walk(['dir', 'file.txt']);
    expect(w).toMatchObject({ found: 2, errno: 0, symlinkTarget: undefined });
    expect(statxMode(w.statx) & S_IFMT).toBe(S_IFREG);
    expect(statxSize(w.statx)).toBe(11n);
    expect(statxIno(w.statx)).toBe(fs.statSync(path.join(root, 'dir', 'file.txt'), { bigint: true }).ino);
  });

  it('walks the root itself for an empty path', () => {
    const w = client.walk([]);
    expect(w).toMatchObject({ found: 0, errno: 0 });
    expect(statxMode(w.statx) & S_IFMT).toBe(S_IFDIR);
    expect(statxIno(w.statx)).toBe(fs.statSync(root, { bigint: true }).ino);
  });

  it('stops at the first missing component with the last found one', () => {
    const w = client.walk(['dir', 'nope', 'x']);
    expect(w).toMatchObject({ found: 1, errno: E.ENOENT });
    expect(statxIno(w.statx)).toBe(fs.statSync(path.join(root, 'dir'), { bigint: true }).ino);
    const last = client.walk(['dir', 'nope']);
    expect(last).toMatchObject({ found: 1, errno: E.ENOENT });
    expect(statxIno(last.statx)).toBe(fs.statSync(path.join(root, 'dir'), { bigint: true }).ino);
    expect(client.walk(['a', 'b', 'nope', 'd'])).toMatchObject({ found: 2, errno: E.ENOENT });
    const first = client.walk(['nope']);
    expect(first).toMatchObject({ found: 0, errno: E.ENOENT });
    expect(statxIno(first.statx)).toBe(fs.statSync(root, { bigint: true }).ino);
  });

  it('answers ENOTDIR past a non-directory', () => {
    const w = client.walk(['dir', 'file.txt', 'x', 'y']);
    expect(w).toMatchObject({ found: 2, errno: E.ENOTDIR });
    expect(statxMode(w.statx) & S_IFMT).toBe(S_IFREG);
  });

  it('stops at a symlink and reports its target, in the middle or at the end', () => {
    expect(client.walk(['link'])).toMatchObject({ found: 1, errno: 0, symlinkTarget: 'dir/file.txt' });
    const middle = client.walk(['escape', 'passwd']);
    expect(middle).toMatchObject({ found: 1, errno: 0, symlinkTarget: '../../../../etc' });
    expect(statxMode(middle.statx) & S_IFMT).toBe(S_IFLNK);
    expect(client.walk(['abs'])).toMatchObject({ found: 1, errno: 0, symlinkTarget: '/etc/passwd' });
    expect(client.walk(['a', 'b', 'c', 'd', 'e'])).toMatchObject({ found: 4, errno: E.ENOTDIR });
  });

  it('refuses bad components with EINVAL and long names with ENAMETOOLONG', () => {
    expect(client.walk(['..'])).toMatchObject({ found: 0, errno: E.EINVAL });
    expect(client.walk(['dir', '.'])).toMatchObject({ errno: E.EINVAL });
    expect(client.walk(['dir/file.txt'])).toMatchObject({ errno: E.EINVAL });
    expect(client.walk(['a\0b'])).toMatchObject({ errno: E.EINVAL });
    expect(client.walk(['x'.repeat(256)])).toMatchObject({ errno: E.ENAMETOOLONG });
  });
});

describe('open', () => {
  it('opens an existing file: the fd reads it, and its statx comes along', () => {
    const statx = new Uint8Array(256);
    const fd = client.open(['dir', 'file.txt'], O_RDONLY, 0, statx);
    expect(fd).toBeGreaterThanOrEqual(0);
    try {
      expect(readAll(fd)).toBe('hello gofer');
      expect(statxMode(statx) & S_IFMT).toBe(S_IFREG);
      expect(fcntl(fd, F_GETFD) & FD_CLOEXEC).toBe(FD_CLOEXEC);
      // The gofer opens with O_NONBLOCK so that it never blocks, and takes it off again.
      expect(fcntl(fd, F_GETFL) & O_NONBLOCK).toBe(0);
    } finally {
      fs.closeSync(fd);
    }
  });

  it('keeps O_NONBLOCK when asked for it', () => {
    const fd = client.open(['dir', 'file.txt'], O_RDONLY | O_NONBLOCK, 0);
    expect(fcntl(fd, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
    fs.closeSync(fd);
  });

  it('creates with O_CREAT|O_EXCL, with the mode as sent (no umask of its own), then EEXIST', () => {
    const fd = client.open(['dir', 'created'], O_CREAT | O_EXCL | O_WRONLY, 0o640);
    expect(fd).toBeGreaterThanOrEqual(0);
    fs.writeSync(fd, 'new');
    fs.closeSync(fd);
    const st = fs.statSync(path.join(root, 'dir', 'created'));
    expect(st.mode & 0o7777).toBe(0o640);
    expect(fs.readFileSync(path.join(root, 'dir', 'created'), 'latin1')).toBe('new');
    expect(client.open(['dir', 'created'], O_CREAT | O_EXCL | O_WRONLY, 0o640)).toBe(-E.EEXIST);
  });

  it('truncates with O_TRUNC and opens directories and O_TMPFILE', () => {
    fs.writeFileSync(path.join(root, 'dir', 'trunc'), 'abcdef');
    const fd = client.open(['dir', 'trunc'], O_WRONLY | O_TRUNC, 0);
    fs.closeSync(fd);
    expect(fs.statSync(path.join(root, 'dir', 'trunc')).size).toBe(0);
    const dirFd = client.open(['dir'], O_RDONLY | O_DIRECTORY, 0);
    expect(dirFd).toBeGreaterThanOrEqual(0);
    fs.closeSync(dirFd);
    expect(client.open(['dir', 'file.txt'], O_RDONLY | O_DIRECTORY, 0)).toBe(-E.ENOTDIR);
    expect(client.open(['dir'], O_WRONLY, 0)).toBe(-E.EISDIR);
    const tmpFd = client.open(['dir'], O_TMPFILE | O_RDWR, 0o600);
    expect(tmpFd).toBeGreaterThanOrEqual(0);
    fs.closeSync(tmpFd);
    expect(client.open(['dir', 'missing'], O_RDONLY, 0)).toBe(-E.ENOENT);
  });

  it('refuses unknown flags, and takes the O_ACCMODE value 3 as open(2) does', () => {
    expect(client.open(['dir', 'file.txt'], 0o40000000, 0)).toBe(-E.EINVAL);
    // Access mode 3: an fd for ioctls only, neither readable nor writable.
    const fd = client.open(['dir', 'file.txt'], 3, 0);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(() => fs.readSync(fd, Buffer.alloc(1))).toThrow(/EBADF/);
    fs.closeSync(fd);
  });

  it('never blocks on a FIFO', () => {
    expect(client.mknod(['dir', 'fifo'], S_IFIFO | 0o600, 0)).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'fifo')).isFIFO()).toBe(true);
    // Without O_NONBLOCK, open(2) of a FIFO waits for the other end: the
    // gofer answers EWOULDBLOCK at once, without opening it (even a probing
    // open would count as the other end for whoever waits already).
    expect(client.open(['dir', 'fifo'], O_RDONLY, 0)).toBe(-E.EWOULDBLOCK);
    expect(client.open(['dir', 'fifo'], O_WRONLY, 0)).toBe(-E.EWOULDBLOCK);
    // With O_NONBLOCK it is open(2)'s own answer: a reader at once, a writer with no reader ENXIO.
    const fd = client.open(['dir', 'fifo'], O_RDONLY | O_NONBLOCK, 0);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(fcntl(fd, F_GETFL) & O_NONBLOCK).toBe(O_NONBLOCK);
    fs.closeSync(fd);
    expect(client.open(['dir', 'fifo'], O_WRONLY | O_NONBLOCK, 0)).toBe(-E.ENXIO);
  });
});

describe('changes to the tree', () => {
  it('mkdir and rmdir', () => {
    expect(client.mkdir(['dir', 'newdir'], 0o751)).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'newdir')).mode & 0o7777).toBe(0o751);
    expect(client.mkdir(['dir', 'newdir'], 0o755)).toBe(-E.EEXIST);
    expect(client.mkdir(['nope', 'x'], 0o755)).toBe(-E.ENOENT);
    expect(client.mkdir([], 0o755)).toBe(-E.EEXIST);
    fs.writeFileSync(path.join(root, 'dir', 'newdir', 'inside'), '');
    expect(client.unlink(['dir', 'newdir'], AT_REMOVEDIR)).toBe(-E.ENOTEMPTY);
    expect(client.unlink(['dir', 'newdir'], 0)).toBe(-E.EISDIR);
    expect(client.unlink(['dir', 'newdir', 'inside'], AT_REMOVEDIR)).toBe(-E.ENOTDIR);
    expect(client.unlink(['dir', 'newdir', 'inside'], 0)).toBe(0);
    expect(client.unlink(['dir', 'newdir'], AT_REMOVEDIR)).toBe(0);
    expect(fs.existsSync(path.join(root, 'dir', 'newdir'))).toBe(false);
    expect(client.unlink([], AT_REMOVEDIR)).toBe(-E.EBUSY);
    expect(client.unlink([], 0)).toBe(-E.EISDIR);
    expect(client.unlink(['dir', 'x'], 1)).toBe(-E.EINVAL);
  });

  it('mknod: regular files, FIFOs and sockets; never devices', () => {
    expect(client.mknod(['dir', 'plain'], 0o600, 0)).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'plain')).isFile()).toBe(true);
    expect(client.mknod(['dir', 'sock'], S_IFSOCK | 0o600, 0)).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'sock')).isSocket()).toBe(true);
    expect(client.mknod(['dir', 'null'], S_IFCHR | 0o666, 0x103)).toBe(-E.EPERM);
    expect(client.mknod(['dir', 'blk'], 0o060000 | 0o666, 0x800)).toBe(-E.EPERM);
    expect(client.mknod(['dir', 'd'], S_IFDIR | 0o755, 0)).toBe(-E.EPERM);
    expect(client.mknod(['dir', 'l'], S_IFLNK | 0o777, 0)).toBe(-E.EINVAL);
    expect(fs.existsSync(path.join(root, 'dir', 'null'))).toBe(false);
  });

  it('rename, with NOREPLACE and EXCHANGE', () => {
    fs.writeFileSync(path.join(root, 'dir', 'one'), 'one');
    fs.writeFileSync(path.join(root, 'dir', 'two'), 'two');
    expect(client.rename(['dir', 'one'], ['dir', 'sub', 'moved'], 0)).toBe(0);
    expect(fs.readFileSync(path.join(root, 'dir', 'sub', 'moved'), 'latin1')).toBe('one');
    expect(client.rename(['dir', 'sub', 'moved'], ['dir', 'two'], RENAME_NOREPLACE)).toBe(-E.EEXIST);
    expect(client.rename(['dir', 'sub', 'moved'], ['dir', 'two'], RENAME_EXCHANGE)).toBe(0);
    expect(fs.readFileSync(path.join(root, 'dir', 'two'), 'latin1')).toBe('one');
    expect(fs.readFileSync(path.join(root, 'dir', 'sub', 'moved'), 'latin1')).toBe('two');
    expect(client.rename(['dir', 'two'], ['dir', 'x'], 8)).toBe(-E.EINVAL);
    expect(client.rename(['dir', 'two'], ['dir', 'x'], RENAME_EXCHANGE | RENAME_NOREPLACE)).toBe(-E.EINVAL);
    expect(client.rename(['dir', 'missing'], ['dir', 'x'], 0)).toBe(-E.ENOENT);
    expect(client.rename([], ['x'], 0)).toBe(-E.EBUSY);
  });

  it('symlink and readlink, byte for byte', () => {
    expect(client.symlink('/etc/shadow', ['dir', 'sl'])).toBe(0);
    expect(fs.readlinkSync(path.join(root, 'dir', 'sl'))).toBe('/etc/shadow');
    expect(client.readlink(['dir', 'sl'])).toBe('/etc/shadow');
    expect(client.symlink('x', ['dir', 'sl'])).toBe(-E.EEXIST);
    expect(client.readlink(['dir', 'file.txt'])).toBe(-E.EINVAL);
    expect(client.readlink([])).toBe(-E.EINVAL);
    // Names and targets are bytes, not text.
    expect(client.symlink('\xff\xfe/\x80', ['dir', 'caf\xe9'])).toBe(0);
    const names = fs.readdirSync(path.join(root, 'dir'), { encoding: 'buffer' }).map((b) => b.toString('hex'));
    expect(names).toContain(Buffer.from('caf\xe9', 'latin1').toString('hex'));
    const target = fs.readlinkSync(Buffer.from(path.join(root, 'dir', 'caf\xe9'), 'latin1'), { encoding: 'buffer' });
    expect([...target]).toEqual([0xff, 0xfe, 0x2f, 0x80]);
    expect(client.readlink(['dir', 'caf\xe9'])).toBe('\xff\xfe/\x80');
  });

  it('link', () => {
    expect(client.link(['dir', 'file.txt'], ['dir', 'hard'])).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'hard')).ino).toBe(fs.statSync(path.join(root, 'dir', 'file.txt')).ino);
    expect(fs.statSync(path.join(root, 'dir', 'file.txt')).nlink).toBe(2);
    expect(client.link(['dir'], ['dir2'])).toBe(-E.EPERM);
    expect(client.link(['dir', 'file.txt'], ['dir', 'hard'])).toBe(-E.EEXIST);
  });

  it('chmod, and EOPNOTSUPP on a symlink', () => {
    expect(client.chmod(['dir', 'file.txt'], 0o4711)).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'file.txt')).mode & 0o7777).toBe(0o4711);
    expect(client.chmod(['dir', 'file.txt'], 0o644)).toBe(0);
    expect(client.chmod(['link'], 0o600)).toBe(-E.EOPNOTSUPP);
    expect(client.chmod(['missing'], 0o600)).toBe(-E.ENOENT);
  });

  it('chown, leaving -1 ids alone, and never through a symlink', () => {
    const file = path.join(root, 'dir', 'file.txt');
    expect(client.chown(['dir', 'file.txt'], 1234, 5678)).toBe(0);
    expect(fs.statSync(file)).toMatchObject({ uid: 1234, gid: 5678 });
    expect(client.chown(['dir', 'file.txt'], -1, 4321)).toBe(0);
    expect(fs.statSync(file)).toMatchObject({ uid: 1234, gid: 4321 });
    expect(client.chown(['dir', 'file.txt'], UNCHANGED_ID, UNCHANGED_ID)).toBe(0);
    expect(fs.statSync(file)).toMatchObject({ uid: 1234, gid: 4321 });
    expect(client.chown(['link'], 999, 999)).toBe(0);
    expect(fs.lstatSync(path.join(root, 'link'))).toMatchObject({ uid: 999, gid: 999 });
    expect(fs.statSync(file)).toMatchObject({ uid: 1234, gid: 4321 });
  });

  it('utimes, with UTIME_OMIT and UTIME_NOW', () => {
    const file = path.join(root, 'dir', 'file.txt');
    expect(client.utimes(['dir', 'file.txt'], { sec: 1_000_000_000n, nsec: 123_456_789 }, { sec: 1_200_000_000n, nsec: 5 })).toBe(0);
    let st = fs.statSync(file, { bigint: true });
    expect(st.atimeNs).toBe(1_000_000_000_123_456_789n);
    expect(st.mtimeNs).toBe(1_200_000_000_000_000_005n);
    expect(client.utimes(['dir', 'file.txt'], { sec: 0n, nsec: UTIME_OMIT }, { sec: 0n, nsec: UTIME_NOW })).toBe(0);
    st = fs.statSync(file, { bigint: true });
    expect(st.atimeNs).toBe(1_000_000_000_123_456_789n);
    expect(Number(st.mtimeNs / 1_000_000n)).toBeGreaterThan(Date.now() - 60_000);
    expect(client.utimes(['dir', 'file.txt'], { sec: 0n, nsec: 2_000_000_000 }, { sec: 0n, nsec: 0 })).toBe(-E.EINVAL);
  });

  it('truncate', () => {
    fs.writeFileSync(path.join(root, 'dir', 'long'), 'abcdefgh');
    expect(client.truncate(['dir', 'long'], 3)).toBe(0);
    expect(fs.readFileSync(path.join(root, 'dir', 'long'), 'latin1')).toBe('abc');
    expect(client.truncate(['dir', 'long'], 10)).toBe(0);
    expect(fs.statSync(path.join(root, 'dir', 'long')).size).toBe(10);
    expect(client.truncate(['dir'], 0)).toBe(-E.EISDIR);
    expect(client.truncate(['dir', 'long'], -1)).toBe(-E.EINVAL);
    expect(client.truncate(['dir', 'fifo'], 0)).toBe(-E.EINVAL);
    expect(client.truncate(['link'], 0)).toBe(-E.ELOOP);
    expect(client.truncate(['missing'], 0)).toBe(-E.ENOENT);
  });

  it('statfs', () => {
    const statfs = client.statfs([]);
    if (typeof statfs === 'number') throw new Error(`statfs: ${statfs}`);
    expect(statfs.length).toBe(120);
    const host = fs.statfsSync(root, { bigint: true });
    const view = new DataView(statfs.buffer, statfs.byteOffset);
    expect(view.getBigInt64(0, true)).toBe(host.type);
    expect(view.getBigInt64(8, true)).toBe(host.bsize);
    expect(client.statfs(['missing'])).toBe(-E.ENOENT);
  });
});

describe('getdents', () => {
  it('lists a directory with types and inode numbers', () => {
    const entries = client.listDirectory(['dir']);
    if (typeof entries === 'number') throw new Error(`listDirectory: ${entries}`);
    const names = entries.map((e) => e.name).sort();
    const expected = ['.', '..', ...fs.readdirSync(path.join(root, 'dir'), { encoding: 'latin1' })].sort();
    expect(names).toEqual(expected);
    const byName = new Map(entries.map((e) => [e.name, e]));
    expect(byName.get('sub')!.type).toBe(DT_DIR);
    expect(byName.get('file.txt')!.type).toBe(DT_REG);
    expect(byName.get('sl')!.type).toBe(DT_LNK);
    expect(byName.get('file.txt')!.ino).toBe(fs.statSync(path.join(root, 'dir', 'file.txt'), { bigint: true }).ino);
  });

  it('pages a large directory, every entry exactly once', () => {
    const big = path.join(root, 'big');
    fs.mkdirSync(big);
    const count = 700;
    for (let i = 0; i < count; i++) fs.writeFileSync(path.join(big, `${i}-${'n'.repeat(180)}`), '');
    const first = client.getdents(['big']);
    if (typeof first === 'number') throw new Error(`getdents: ${first}`);
    expect(first.eof).toBe(false);
    expect(first.entries.length).toBeLessThan(count);
    const all = client.listDirectory(['big']);
    if (typeof all === 'number') throw new Error(`listDirectory: ${all}`);
    const names = all.map((e) => e.name);
    expect(names.length).toBe(count + 2);
    expect(new Set(names).size).toBe(count + 2);
  });

  it('answers ENOTDIR, ENOENT and ELOOP', () => {
    expect(client.getdents(['dir', 'file.txt'])).toBe(-E.ENOTDIR);
    expect(client.getdents(['missing'])).toBe(-E.ENOENT);
    expect(client.getdents(['escape'])).toBe(-E.ELOOP);
  });
});

describe('the root is a wall', () => {
  const etcUntouched = () => {
    const now = fs.statSync('/etc/passwd');
    expect(now.mode).toBe(etcPasswd.mode);
    expect(now.uid).toBe(etcPasswd.uid);
    expect(now.size).toBe(etcPasswd.size);
    expect(now.mtimeMs).toBe(etcPasswd.mtimeMs);
    expect(fs.existsSync('/etc/tsvisor-pwned')).toBe(false);
  };

  it('never opens through a symlink, relative or absolute (ELOOP)', () => {
    expect(client.open(['escape', 'passwd'], O_RDONLY, 0)).toBe(-E.ELOOP);
    expect(client.open(['escape'], O_RDONLY | O_DIRECTORY, 0)).toBe(-E.ELOOP);
    expect(client.open(['abs'], O_RDONLY, 0)).toBe(-E.ELOOP);
    expect(client.open(['abs'], O_WRONLY | O_TRUNC, 0)).toBe(-E.ELOOP);
    expect(client.open(['abs'], O_WRONLY | O_CREAT, 0o644)).toBe(-E.ELOOP);
    expect(client.open(['link'], O_RDONLY, 0)).toBe(-E.ELOOP);
    etcUntouched();
  });

  it('O_PATH|O_NOFOLLOW gets the symlink itself, never its target', () => {
    const statx = new Uint8Array(256);
    // Flags open(2) ignores next to O_PATH are ignored here too (openat2 alone would refuse them).
    const fd = client.open(['abs'], O_PATH | O_NOFOLLOW | O_RDWR | O_CREAT | O_NONBLOCK, 0o644, statx);
    expect(fd).toBeGreaterThanOrEqual(0);
    expect(fs.fstatSync(fd).isSymbolicLink()).toBe(true);
    expect(statxMode(statx) & S_IFMT).toBe(S_IFLNK);
    fs.closeSync(fd);
    expect(client.open(['abs'], O_PATH, 0)).toBe(-E.ELOOP);
  });

  it('refuses "..", ".", "/" and NUL in components (EINVAL)', () => {
    expect(client.open(['..', '..', 'etc', 'passwd'], O_RDONLY, 0)).toBe(-E.EINVAL);
    expect(client.open(['dir', '..', '..', 'etc'], O_RDONLY, 0)).toBe(-E.EINVAL);
    expect(client.open(['/etc/passwd'], O_RDONLY, 0)).toBe(-E.EINVAL);
    expect(client.open(['dir/../../etc/passwd'], O_RDONLY, 0)).toBe(-E.EINVAL);
    expect(client.open(['etc\0'], O_RDONLY, 0)).toBe(-E.EINVAL);
    expect(client.open([''], O_RDONLY, 0)).toBe(-E.EINVAL);
    expect(client.mkdir(['..', 'tsvisor-pwned'], 0o755)).toBe(-E.EINVAL);
    expect(client.symlink('/', ['..', 'x'])).toBe(-E.EINVAL);
    expect(client.rename(['dir', 'file.txt'], ['..', 'stolen'], 0)).toBe(-E.EINVAL);
    expect(fs.existsSync(path.join(root, '..', 'tsvisor-pwned'))).toBe(false);
  });

  it('changes nothing through a symlink in the middle of a path', () => {
    expect(client.mkdir(['escape', 'tsvisor-pwned'], 0o755)).toBe(-E.ELOOP);
    expect(client.symlink('x', ['escape', 'tsvisor-pwned'])).toBe(-E.ELOOP);
    expect(client.rename(['dir', 'file.txt'], ['escape', 'tsvisor-pwned'], 0)).toBe(-E.ELOOP);
    expect(client.rename(['escape', 'passwd'], ['stolen'], 0)).toBe(-E.ELOOP);
    expect(client.link(['escape', 'passwd'], ['stolen'])).toBe(-E.ELOOP);
    expect(client.unlink(['escape', 'passwd'], 0)).toBe(-E.ELOOP);
    expect(client.chmod(['escape', 'passwd'], 0o777)).toBe(-E.ELOOP);
    expect(client.chown(['escape', 'passwd'], 4242, 4242)).toBe(-E.ELOOP);
    expect(client.truncate(['escape', 'passwd'], 0)).toBe(-E.ELOOP);
    expect(client.utimes(['escape', 'passwd'], { sec: 1n, nsec: 0 }, { sec: 1n, nsec: 0 })).toBe(-E.ELOOP);
    expect(client.statfs(['escape', 'passwd'])).toBe(-E.ELOOP);
    expect(client.readlink(['escape', 'passwd'])).toBe(-E.ELOOP);
    etcUntouched();
  });

  it('acts on a final symlink itself, never on what it points to', () => {
    expect(client.chmod(['abs'], 0o777)).toBe(-E.EOPNOTSUPP);
    expect(client.truncate(['abs'], 0)).toBe(-E.ELOOP);
    expect(client.chown(['abs'], 4242, 4242)).toBe(0);
    expect(fs.lstatSync(path.join(root, 'abs')).uid).toBe(4242);
    expect(client.utimes(['abs'], { sec: 5n, nsec: 0 }, { sec: 5n, nsec: 0 })).toBe(0);
    expect(fs.lstatSync(path.join(root, 'abs')).mtimeMs).toBe(5000);
    expect(client.link(['abs'], ['abs-hard'])).toBe(0);
    expect(fs.lstatSync(path.join(root, 'abs-hard')).isSymbolicLink()).toBe(true);
    etcUntouched();
  });

  it('leaks no fd over all of the above', () => {
    expect(fdCount(gofer.child.pid!)).toBe(fdsAtStart);
  });
});

describe('credentials: the host kernel checks each op as the task', () => {
  const ALL_FS_CAPS = 0x1ffffffffff; // a root task's effective set
  const root0: FsIdentity = { fsuid: 0, fsgid: 0, groups: [], capabilities: ALL_FS_CAPS };
  const user: FsIdentity = { fsuid: 1000, fsgid: 1000, groups: [1000], capabilities: 0 };
  const statOf = (rel: string): fs.Stats => fs.lstatSync(path.join(root, rel));

  it('acts as a plain user: DAC, the sticky bit and ownership are the kernel\'s', () => {
    fs.chmodSync(root, 0o755); // mkdtemp made it 0700: let others search it
    fs.mkdirSync(path.join(root, 'creds'), { mode: 0o755 });
    fs.writeFileSync(path.join(root, 'creds', 'secret'), 'x', { mode: 0o600 });
    fs.mkdirSync(path.join(root, 'creds', 'sticky'), { mode: 0o1777 });
    fs.chmodSync(path.join(root, 'creds', 'sticky'), 0o1777);
    fs.writeFileSync(path.join(root, 'creds', 'sticky', 'roots'), '');
    let who: FsIdentity = user;
    const c = startGofer(root);
    c.client.actAs(() => who);
    try {
      expect(c.client.open(['creds', 'secret'], O_RDONLY, 0)).toBe(-E.EACCES);
      expect(c.client.open(['creds', 'secret'], O_WRONLY | O_CREAT | O_TRUNC, 0o644)).toBe(-E.EACCES);
      expect(c.client.access(['creds', 'secret'], 4 /* R_OK */)).toBe(-E.EACCES);
      expect(c.client.access(['creds', 'sticky'], 2 | 1 /* W_OK|X_OK */)).toBe(0);
      expect(c.client.mkdir(['creds', 'mine'], 0o755)).toBe(-E.EACCES); // creds/ is root's 0755
      expect(c.client.unlink(['creds', 'sticky', 'roots'], 0)).toBe(-E.EPERM);
      expect(c.client.chmod(['creds', 'secret'], 0o777)).toBe(-E.EPERM);
      expect(c.client.chown(['creds', 'secret'], 1000, UNCHANGED_ID)).toBe(-E.EPERM);
      const fd = c.client.open(['creds', 'sticky', 'users'], O_WRONLY | O_CREAT | O_EXCL, 0o640);
      expect(fd).toBeGreaterThanOrEqual(0);
      native.close(fd);
      // What the user creates is the user's.
      expect([statOf('creds/sticky/users').uid, statOf('creds/sticky/users').gid]).toEqual([1000, 1000]);
      // Root with no capabilities is just another uid over a 0600 file of its own... and another's.
      who = { ...root0, capabilities: 0 };
      expect(c.client.open(['creds', 'sticky', 'users'], O_RDONLY, 0)).toBe(-E.EACCES);
      // Root with its capabilities may do it all again, but not execute what no one may.
      who = root0;
      expect(c.client.access(['creds', 'secret'], 4 | 2)).toBe(0);
      expect(c.client.access(['creds', 'secret'], 1 /* X_OK */)).toBe(-E.EACCES);
      expect(c.client.access(['creds', 'secret'], 8)).toBe(-E.EINVAL);
      const again = c.client.open(['creds', 'secret'], O_RDONLY, 0);
      expect(again).toBeGreaterThanOrEqual(0);
      native.close(again);
      expect(c.client.unlink(['creds', 'sticky', 'roots'], 0)).toBe(0);
    } finally {
      c.client.close();
    }
  });

  it('changes a file by a program\'s fd only as far as the task may (chmodFd, chownFd, utimesFd)', () => {
    const AT_EMPTY_PATH = 0x1000;
    const AT_SYMLINK_NOFOLLOW = 0x100;
    fs.chmodSync(root, 0o755);
    fs.mkdirSync(path.join(root, 'fdops'), { mode: 0o755 });
    // The fds are the test's own, as the sentry's borrowed copies would be.
    const mine = path.join(root, 'fdops', 'mine');
    const roots = path.join(root, 'fdops', 'roots');
    fs.writeFileSync(mine, 'm', { mode: 0o644 });
    fs.chownSync(mine, 1000, 1000);
    fs.writeFileSync(roots, 'r', { mode: 0o644 });
    const times = (sec: bigint): [{ sec: bigint; nsec: number }, { sec: bigint; nsec: number }] => [{ sec, nsec: 0 }, { sec, nsec: 0 }];
    const now = { sec: 0n, nsec: UTIME_NOW };
    let who: FsIdentity = user;
    const c = startGofer(root);
    c.client.actAs(() => who);
    const own = fs.openSync(mine, 'r');
    const theirs = fs.openSync(roots, 'r');
    const theirsPath = native.openat2(-100, roots, O_PATH, 0, 0);
    expect(theirsPath).toBeGreaterThanOrEqual(0);
    try {
      expect(c.client.chmodFd(own, 0o600, AT_EMPTY_PATH)).toBe(0);
      expect(statOf('fdops/mine').mode & 0o7777).toBe(0o600);
      expect(c.client.chownFd(own, 0, 0, AT_EMPTY_PATH)).toBe(-E.EPERM);
      expect(c.client.chownFd(own, UNCHANGED_ID, 1000, AT_EMPTY_PATH)).toBe(0);
      expect(c.client.utimesFd(own, ...times(7n), 0)).toBe(0);
      expect(statOf('fdops/mine').mtimeMs).toBe(7000);
      expect(c.client.chmodFd(theirs, 0o666, AT_EMPTY_PATH)).toBe(-E.EPERM);
      expect(c.client.chownFd(theirs, 1000, 1000, AT_EMPTY_PATH)).toBe(-E.EPERM);
      expect(c.client.utimesFd(theirs, ...times(7n), AT_EMPTY_PATH)).toBe(-E.EPERM);
      expect(c.client.utimesFd(theirs, now, now, 0)).toBe(-E.EACCES);
      // An O_PATH fd: reached by the empty name, EBADF for futimens' form.
      expect(c.client.chmodFd(theirsPath, 0o666, AT_EMPTY_PATH)).toBe(-E.EPERM);
      expect(c.client.utimesFd(theirsPath, now, now, 0)).toBe(-E.EBADF);
      expect(c.client.utimesFd(theirsPath, now, now, AT_EMPTY_PATH)).toBe(-E.EACCES);
      // Flags: AT_EMPTY_PATH always (but for futimens' 0), AT_SYMLINK_NOFOLLOW maybe, nothing else.
      expect(c.client.chmodFd(own, 0o644, 0)).toBe(-E.EINVAL);
      expect(c.client.chownFd(own, 1000, 1000, AT_EMPTY_PATH | 0x2)).toBe(-E.EINVAL);
      expect(c.client.utimesFd(own, now, now, AT_SYMLINK_NOFOLLOW)).toBe(-E.EINVAL);
      expect(c.client.chmodFd(own, 0o644, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW)).toBe(0);
      expect(statOf('fdops/roots').mode & 0o7777).toBe(0o644);
      expect([statOf('fdops/roots').uid, statOf('fdops/mine').uid, statOf('fdops/mine').gid]).toEqual([0, 1000, 1000]);
      // Root with CAP_CHOWN and CAP_FOWNER may; without them, not over another's file.
      who = { ...root0, capabilities: 0 };
      expect(c.client.chmodFd(own, 0o640, AT_EMPTY_PATH)).toBe(-E.EPERM);
      expect(c.client.chownFd(own, 0, 0, AT_EMPTY_PATH)).toBe(-E.EPERM);
      who = root0;
      expect(c.client.chownFd(theirsPath, 1000, 1000, AT_EMPTY_PATH)).toBe(0);
      expect(statOf('fdops/roots').uid).toBe(1000);
    } finally {
      fs.closeSync(own);
      fs.closeSync(theirs);
      native.close(theirsPath);
      c.client.close();
    }
  });

  it('reopens the object a program\'s fd names only as far as the task may (reopenFd)', () => {
    fs.chmodSync(root, 0o755);
    fs.mkdirSync(path.join(root, 'reopen'), { mode: 0o755 });
    const gone = path.join(root, 'reopen', 'gone');
    const secret = path.join(root, 'reopen', 'secret');
    const fifo = path.join(root, 'reopen', 'fifo');
    fs.writeFileSync(gone, 'root', { mode: 0o644 });
    fs.writeFileSync(secret, 's', { mode: 0o600 });
    execFileSync('mkfifo', ['-m', '0666', fifo]);
    let who: FsIdentity = user;
    const c = startGofer(root);
    c.client.actAs(() => who);
    // The fds are the test's own, as the sentry's borrowed copies would be.
    const held = fs.openSync(gone, 'r');
    fs.unlinkSync(gone);
    const secretPath = native.openat2(-100, secret, O_PATH, 0, 0);
    const fifoBoth = fs.openSync(fifo, fs.constants.O_RDWR);
    const sockets = native.socketpair(false);
    if (typeof sockets === 'number') throw new Error(`socketpair: errno ${-sockets}`);
    const reopened = (fd: number, flags: number): number => {
      const r = c.client.reopenFd(fd, flags);
      if (r >= 0) native.close(r);
      return r >= 0 ? 0 : r;
    };
    try {
      // A deleted file of root's, 0644: read, yes; write or truncate, no.
      expect(reopened(held, O_RDONLY)).toBe(0);
      expect(reopened(held, O_RDWR)).toBe(-E.EACCES);
      expect(reopened(held, O_RDONLY | O_TRUNC)).toBe(-E.EACCES);
      expect(reopened(secretPath, O_RDONLY)).toBe(-E.EACCES);
      expect(reopened(sockets[0]!, O_RDWR)).toBe(-E.ENXIO);
      // A FIFO: never waits in the gofer; O_NONBLOCK only when asked for.
      const w = c.client.reopenFd(fifoBoth, O_WRONLY);
      expect(w).toBeGreaterThanOrEqual(0);
      expect(fcntl(w, F_GETFL) & (O_NONBLOCK | 3)).toBe(O_WRONLY);
      native.close(w);
      const r = c.client.reopenFd(fifoBoth, O_RDONLY | O_NONBLOCK);
      expect(fcntl(r, F_GETFL) & (O_NONBLOCK | 3)).toBe(O_NONBLOCK | O_RDONLY);
      native.close(r);
      // Nothing but an open of the object itself.
      for (const flags of [O_RDONLY | O_CREAT, O_PATH, O_TMPFILE | O_RDWR, 0x40000000]) expect(reopened(held, flags)).toBe(-E.EINVAL);
      who = { ...root0, capabilities: 0 };
      expect(reopened(secretPath, O_RDONLY)).toBe(0); // its own file
      fs.chownSync(secret, 1000, 1000);
      expect(reopened(secretPath, O_RDONLY)).toBe(-E.EACCES);
      who = root0;
      expect(reopened(secretPath, O_RDWR)).toBe(0);
      const t = c.client.reopenFd(held, O_WRONLY | O_TRUNC);
      expect(t).toBeGreaterThanOrEqual(0);
      expect(fs.fstatSync(held).size).toBe(0);
      native.close(t);
    } finally {
      fs.closeSync(held);
      fs.closeSync(fifoBoth);
      native.close(secretPath);
      native.close(sockets[0]!);
      native.close(sockets[1]!);
      c.client.close();
    }
  });

  it('refuses an identity it cannot take whole, and then serves no one until it gets one', () => {
    const c = startGofer(root);
    let who: FsIdentity = { ...user, groups: new Array<number>(20000).fill(1000) };
    c.client.actAs(() => who);
    try {
      expect(c.client.walk(['dir']).errno).toBe(E.EINVAL); // too many groups to send
      who = user;
      expect(c.client.walk(['dir']).errno).toBe(0);
    } finally {
      c.client.close();
    }
  });
});

describe('magic links', () => {
  // A real procfs inside the tree, mounted in a mount namespace of the gofer's
  // own (unshare), so that nothing is mounted on the host.
  const canUnshare = spawnSync('unshare', ['--mount', 'true']).status === 0;

  it.skipIf(!canUnshare)('refuses /proc/PID/root, /proc/self and /proc/PID/fd/N', async () => {
    const proc = startGofer(root, [], (gofer) => [
      'unshare', '--mount', '--propagation', 'private', '--', 'sh', '-c',
      'mount -t proc proc "$0/proc" && exec "$@"', root, ...gofer,
    ]);
    try {
      const pid = String(proc.child.pid);
      // The mount is visible to the gofer only: the walk finds the gofer's own /proc/PID.
      expect(proc.client.walk(['proc', pid, 'status'])).toMatchObject({ found: 3, errno: 0 });
      expect(proc.client.open(['proc', pid, 'root', 'etc', 'passwd'], O_RDONLY, 0)).toBe(-E.ELOOP);
      expect(proc.client.open(['proc', pid, 'root'], O_RDONLY | O_DIRECTORY, 0)).toBe(-E.ELOOP);
      expect(proc.client.open(['proc', 'self', 'root', 'etc', 'passwd'], O_RDONLY, 0)).toBe(-E.ELOOP);
      expect(proc.client.open(['proc', pid, 'fd', '3'], O_RDWR, 0)).toBe(-E.ELOOP);
      expect(proc.client.open(['proc', pid, 'cwd'], O_RDONLY | O_DIRECTORY, 0)).toBe(-E.ELOOP);
      expect(proc.client.mkdir(['proc', pid, 'root', 'tmp', 'tsvisor-pwned'], 0o755)).toBe(-E.ELOOP);
      expect(proc.client.getdents(['proc', pid, 'root'])).toBe(-E.ELOOP);
      // A walk reports the magic link as a symlink to its text: the sentry resolves that inside the sandbox.
      expect(proc.client.walk(['proc', pid, 'root', 'etc'])).toMatchObject({ found: 3, errno: 0, symlinkTarget: '/' });
    } finally {
      proc.client.close();
      await proc.exited;
    }
    expect(fs.readdirSync(path.join(root, 'proc'))).toEqual([]); // the mount went with the namespace
  });
});

describe('read-only', () => {
  it('refuses every change with EROFS, after the errors Linux gives first', async () => {
    const ro = startGofer(root, ['--read-only']);
    const c = ro.client;
    try {
      const fd = c.open(['dir', 'file.txt'], O_RDONLY, 0);
      expect(readAll(fd)).toBe('hello gofer');
      fs.closeSync(fd);
      expect(c.open(['dir', 'file.txt'], O_WRONLY, 0)).toBe(-E.EROFS);
      expect(c.open(['dir', 'file.txt'], O_RDONLY | O_TRUNC, 0)).toBe(-E.EROFS);
      expect(c.open(['dir', 'new'], O_CREAT | O_WRONLY, 0o644)).toBe(-E.EROFS);
      expect(c.open(['dir', 'file.txt'], O_CREAT | O_EXCL | O_WRONLY, 0o644)).toBe(-E.EEXIST);
      expect(c.open(['nope', 'new'], O_CREAT | O_WRONLY, 0o644)).toBe(-E.ENOENT);
      expect(c.open(['dir'], O_TMPFILE | O_RDWR, 0o600)).toBe(-E.EROFS);
      expect(c.open(['dir'], O_RDWR, 0)).toBe(-E.EISDIR);
      // Writing to a FIFO changes no file.
      const reader = c.open(['dir', 'fifo'], O_RDONLY | O_NONBLOCK, 0);
      const writer = c.open(['dir', 'fifo'], O_WRONLY | O_NONBLOCK, 0);
      expect(writer).toBeGreaterThanOrEqual(0);
      fs.closeSync(writer);
      fs.closeSync(reader);
      expect(c.mkdir(['dir', 'x'], 0o755)).toBe(-E.EROFS);
      expect(c.mkdir(['dir', 'sub'], 0o755)).toBe(-E.EEXIST);
      expect(c.mkdir(['nope', 'x'], 0o755)).toBe(-E.ENOENT);
      expect(c.mknod(['dir', 'x'], S_IFIFO | 0o600, 0)).toBe(-E.EROFS);
      expect(c.symlink('t', ['dir', 'x'])).toBe(-E.EROFS);
      expect(c.link(['dir', 'file.txt'], ['dir', 'x'])).toBe(-E.EROFS);
      expect(c.unlink(['dir', 'file.txt'], 0)).toBe(-E.EROFS);
      expect(c.rename(['dir', 'file.txt'], ['dir', 'x'], 0)).toBe(-E.EROFS);
      expect(c.chmod(['dir', 'file.txt'], 0o600)).toBe(-E.EROFS);
      expect(c.chown(['dir', 'file.txt'], 0, 0)).toBe(-E.EROFS);
      expect(c.utimes(['dir', 'file.txt'], { sec: 1n, nsec: 0 }, { sec: 1n, nsec: 0 })).toBe(-E.EROFS);
      expect(c.truncate(['dir', 'file.txt'], 0)).toBe(-E.EROFS);
      expect(c.chmod(['missing'], 0o600)).toBe(-E.ENOENT);
      expect(fs.readFileSync(path.join(root, 'dir', 'file.txt'), 'latin1')).toBe('hello gofer');
      expect(fs.existsSync(path.join(root, 'dir', 'x'))).toBe(false);
    } finally {
      c.close();
      await ro.exited;
    }
  });
});

describe('malformed requests', () => {
  const reply = new Uint8Array(MAX_MESSAGE_BYTES);
  const fdsIn = new Int32Array(5);
  const noFds = new Int32Array(0);

  function raw(bytes: Uint8Array, fds: Int32Array = noFds): { id: number; opcode: number; errno: number } {
    expect(native.sendMsg(gofer.sockFd, bytes, bytes.length, fds, fds.length)).toBe(bytes.length);
    const n = native.recvMsg(gofer.sockFd, reply, fdsIn);
    expect(n).toBeGreaterThanOrEqual(12);
    expect(fdsIn[0]).toBe(0);
    const view = new DataView(reply.buffer);
    return { opcode: view.getUint32(0, true) & 0xffff, id: view.getUint32(4, true), errno: view.getInt32(8, true) };
  }

  function message(opcode: number, id: number, tail: number[] = []): Uint8Array {
    const bytes = new Uint8Array(8 + tail.length);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, (1 << 16) | opcode, true);
    view.setUint32(4, id, true);
    bytes.set(tail, 8);
    return bytes;
  }

  it('answers garbage, unknown opcodes and truncated fields with EINVAL, and keeps serving', () => {
    expect(raw(new Uint8Array([1, 2, 3]))).toMatchObject({ errno: E.EINVAL });
    expect(raw(message(999, 77))).toEqual({ opcode: 999, id: 77, errno: E.EINVAL });
    expect(raw(message(opCode('walk'), 78, [5, 0, 0]))).toMatchObject({ id: 78, errno: E.EINVAL });
    expect(raw(message(opCode('mkdir'), 79, [1, 0, 0, 0, 2, 0, 0, 0, 0x2e, 0x2e, 0xff, 1, 0, 0]))).toMatchObject({ id: 79, errno: E.EINVAL });
    expect(client.walk(['dir'])).toMatchObject({ found: 1, errno: 0 });
  });

  it('refuses a request that carries fds, and closes them', () => {
    const before = fdCount(gofer.child.pid!);
    const fd = fs.openSync('/dev/null', 'r');
    try {
      expect(raw(message(opCode('walk'), 80, [0, 0, 0, 0]), new Int32Array([fd, fd, fd]))).toEqual({
        opcode: opCode('walk'), id: 80, errno: E.EINVAL,
      });
    } finally {
      fs.closeSync(fd);
    }
    expect(fdCount(gofer.child.pid!)).toBe(before);
  });

  it('refuses an fd op that comes with no fd or two, and closes what came', () => {
    const before = fdCount(gofer.child.pid!);
    const fd = fs.openSync('/dev/null', 'r');
    // chmodFd: mode 0644, flags AT_EMPTY_PATH.
    const chmodFd = message(opCode('chmodFd'), 82, [0xa4, 0x01, 0, 0, 0, 0x10, 0, 0]);
    try {
      expect(raw(chmodFd)).toEqual({ opcode: opCode('chmodFd'), id: 82, errno: E.EINVAL });
      expect(raw(chmodFd, new Int32Array([fd, fd]))).toEqual({ opcode: opCode('chmodFd'), id: 82, errno: E.EINVAL });
    } finally {
      fs.closeSync(fd);
    }
    expect(fdCount(gofer.child.pid!)).toBe(before);
  });

  it('refuses a message larger than its buffer', () => {
    const huge = new Uint8Array(MAX_MESSAGE_BYTES + 4096);
    huge.set(message(opCode('walk'), 81));
    expect(raw(huge)).toMatchObject({ id: 81, errno: E.EINVAL });
    expect(client.walk([])).toMatchObject({ found: 0, errno: 0 });
  });
});

describe('lifetime', () => {
  it('a killed gofer makes every later call throw GoferDiedError', async () => {
    const doomed = startGofer(root);
    expect(doomed.client.walk(['dir'])).toMatchObject({ found: 1, errno: 0 });
    doomed.child.kill('SIGKILL');
    expect(await doomed.exited).toMatchObject({ signal: 'SIGKILL' });
    expect(() => doomed.client.walk(['dir'])).toThrow(GoferDiedError);
    expect(() => doomed.client.open(['dir'], O_RDONLY, 0)).toThrow(GoferDiedError);
    doomed.client.close();
  });

  it('a hung gofer (stopped) makes the call throw GoferDiedError after the reply timeout, not hang', async () => {
    const hung = startGofer(root);
    const client = new GoferClient(hung.sockFd, 300);
    expect(client.walk(['dir'])).toMatchObject({ found: 1, errno: 0 });
    hung.child.kill('SIGSTOP');
    expect(() => client.walk(['dir'])).toThrow(/no reply to walk in 300 ms/);
    expect(() => client.walk(['dir'])).toThrow(GoferDiedError);
    hung.child.kill('SIGKILL');
    await hung.exited;
    client.close();
  });

  it('a gofer whose sentry closes the socket exits by itself', async () => {
    const orphan = startGofer(root);
    expect(orphan.client.walk([])).toMatchObject({ errno: 0 });
    orphan.client.close();
    expect(await orphan.exited).toEqual({ code: 0, signal: null });
    expect(() => orphan.client.walk([])).toThrow(GoferDiedError);
  });

  it('bad arguments are a message and a non-zero exit', () => {
    const run = (args: string[], stdio3: 'ignore' | number = 'ignore') =>
      spawnSync(MAIN, args, { stdio: ['ignore', 'pipe', 'pipe', stdio3], encoding: 'utf8' });
    let r = run([]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/--root is required/);
    r = run(['--root', root, '--sock-fd', 'three']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not an fd number/);
    r = run(['--root', root, '--sock-fd', '3', '--verbose']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown argument/);
    r = run(['--root', root, '--sock-fd', '0']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not a socket/);
    r = run(['--root', root, '--sock-fd', '999']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/not an open fd/);
    const pair = native.socketpair(true) as Int32Array;
    try {
      r = run(['--root', path.join(root, 'nope'), '--sock-fd', '3'], pair[1]!);
      expect(r.status).toBe(2);
      expect(r.stderr).toMatch(/cannot open/);
    } finally {
      native.close(pair[0]!);
      native.close(pair[1]!);
    }
  });
});

describe('speed', () => {
  it('walks a 4-component path in a round trip', () => {
    const calls = 10_000;
    for (let i = 0; i < 500; i++) client.walk(['a', 'b', 'c', 'd']);
    const start = process.hrtime.bigint();
    for (let i = 0; i < calls; i++) client.walk(['a', 'b', 'c', 'd']);
    const micros = Number(process.hrtime.bigint() - start) / calls / 1000;
    console.log(`gofer walk of a 4-component path: ${micros.toFixed(1)} µs per round trip`);
    expect(client.walk(['a', 'b', 'c', 'd'])).toMatchObject({ found: 4, errno: 0 });
  });
});
