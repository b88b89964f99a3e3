// Path resolution across mounts, checked against the kernel itself, as
// test/path-resolution.test.ts does for one filesystem. A gofer runs in a
// private mount namespace (unshare -m) over a tree with mounts inside it, as
// the sandbox's gofer does: a tmpfs at the top, a tmpfs with another inside
// it, a read-only one, one file bound over another, and symlinks that cross
// them (relative, absolute, "..", through a mount root). The sentry's mount
// table is built the way the worker builds it, from mountinfo
// (sentry/fs/gofer-mounts.ts), here the gofer's own. fast-check then resolves
// random paths two ways: the sentry's resolver, and the host kernel's openat2
// from an fd of the same tree (reached through /proc/<gofer>/root, so its
// walk crosses the namespace's mounts), with RESOLVE_IN_ROOT or
// RESOLVE_BENEATH, with and without RESOLVE_NO_XDEV. Both must land on the
// same object (device and inode) or fail with the same errno.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOFER_PATH, native } from '../native/index.js';
import { GoferClient } from '../gofer/client.js';
import { goferMountTable } from '../sentry/fs/gofer-mounts.js';
import type { MountTable } from '../sentry/vfs/mounts.js';
import { resolvePath, type ResolveOptions } from '../sentry/vfs/resolve.js';
import { FileKind } from '../sentry/vfs/filesystem.js';
import { Task, ThreadGroup } from '../sentry/kernel/task.js';
import { E, O_NOFOLLOW, O_PATH, RESOLVE_BENEATH, RESOLVE_IN_ROOT, RESOLVE_NO_XDEV, STATX_SIZE } from '../sentry/abi/linux.js';


/** Builds the tree in the new mount namespace, then becomes the gofer ($1 root, $2 a file to bind). */
const SETUP = `
set -e
R=$1
mount -t tmpfs top "$R"
mkdir "$R/d" "$R/m" "$R/ro"
echo top > "$R/f"; echo d > "$R/d/f"; : > "$R/dn"
ln -s m/n "$R/lm"; ln -s /m "$R/la"; ln -s /d "$R/labs"; ln -s ro/f "$R/lro"
mount -t tmpfs m1 "$R/m"
mkdir "$R/m/n" "$R/m/d"; echo m > "$R/m/f"
ln -s /d "$R/m/abs"; ln -s ../d "$R/m/rel"; ln -s n/.. "$R/m/nup"; ln -s /dn "$R/m/ldn"
mount -t tmpfs m2 "$R/m/n"
echo n > "$R/m/n/f"; ln -s ../.. "$R/m/n/up"; ln -s /m/n/f "$R/m/n/self"; ln -s . "$R/m/n/dot"
mount --bind "$2" "$R/dn"
mount -t tmpfs rofs "$R/ro"; echo ro > "$R/ro/f"; mount -o remount,ro,bind "$R/ro"
shift 2
exec "$@"
`;

const NAMES = ['f', 'd', 'm', 'n', 'up', 'abs', 'rel', 'nup', 'ldn', 'self', 'dot', 'dn', 'ro', 'lm', 'la', 'labs', 'lro'];
const segment = fc.constantFrom(...NAMES, '.', '..', '');
const relPath = fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/'));
const anyPath = fc.tuple(fc.boolean(), relPath, fc.boolean()).map(([abs, p, slash]) => (abs ? '/' : '') + p + (slash ? '/' : ''));
/** Where a scoped lookup starts (and is scoped to): the top, inside a mount, at a mount root. */
const START = [[], ['d'], ['m'], ['m', 'd'], ['m', 'n'], ['ro']] as const;

let work: string;
let root: string;
let gofer: ChildProcess;
let client: GoferClient;
let mounts: MountTable;
const task = new Task(process.pid, 1, new ThreadGroup(process.pid, 1, 0, 0, ''));

beforeAll(async () => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-mntres-'));
  root = path.join(work, 'root');
  fs.mkdirSync(root);
  const bound = path.join(work, 'bound');
  fs.writeFileSync(bound, 'bound');
  const pair = native.socketpair(true);
  if (typeof pair === 'number') throw new Error(`socketpair: ${pair}`);
  gofer = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', SETUP, 'setup', root, bound,
    GOFER_PATH, '--root', root, '--sock-fd', '3'], { stdio: ['ignore', 'inherit', 'inherit', pair[1]!] });
  native.close(pair[1]!);
  client = new GoferClient(pair[0]!);
  // The first answer comes from the gofer itself: the mounts are all made by then.
  expect(client.walk([]).errno).toBe(0);
  mounts = goferMountTable(client, fs.readFileSync(`/proc/${gofer.pid}/mountinfo`, 'latin1'), root, []);
});

afterAll(() => {
  client?.close();
  gofer?.kill('SIGKILL');
  // The mounts lived in the gofer's namespace and went with it.
  if (work) fs.rmSync(work, { recursive: true, force: true });
});

/** "dev:ino" of what a statx describes. */
function identity(sx: Uint8Array): string {
  const dv = new DataView(sx.buffer, sx.byteOffset, sx.byteLength);
  return `${dv.getUint32(136, true)}:${dv.getUint32(140, true)}:${dv.getBigUint64(32, true)}`;
}

/** The kernel's answer from `start`: the object reached, or -errno. */
function kernelResolve(start: readonly string[], p: string, follow: boolean, resolve: number): string | number {
  const dirfd = fs.openSync(path.join(`/proc/${gofer.pid}/root`, root, ...start), 'r');
  try {
    // Scoped lookups through ".." answer EAGAIN when any rename or mount on the
    // machine raced them (openat2(2)): ask again, as the man page says to.
    let fd = -E.EAGAIN;
    for (let tries = 0; fd === -E.EAGAIN && tries < 100; tries++) {
      fd = native.openat2(dirfd, p, O_PATH | (follow ? 0 : O_NOFOLLOW), 0, resolve);
    }
    if (fd < 0) return fd;
    const buf = new Uint8Array(STATX_SIZE);
    native.statxRaw(fd, 0, 0x7ff, buf);
    native.close(fd);
    return identity(buf);
  } finally {
    fs.closeSync(dirfd);
  }
}

/** The sentry's answer, in the same terms. */
function sentryResolve(start: readonly string[], p: string, opts: ResolveOptions): string | number {
  const r = resolvePath(mounts, task, start, p, opts);
  if (typeof r === 'number') return r;
  if (r.kind === FileKind.Missing) return -E.ENOENT; // the kernel's O_PATH open fails the same way
  const sx = r.statx ?? r.mount.fs.statx(task, r.rel);
  return typeof sx === 'number' ? sx : identity(sx);
}

describe('path resolution across mounts matches the kernel', () => {
  it('finds every mount of the tree, with its flags, from mountinfo', () => {
    const found = mounts.all().map((m) => ({ point: m.point.join('/'), readOnly: m.readOnly, rootKind: m.rootKind ?? FileKind.Directory }));
    expect(found).toEqual([
      { point: '', readOnly: false, rootKind: FileKind.Directory },
      { point: 'm', readOnly: false, rootKind: FileKind.Directory },
      { point: 'dn', readOnly: false, rootKind: FileKind.Regular },
      { point: 'ro', readOnly: true, rootKind: FileKind.Directory },
      { point: 'm/n', readOnly: false, rootKind: FileKind.Directory },
    ]);
  });

  it('lands on the same object or fails with the same errno (IN_ROOT, BENEATH, NO_XDEV)', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...START), anyPath, fc.boolean(), fc.boolean(), fc.boolean(),
        (start, p, follow, beneath, noXdev) => {
          const resolve = (beneath ? RESOLVE_BENEATH : RESOLVE_IN_ROOT) | (noXdev ? RESOLVE_NO_XDEV : 0);
          const got = sentryResolve(start, p, { followFinal: follow, root: start, beneath, noXdev });
          expect({ start, p, follow, beneath, noXdev, got }).toEqual({ start, p, follow, beneath, noXdev, got: kernelResolve(start, p, follow, resolve) });
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('refuses each crossing under NO_XDEV, down, up by "..", and by an absolute symlink', () => {
    const cases: Array<[readonly string[], string]> = [
      [[], 'm'], [[], 'm/f'], [['m'], 'n/f'], [['m', 'n'], '..'], [['m', 'n'], 'up'], [['m'], '..'],
      [[], 'dn'], [['m'], 'abs'], [['m'], 'ldn'], [[], 'lm'], [[], 'la'], [['m'], 'nup'],
    ];
    for (const [start, p] of cases) {
      const opts = { followFinal: true, root: [], noXdev: true };
      const all = [...start];
      expect({ start, p, got: sentryResolve(all, p, opts) }).toEqual({ start, p, got: -E.EXDEV });
    }
    // Inside one mount, and a jump to the root from the root's own mount, are no crossings.
    for (const [start, p] of [[[], 'labs/f'], [['m'], 'd/../f'], [['m', 'n'], 'dot/f'], [['d'], '../f']] as const) {
      expect(typeof sentryResolve(start, p, { followFinal: true, root: [], noXdev: true })).toBe('string');
    }
  });
});
