// Path resolution, checked against the kernel itself. fast-check builds random
// trees of directories, files and symlinks (relative, absolute, dangling,
// looping, full of ".."), materialises them on disk, and resolves random paths
// two ways: with the sentry's resolver over a real gofer serving that tree, and
// with the host kernel's openat2(RESOLVE_IN_ROOT), which gives the tree's root
// the meaning of "/" exactly as a sandbox root has. Both must land on the same
// inode or fail with the same errno.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOFER_PATH, native } from '../native/index.js';
import { GoferClient } from '../gofer/client.js';
import { GoferFs } from '../sentry/fs/gofer-fs.js';
import { MountTable } from '../sentry/vfs/mounts.js';
import { resolvePath } from '../sentry/vfs/resolve.js';
import { FileKind } from '../sentry/vfs/filesystem.js';
import { Task, ThreadGroup } from '../sentry/kernel/task.js';
import { E, O_NOFOLLOW, O_PATH, RESOLVE_IN_ROOT, STATX_SIZE } from '../sentry/abi/linux.js';

const NAMES = ['a', 'b', 'c', 'l1', 'l2'];

type Node = { kind: 'dir'; children: Map<string, Node> } | { kind: 'file' } | { kind: 'link'; target: string };

const segment = fc.constantFrom(...NAMES, '.', '..', '');
const relPath = fc.array(segment, { minLength: 1, maxLength: 6 }).map((s) => s.join('/'));
const anyPath = fc.tuple(fc.boolean(), relPath, fc.boolean()).map(([abs, p, slash]) => (abs ? '/' : '') + p + (slash ? '/' : ''));

const tree: fc.Arbitrary<Node> = fc.letrec((tie) => ({
  node: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant<Node>({ kind: 'file' }),
    anyPath.map<Node>((target) => ({ kind: 'link', target: target.length ? target : '.' })),
    tie('dir'),
  ),
  dir: fc.uniqueArray(fc.tuple(fc.constantFrom(...NAMES), tie('node')), { maxLength: 4, selector: ([n]) => n })
    .map<Node>((entries) => ({ kind: 'dir', children: new Map(entries as Array<[string, Node]>) })),
})).dir;

function materialise(dir: string, node: Node): void {
  if (node.kind !== 'dir') return;
  for (const [name, child] of node.children) {
    const p = path.join(dir, name);
    if (child.kind === 'dir') {
      fs.mkdirSync(p);
      materialise(p, child);
    } else if (child.kind === 'file') fs.writeFileSync(p, name);
    else fs.symlinkSync(child.target, p);
  }
}

let work: string;
let treeRoot: string;
let gofer: ChildProcess;
let client: GoferClient;
let mounts: MountTable;
const task = new Task(process.pid, 1, new ThreadGroup(process.pid, 1, 0, 0, ''));

beforeAll(() => {
  work = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-resolve-'));
  treeRoot = path.join(work, 'root');
  fs.mkdirSync(treeRoot);
  const pair = native.socketpair(true);
  if (typeof pair === 'number') throw new Error(`socketpair: ${pair}`);
  gofer = spawn(GOFER_PATH, ['--root', treeRoot, '--sock-fd', '3'], {
    stdio: ['ignore', 'inherit', 'inherit', pair[1]!],
  });
  native.close(pair[1]!);
  client = new GoferClient(pair[0]!);
  mounts = new MountTable({ point: [], fs: new GoferFs(client), readOnly: false, source: 'test' });
});

afterAll(() => {
  client.close();
  gofer.kill('SIGKILL');
  fs.rmSync(work, { recursive: true, force: true });
});

function clearTree(): void {
  for (const e of fs.readdirSync(treeRoot)) fs.rmSync(path.join(treeRoot, e), { recursive: true, force: true });
}

/** The kernel's answer: the inode reached, or -errno. */
function kernelResolve(p: string, follow: boolean): bigint | number {
  const rootFd = fs.openSync(treeRoot, 'r');
  try {
    // Scoped lookups through ".." answer EAGAIN when any rename or mount on the
    // machine raced them (openat2(2)): ask again, as the man page says to.
    let fd = -E.EAGAIN;
    for (let tries = 0; fd === -E.EAGAIN && tries < 100; tries++) {
      fd = native.openat2(rootFd, p, O_PATH | (follow ? 0 : O_NOFOLLOW), 0, RESOLVE_IN_ROOT);
    }
    if (fd < 0) return fd;
    const buf = new Uint8Array(STATX_SIZE);
    native.statxRaw(fd, 0, 0x7ff, buf);
    native.close(fd);
    return new DataView(buf.buffer).getBigUint64(32, true);
  } finally {
    fs.closeSync(rootFd);
  }
}

/** The sentry's answer, in the same terms. */
function sentryResolve(p: string, follow: boolean): bigint | number {
  const r = resolvePath(mounts, task, [], p, { followFinal: follow });
  if (typeof r === 'number') return r;
  if (r.kind === FileKind.Missing) return -2; // ENOENT: the kernel's O_PATH open fails the same way
  const sx = r.statx ?? r.mount.fs.statx(task, r.rel);
  if (typeof sx === 'number') return sx;
  return new DataView(sx.buffer, sx.byteOffset).getBigUint64(32, true);
}

describe('path resolution matches the kernel (openat2 RESOLVE_IN_ROOT)', () => {
  it('lands on the same inode or fails with the same errno', () => {
    fc.assert(
      fc.property(tree, fc.array(fc.tuple(anyPath, fc.boolean()), { minLength: 1, maxLength: 12 }), (t, paths) => {
        clearTree();
        materialise(treeRoot, t);
        for (const [p, follow] of paths) {
          if (p.length === 0) continue;
          expect({ p, follow, got: sentryResolve(p, follow) }).toEqual({ p, follow, got: kernelResolve(p, follow) });
        }
      }),
      { numRuns: 1000 },
    );
  });

  it('stops a symlink loop with ELOOP after 40 links', () => {
    clearTree();
    fs.symlinkSync('l2', path.join(treeRoot, 'l1'));
    fs.symlinkSync('l1', path.join(treeRoot, 'l2'));
    expect(sentryResolve('/l1', true)).toBe(kernelResolve('/l1', true));
    expect(sentryResolve('/l1', true)).toBe(-40);
    // A chain: 40 links are followed, the 41st is one too many.
    clearTree();
    fs.writeFileSync(path.join(treeRoot, 'end'), 'x');
    for (let i = 0; i < 41; i++) fs.symlinkSync(i === 0 ? 'end' : `c${i - 1}`, path.join(treeRoot, `c${i}`));
    expect(sentryResolve('/c39', true)).toBe(kernelResolve('/c39', true));
    expect(typeof sentryResolve('/c39', true)).toBe('bigint');
    expect(sentryResolve('/c40', true)).toBe(kernelResolve('/c40', true));
    expect(sentryResolve('/c40', true)).toBe(-40);
  });

  it('demands a directory behind a symlink whose target ends in "/"', () => {
    // Found by the property above (seed 2058988843): a -> "l1/" with l1 a file.
    clearTree();
    fs.writeFileSync(path.join(treeRoot, 'l1'), 'x');
    fs.symlinkSync('l1/', path.join(treeRoot, 'a'));
    fs.mkdirSync(path.join(treeRoot, 'd'));
    fs.symlinkSync('d/', path.join(treeRoot, 'b'));
    for (const [p, follow] of [['a', true], ['a', false], ['a/', false], ['b', true], ['b/', true], ['/a/.', true]] as const) {
      expect({ p, got: sentryResolve(p, follow) }).toEqual({ p, got: kernelResolve(p, follow) });
    }
    expect(sentryResolve('a', true)).toBe(-20);
  });

  it('keeps ".." and absolute symlinks inside the root', () => {
    clearTree();
    fs.mkdirSync(path.join(treeRoot, 'a'));
    fs.writeFileSync(path.join(treeRoot, 'marker'), 'inside');
    fs.symlinkSync('../../../../../..', path.join(treeRoot, 'a', 'up'));
    fs.symlinkSync('/../../marker', path.join(treeRoot, 'a', 'abs'));
    for (const p of ['/../../../marker', 'a/up/marker', 'a/abs', 'a/up/a/up/../../marker']) {
      expect(sentryResolve(p, true)).toBe(kernelResolve(p, true));
      expect(sentryResolve(p, true)).toBe(fs.statSync(path.join(treeRoot, 'marker')).ino === undefined ? 0n : BigInt(fs.statSync(path.join(treeRoot, 'marker')).ino));
    }
  });
});
