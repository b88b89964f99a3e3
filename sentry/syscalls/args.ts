// Reading a trapped syscall's arguments out of the task, and writing results
// back. Every failure is an errno for the program (EFAULT for a bad pointer),
// never an exception.
import { AT_EMPTY_PATH, AT_FDCWD, E, PATH_MAX } from '../abi/linux.js';
import type { Trap } from '../../platform/platform.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { resolvePath, type Resolved } from '../vfs/resolve.js';
import { FileKind, type MutatingOps } from '../vfs/filesystem.js';
import { CONTINUE, type SyscallReturn } from './types.js';

/** A path argument: at most PATH_MAX bytes with its NUL (else ENAMETOOLONG). */
export function readPath(k: Kernel, trap: Trap, argIndex: number): string | number {
  const addr = trap.argPtr(argIndex);
  if (addr <= 0) return -E.EFAULT;
  const s = k.memory.readCString(trap.tid, addr, PATH_MAX - 1);
  return s;
}

/** A string argument of bounded length (hostnames, xattr names...). */
export function readString(k: Kernel, trap: Trap, argIndex: number, max: number): string | number {
  const addr = trap.argPtr(argIndex);
  if (addr <= 0) return -E.EFAULT;
  return k.memory.readCString(trap.tid, addr, max);
}

/** Copies bytes into the task at addr; 0 or -EFAULT. */
export function copyOut(k: Kernel, trap: Trap, addr: number, buf: Uint8Array, len: number): number {
  return copyOutAt(k, trap, addr, buf, 0, len) === len ? 0 : -E.EFAULT;
}

/**
 * The one way the sentry writes task memory: only while the task still
 * waits in its syscall (its pid cannot have been reused). Returns the bytes
 * written (short at an unmapped page), or -EFAULT.
 */
export function copyOutAt(k: Kernel, trap: Trap, addr: number, buf: Uint8Array, off: number, len: number): number {
  if (len === 0) return 0;
  if (addr <= 0) return -E.EFAULT;
  if (!trap.stillWaiting()) return -E.ESRCH;
  const n = k.memory.write(trap.tid, addr, buf, off, len);
  return n < 0 ? -E.EFAULT : n;
}

/** A size_t argument; anything from 2^32 up reads as Infinity, past every bound a caller checks. */
export function argSize(trap: Trap, argIndex: number): number {
  return trap.argHi(argIndex) !== 0 ? Infinity : trap.argU32(argIndex);
}

/**
 * copy_struct_from_user(): an extensible struct of usize bytes at addr, of
 * which the first `known` are the fields we understand. -EFAULT when it
 * cannot be read, -E2BIG when a byte past the known ones is not zero (a newer
 * field we cannot honour). The caller checks usize's bounds first, in its own
 * syscall's order.
 */
export function copyInStruct(k: Kernel, trap: Trap, addr: number, usize: number, known: number): Uint8Array | number {
  const raw = new Uint8Array(usize);
  if (copyIn(k, trap, addr, raw, usize) < 0) return -E.EFAULT;
  for (let i = known; i < usize; i++) if (raw[i] !== 0) return -E.E2BIG;
  return raw;
}

/** Copies bytes from the task into buf; 0 or -EFAULT. */
export function copyIn(k: Kernel, trap: Trap, addr: number, buf: Uint8Array, len: number): number {
  if (len === 0) return 0;
  if (addr <= 0) return -E.EFAULT;
  const n = k.memory.read(trap.tid, addr, buf, 0, len);
  return n === len ? 0 : -E.EFAULT;
}

export interface PathArg {
  readonly path: string;
  readonly resolved: Resolved;
}

/**
 * Reads the path argument and resolves it from dirfd (AT_FDCWD for the
 * non-at variants). Returns -errno, including ENOENT for an empty path: the
 * AT_EMPTY_PATH form is the caller's to handle first.
 */
export function resolveArg(
  k: Kernel, t: Task, trap: Trap, dirfd: number, pathIndex: number, followFinal: boolean,
): Resolved | number {
  const path = readPath(k, trap, pathIndex);
  if (typeof path === 'number') return path;
  return resolveString(k, t, dirfd, path, followFinal);
}

export function resolveString(k: Kernel, t: Task, dirfd: number, path: string, followFinal: boolean): Resolved | number {
  if (path.length === 0) return -E.ENOENT;
  const start = k.hostView.startDirectory(t, dirfd, path);
  if (typeof start === 'number') return start;
  return resolvePath(k.mounts, t, start, path, { followFinal, root: k.hostView.rootOf(t) });
}

/**
 * True when the call names the fd itself: an empty path with AT_EMPTY_PATH,
 * or (for the stat family since Linux 6.11, `nullAllowed`) a NULL one.
 */
export function isEmptyPathForm(k: Kernel, trap: Trap, pathIndex: number, atFlags: number, nullAllowed = false): boolean {
  if ((atFlags & AT_EMPTY_PATH) === 0) return false;
  const addr = trap.argPtr(pathIndex);
  if (addr === 0) return nullAllowed;
  if (addr < 0) return false;
  const n = k.memory.read(trap.tid, addr, k.scratch, 0, 1);
  return n === 1 && k.scratch[0] === 0;
}

/** What a (dirfd, path, flags) triple names: one of the task's fds, or a path. */
export type Target = { readonly fd: number; readonly resolved?: undefined } | { readonly fd?: undefined; readonly resolved: Resolved };

/**
 * The object an *at call acts on, Linux's way: with AT_EMPTY_PATH and an empty
 * path, the fd dirfd itself (AT_FDCWD: the working directory); otherwise the
 * path, which must exist.
 */
export function resolveTarget(
  k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, flags: number, followFinal: boolean, nullAllowed = false,
): Target | number {
  if (isEmptyPathForm(k, trap, pathArg, flags, nullAllowed)) {
    if (dirfd !== AT_FDCWD) return k.hostView.fdTarget(t, dirfd) === null ? -E.EBADF : { fd: dirfd };
    const cwd = existing(resolveString(k, t, AT_FDCWD, '.', true));
    return typeof cwd === 'number' ? cwd : { resolved: cwd };
  }
  const r = existing(resolveArg(k, t, trap, dirfd, pathArg, followFinal));
  return typeof r === 'number' ? r : { resolved: r };
}

/** The operations that change the tree an object lies in: EROFS on a
 * read-only mount, EPERM where the filesystem has none (procfs). */
export function mutableOps(r: Resolved): MutatingOps | number {
  if (r.mount.readOnly) return -E.EROFS;
  return r.mount.fs.ops ?? -E.EPERM;
}

/**
 * The answer for a call whose name starts at a removed directory the task
 * still holds ("." or ".." from it): the kernel carries it out itself, from
 * that inode, in the sandbox's mount namespace. Otherwise the errno stands.
 */
export function orFromDeletedDirectory(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, errno: number): SyscallReturn {
  if (errno !== -E.ENOENT) return errno;
  const path = readPath(k, trap, pathArg);
  if (typeof path === 'number') return errno;
  return k.hostView.walksFromDeletedDirectory(t, dirfd, path) ? CONTINUE : errno;
}

/** The resolved object must exist. */
export function existing(r: Resolved | number): Resolved | number {
  if (typeof r === 'number') return r;
  return r.kind === FileKind.Missing ? -E.ENOENT : r;
}
