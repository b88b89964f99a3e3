// Calls that change the tree: mkdir, mknod, unlink, rmdir, rename, link,
// symlink. Each resolves its names (never following a final symlink) and asks
// the filesystem that holds them.
import type { Trap } from '../../platform/platform.js';
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, E, S_IFBLK, S_IFCHR, S_IFIFO, S_IFMT, S_IFREG, S_IFSOCK,
} from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind, type MutatingOps } from '../vfs/filesystem.js';
import type { Resolved } from '../vfs/resolve.js';
import { splitPath } from '../vfs/path.js';
import { existing, readPath, resolveArg, resolveString } from './args.js';
import type { HandlerTable, SyscallReturn } from './types.js';

const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const RENAME_WHITEOUT = 4;

/** The filesystem's mutating operations, or the errno for a tree that has none. */
function opsOf(r: Resolved): MutatingOps | number {
  if (r.mount.readOnly) return -E.EROFS;
  return r.mount.fs.ops ?? -E.EACCES;
}

/** A name that must not exist yet (mkdir, mknod, symlink, link's new name). */
function newName(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number): Resolved | number {
  const r = resolveArg(k, t, trap, dirfd, pathArg, false);
  if (typeof r === 'number') return r;
  return r.kind === FileKind.Missing ? r : -E.EEXIST;
}

function mkdir(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, mode: number): SyscallReturn {
  const r = newName(k, t, trap, dirfd, pathArg);
  if (typeof r === 'number') return r;
  const ops = opsOf(r);
  if (typeof ops === 'number') return ops;
  return ops.mkdir(r.rel, mode & ~t.umask() & 0o7777);
}

function mknod(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, mode: number, dev: number): SyscallReturn {
  let type = mode & S_IFMT;
  if (type === 0) type = S_IFREG;
  if (type === S_IFCHR || type === S_IFBLK) return -E.EPERM; // no device nodes in a sandbox
  if (type !== S_IFREG && type !== S_IFIFO && type !== S_IFSOCK) return -E.EINVAL;
  const r = newName(k, t, trap, dirfd, pathArg);
  if (typeof r === 'number') return r;
  if (r.wantsDirectory) return -E.ENOENT;
  const ops = opsOf(r);
  if (typeof ops === 'number') return ops;
  return ops.mknod(r.rel, type | (mode & ~t.umask() & 0o7777), dev);
}

function unlink(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, flags: number): SyscallReturn {
  if (flags & ~AT_REMOVEDIR) return -E.EINVAL;
  const removeDir = (flags & AT_REMOVEDIR) !== 0;
  const path = readPath(k, trap, pathArg);
  if (typeof path === 'number') return path;
  if (removeDir) {
    const parts = splitPath(path);
    const lastName = parts[parts.length - 1];
    if (lastName === '.') return -E.EINVAL;
    if (lastName === '..') return -E.ENOTEMPTY;
  }
  const r = existing(resolveString(k, t, dirfd, path, false));
  if (typeof r === 'number') return r;
  if (r.rel.length === 0) return -E.EBUSY; // a mount point
  if (!removeDir && r.wantsDirectory) return r.kind === FileKind.Directory ? -E.EISDIR : -E.ENOTDIR;
  const ops = opsOf(r);
  if (typeof ops === 'number') return ops;
  return ops.unlink(r.rel, removeDir);
}

function rename(k: Kernel, t: Task, trap: Trap, oldDirfd: number, oldArg: number, newDirfd: number, newArg: number, flags: number): SyscallReturn {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return -E.EINVAL;
  if ((flags & RENAME_EXCHANGE) && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))) return -E.EINVAL;
  const from = existing(resolveArg(k, t, trap, oldDirfd, oldArg, false));
  if (typeof from === 'number') return from;
  const to = resolveArg(k, t, trap, newDirfd, newArg, false);
  if (typeof to === 'number') return to;
  if (from.mount !== to.mount) return -E.EXDEV;
  if (from.rel.length === 0 || to.rel.length === 0) return -E.EBUSY;
  const ops = opsOf(from);
  if (typeof ops === 'number') return ops;
  return ops.rename(from.rel, to.rel, flags);
}

function link(k: Kernel, t: Task, trap: Trap, oldDirfd: number, oldArg: number, newDirfd: number, newArg: number, flags: number): SyscallReturn {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const from = existing(resolveArg(k, t, trap, oldDirfd, oldArg, (flags & AT_SYMLINK_FOLLOW) !== 0));
  if (typeof from === 'number') return from;
  if (from.kind === FileKind.Directory) return -E.EPERM;
  const to = newName(k, t, trap, newDirfd, newArg);
  if (typeof to === 'number') return to;
  if (from.mount !== to.mount) return -E.EXDEV;
  const ops = opsOf(to);
  if (typeof ops === 'number') return ops;
  return ops.link(from.rel, to.rel);
}

function symlink(k: Kernel, t: Task, trap: Trap, targetArg: number, newDirfd: number, newArg: number): SyscallReturn {
  const target = readPath(k, trap, targetArg);
  if (typeof target === 'number') return target;
  if (target.length === 0) return -E.ENOENT;
  const r = newName(k, t, trap, newDirfd, newArg);
  if (typeof r === 'number') return r;
  const ops = opsOf(r);
  if (typeof ops === 'number') return ops;
  return ops.symlink(target, r.rel);
}

export const treeHandlers: HandlerTable = {
  mkdir: (k, t, trap) => mkdir(k, t, trap, AT_FDCWD, 0, trap.argU32(1)),
  mkdirat: (k, t, trap) => mkdir(k, t, trap, trap.argI32(0), 1, trap.argU32(2)),
  mknod: (k, t, trap) => mknod(k, t, trap, AT_FDCWD, 0, trap.argU32(1), trap.argU32(2)),
  mknodat: (k, t, trap) => mknod(k, t, trap, trap.argI32(0), 1, trap.argU32(2), trap.argU32(3)),
  unlink: (k, t, trap) => unlink(k, t, trap, AT_FDCWD, 0, 0),
  rmdir: (k, t, trap) => unlink(k, t, trap, AT_FDCWD, 0, AT_REMOVEDIR),
  unlinkat: (k, t, trap) => unlink(k, t, trap, trap.argI32(0), 1, trap.argI32(2)),
  rename: (k, t, trap) => rename(k, t, trap, AT_FDCWD, 0, AT_FDCWD, 1, 0),
  renameat: (k, t, trap) => rename(k, t, trap, trap.argI32(0), 1, trap.argI32(2), 3, 0),
  renameat2: (k, t, trap) => rename(k, t, trap, trap.argI32(0), 1, trap.argI32(2), 3, trap.argU32(4)),
  link: (k, t, trap) => link(k, t, trap, AT_FDCWD, 0, AT_FDCWD, 1, 0),
  linkat: (k, t, trap) => link(k, t, trap, trap.argI32(0), 1, trap.argI32(2), 3, trap.argI32(4)),
  symlink: (k, t, trap) => symlink(k, t, trap, 0, AT_FDCWD, 1),
  symlinkat: (k, t, trap) => symlink(k, t, trap, 0, trap.argI32(1), 2),
};
