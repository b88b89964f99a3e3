// Calls that change the tree: mkdir, mknod, unlink, rmdir, rename, link,
// symlink. Each follows Linux's order of checks (fs/namei.c), because the
// first error found is the one a program sees: copy the names in, walk to
// the parent directories, classify the last components, then look them up
// without following them, and only then ask the filesystem.
import type { Trap } from '../../platform/platform.js';
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, E, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFMT, S_IFREG,
  S_IFSOCK,
} from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind, type MutatingOps } from '../vfs/filesystem.js';
import { LastKind, lookupChild, resolveParent, resolvePath, type ParentResolved, type Resolved } from '../vfs/resolve.js';
import { existing, isEmptyPathForm, mutableOps, readPath, resolveString } from './args.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const RENAME_WHITEOUT = 4;

function parentOf(k: Kernel, t: Task, dirfd: number, path: string): ParentResolved | number {
  if (path.length === 0) return -E.ENOENT; // an empty name is refused before dirfd is looked at
  const start = k.hostView.startDirectory(t, dirfd, path);
  if (typeof start === 'number') return start;
  return resolveParent(k.mounts, t, start, path, k.hostView.rootOf(t));
}

/**
 * Linux's filename_create(): the parent, then a last component that must be
 * a plain name that does not exist yet. A trailing slash is only for mkdir.
 */
function newName(k: Kernel, t: Task, dirfd: number, path: string, isDirectory: boolean): Resolved | number {
  const p = parentOf(k, t, dirfd, path);
  if (typeof p === 'number') return p;
  if (p.lastKind !== LastKind.Normal) return -E.EEXIST;
  const child = lookupChild(k.mounts, t, p);
  if (typeof child === 'number') return child;
  if (child.kind !== FileKind.Missing) return -E.EEXIST;
  if (p.trailingSlash && !isDirectory) return -E.ENOENT;
  return child;
}

/** A new name, and the operations of the tree that will hold it. */
function creatable(k: Kernel, t: Task, dirfd: number, path: string, isDirectory: boolean): { r: Resolved; ops: MutatingOps } | number {
  const r = newName(k, t, dirfd, path, isDirectory);
  if (typeof r === 'number') return r;
  const ops = mutableOps(r);
  return typeof ops === 'number' ? ops : { r, ops };
}

function mkdir(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, mode: number): SyscallReturn {
  const path = readPath(k, trap, pathArg);
  if (typeof path === 'number') return path;
  const x = creatable(k, t, dirfd, path, true);
  if (typeof x === 'number') return x;
  return x.ops.mkdir(x.r.rel, t.creationMode(mode));
}

/** may_mknod(): the type is checked before the name is looked at. */
function mknodType(mode: number): number {
  const type = mode & S_IFMT;
  switch (type) {
    case 0: return S_IFREG;
    case S_IFREG: case S_IFCHR: case S_IFBLK: case S_IFIFO: case S_IFSOCK: return type;
    case S_IFDIR: return -E.EPERM;
    default: return -E.EINVAL;
  }
}

function mknod(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, mode: number, dev: number): SyscallReturn {
  const type = mknodType(mode);
  if (type < 0) return type;
  const path = readPath(k, trap, pathArg);
  if (typeof path === 'number') return path;
  const x = creatable(k, t, dirfd, path, false);
  if (typeof x === 'number') return x;
  // No device nodes in a sandbox: CAP_MKNOD is not the program's.
  if (type === S_IFCHR || type === S_IFBLK) return -E.EPERM;
  return x.ops.mknod(x.r.rel, type | t.creationMode(mode), dev);
}

function unlink(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, flags: number): SyscallReturn {
  if (flags & ~AT_REMOVEDIR) return -E.EINVAL;
  const path = readPath(k, trap, pathArg);
  if (typeof path === 'number') return path;
  const removeDir = (flags & AT_REMOVEDIR) !== 0;
  const p = parentOf(k, t, dirfd, path);
  if (typeof p === 'number') return p;
  if (removeDir) {
    if (p.lastKind === LastKind.DotDot) return -E.ENOTEMPTY;
    if (p.lastKind === LastKind.Dot) return -E.EINVAL;
    if (p.lastKind === LastKind.Root) return -E.EBUSY;
  } else if (p.lastKind !== LastKind.Normal) {
    return -E.EISDIR;
  }
  const child = lookupChild(k.mounts, t, p);
  if (typeof child === 'number') return child;
  if (child.kind === FileKind.Missing) return -E.ENOENT;
  if (removeDir) {
    if (child.kind !== FileKind.Directory) return -E.ENOTDIR;
  } else {
    if (child.kind === FileKind.Directory) return -E.EISDIR;
    if (p.trailingSlash) return -E.ENOTDIR;
  }
  if (child.rel.length === 0) return -E.EBUSY; // a mount point
  const ops = mutableOps(child);
  if (typeof ops === 'number') return ops;
  return ops.unlink(child.rel, removeDir);
}

function rename(k: Kernel, t: Task, trap: Trap, oldDirfd: number, oldArg: number, newDirfd: number, newArg: number, flags: number): SyscallReturn {
  if (flags & ~(RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT)) return -E.EINVAL;
  if ((flags & RENAME_EXCHANGE) && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT))) return -E.EINVAL;
  // A bad name surfaces when Linux first uses it: the old one is walked
  // before the new one is even looked at.
  const oldPath = readPath(k, trap, oldArg);
  if (typeof oldPath === 'number') return oldPath;
  const from = parentOf(k, t, oldDirfd, oldPath);
  if (typeof from === 'number') return from;
  const newPath = readPath(k, trap, newArg);
  if (typeof newPath === 'number') return newPath;
  const to = parentOf(k, t, newDirfd, newPath);
  if (typeof to === 'number') return to;
  if (from.parent.mount !== to.parent.mount) return -E.EXDEV;
  if (from.lastKind !== LastKind.Normal) return -E.EBUSY;
  if (to.lastKind !== LastKind.Normal) return flags & RENAME_NOREPLACE ? -E.EEXIST : -E.EBUSY;
  // Both names are looked up before either's trailing slash is judged.
  const source = lookupChild(k.mounts, t, from);
  if (typeof source === 'number') return source;
  if (source.kind === FileKind.Missing) return -E.ENOENT;
  const target = lookupChild(k.mounts, t, to);
  if (typeof target === 'number') return target;
  if ((flags & RENAME_NOREPLACE) && target.kind !== FileKind.Missing) return -E.EEXIST;
  if (flags & RENAME_EXCHANGE) {
    if (target.kind === FileKind.Missing) return -E.ENOENT;
    if (target.kind !== FileKind.Directory && to.trailingSlash) return -E.ENOTDIR;
  }
  if (source.kind !== FileKind.Directory) {
    if (from.trailingSlash) return -E.ENOTDIR;
    if (!(flags & RENAME_EXCHANGE) && to.trailingSlash) return -E.ENOTDIR;
  }
  if (source.rel.length === 0 || target.rel.length === 0) return -E.EBUSY;
  const ops = mutableOps(source);
  if (typeof ops === 'number') return ops;
  return ops.rename(source.rel, target.rel, flags);
}

function link(k: Kernel, t: Task, trap: Trap, oldDirfd: number, oldArg: number, newDirfd: number, newArg: number, flags: number): SyscallReturn {
  if (flags & ~(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const follow = (flags & AT_SYMLINK_FOLLOW) !== 0;
  let from: Resolved | typeof UNNAMED | number;
  if (isEmptyPathForm(k, trap, oldArg, flags)) {
    from = linkSourceOfFd(k, t, oldDirfd);
  } else {
    const oldPath = readPath(k, trap, oldArg);
    if (typeof oldPath === 'number') return oldPath;
    from = existing(resolveString(k, t, oldDirfd, oldPath, follow));
    // /proc/<pid>/fd/N followed to an object with no path (a deleted file, a pipe).
    if (follow && typeof from !== 'number' && from.magic && from.magic.fd >= 0) from = objectOfFd(k, from.magic.task, from.magic.fd);
  }
  if (typeof from === 'number') return from;
  const newPath = readPath(k, trap, newArg);
  if (typeof newPath === 'number') return newPath;
  const to = newName(k, t, newDirfd, newPath, false);
  if (typeof to === 'number') return to;
  // An object with no name left (an O_TMPFILE file, or a deleted one) is
  // reachable only through the task's own fd: with the new name checked, the
  // kernel links it in the program's context and sandbox's mount namespace,
  // and makes vfs_link()'s own checks (ENOENT unless it is a linkable tmpfile,
  // EXDEV across mounts).
  if (from === UNNAMED) return CONTINUE;
  if (from.mount !== to.mount) return -E.EXDEV;
  const ops = mutableOps(to);
  if (typeof ops === 'number') return ops;
  if (from.kind === FileKind.Directory) return -E.EPERM;
  return ops.link(from.rel, to.rel);
}

/** A file an fd refers to that has no name left (deleted, or O_TMPFILE). */
const UNNAMED: unique symbol = Symbol('unnamed');

/**
 * linkat(fd, "", ..., AT_EMPTY_PATH): the object the fd refers to, by the
 * name it has now (AT_FDCWD: the working directory, which is then EPERM as
 * any directory). Linux asks for CAP_DAC_READ_SEARCH, which only the
 * sandbox's root holds.
 */
function linkSourceOfFd(k: Kernel, t: Task, fd: number): Resolved | typeof UNNAMED | number {
  if (t.creds().euid !== 0) return -E.ENOENT;
  if (fd === AT_FDCWD) return existing(resolveString(k, t, AT_FDCWD, '.', false));
  return objectOfFd(k, t, fd);
}

/** What fd `fd` of task `owner` refers to, as a name in the sandbox's tree. */
function objectOfFd(k: Kernel, owner: Task, fd: number): Resolved | typeof UNNAMED | number {
  const text = fd < 0 ? null : k.hostView.fdTarget(owner, fd);
  if (text === null) return -E.EBADF;
  if (text.charCodeAt(0) !== 0x2f) return -E.EXDEV; // pipe:[..], socket:[..]: another mount
  if (text.endsWith(' (deleted)')) return UNNAMED;
  // The text is a path from the sandbox's root, free of symlinks but the object itself.
  return existing(resolvePath(k.mounts, owner, [], text, { followFinal: false }));
}

function symlink(k: Kernel, t: Task, trap: Trap, targetArg: number, newDirfd: number, newArg: number): SyscallReturn {
  const target = readPath(k, trap, targetArg);
  if (typeof target === 'number') return target;
  if (target.length === 0) return -E.ENOENT;
  const newPath = readPath(k, trap, newArg);
  if (typeof newPath === 'number') return newPath;
  const x = creatable(k, t, newDirfd, newPath, false);
  if (typeof x === 'number') return x;
  return x.ops.symlink(target, x.r.rel);
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
