// Calls that change a file's attributes by name: chmod, chown, the utime
// family, truncate. fchmod, fchown and ftruncate run natively on the fd the
// program holds; the forms that name an fd through an *at call
// (AT_EMPTY_PATH, and futimens, which is utimensat(fd, NULL)) go to the
// gofer with that fd, never to the sentry's own calls: the sentry is the
// host's root, and the kernel would check nothing.
import type { GoferClient } from '../../gofer/client.js';
import type { Trap } from '../../platform/platform.js';
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, E, PAGE_SIZE } from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind, type MutatingOps } from '../vfs/filesystem.js';
import type { Resolved } from '../vfs/resolve.js';
import { argSize, copyIn, copyInStruct, existing, mutableOps, resolveArg, resolveTarget } from './args.js';
import { withTaskFd } from './fdutil.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

const UTIME_NOW = (1 << 30) - 1;
const UTIME_OMIT = (1 << 30) - 2;
const timesBuf = new Uint8Array(32);

/** An existing object by path, with the operations that may change it. */
function target(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, follow: boolean): { r: Resolved; ops: MutatingOps } | number {
  const r = existing(resolveArg(k, t, trap, dirfd, pathArg, follow));
  return typeof r === 'number' ? r : withOps(r);
}

function withOps(r: Resolved): { r: Resolved; ops: MutatingOps } | number {
  const ops = mutableOps(r);
  return typeof ops === 'number' ? ops : { r, ops };
}

/**
 * Has the gofer make a change to the file the task's fd names, on a borrowed
 * copy of it and with the task's identity (the gofer's fd ops): the host
 * kernel then checks it as it would the program's own call. 0 or -errno.
 */
function onFd(k: Kernel, t: Task, fd: number, op: (gofer: GoferClient, hostFd: number) => number): number {
  const gofer = k.gofer;
  if (gofer === null) return -E.EPERM;
  return withTaskFd(t, fd, (hostFd) => op(gofer, hostFd));
}

/** The object of an *at call with AT_EMPTY_PATH allowed, ready for a change. */
function changeTarget(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, flags: number): { fd: number } | { r: Resolved; ops: MutatingOps } | number {
  const target = resolveTarget(k, t, trap, dirfd, pathArg, flags, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  if (typeof target === 'number') return target;
  return target.fd !== undefined ? { fd: target.fd } : withOps(target.resolved);
}

function chmod(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, mode: number, flags: number): SyscallReturn {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const x = changeTarget(k, t, trap, dirfd, pathArg, flags);
  if (typeof x === 'number') return x;
  // fchmodat2(fd, "", AT_EMPTY_PATH) also reaches an O_PATH fd's file (fchmod would not).
  if ('fd' in x) return onFd(k, t, x.fd, (gofer, hostFd) => gofer.chmodFd(hostFd, mode & 0o7777, flags));
  if (x.r.kind === FileKind.Symlink) return -E.EOPNOTSUPP;
  return x.ops.chmod(x.r.rel, mode & 0o7777);
}

function chown(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, uid: number, gid: number, flags: number): SyscallReturn {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const x = changeTarget(k, t, trap, dirfd, pathArg, flags);
  if (typeof x === 'number') return x;
  // The program names namespace ids, and so does the gofer (it serves from
  // the sandbox's user namespace): they go as they are. -1 is "leave it"; an
  // id with no mapping is EINVAL (chown_common()), after the lookup.
  if ((uid !== -1 && k.ids.uid.toHost(uid >>> 0) < 0) || (gid !== -1 && k.ids.gid.toHost(gid >>> 0) < 0)) return -E.EINVAL;
  if ('fd' in x) return onFd(k, t, x.fd, (gofer, hostFd) => gofer.chownFd(hostFd, uid, gid, flags));
  return x.ops.chown(x.r.rel, uid, gid);
}

const nsecValid = (n: number): boolean => n === UTIME_NOW || n === UTIME_OMIT || (n >= 0 && n <= 999_999_999);

/**
 * Reads two timespecs (or timevals, as nanoseconds) at addr; a null addr
 * means "now" for both. Only EFAULT here: Linux checks the values later.
 */
type Times = [atimeSec: bigint, atimeNsec: number, mtimeSec: bigint, mtimeNsec: number];

function readTimes(k: Kernel, trap: Trap, addr: number, timeval: boolean): Times | number {
  if (addr === 0) return [0n, UTIME_NOW, 0n, UTIME_NOW];
  if (copyIn(k, trap, addr, timesBuf, 32) < 0) return -E.EFAULT;
  const dv = new DataView(timesBuf.buffer);
  const out: Times = [0n, 0, 0n, 0];
  for (let i = 0; i < 2; i++) {
    let sec = dv.getBigInt64(16 * i, true);
    // Past 2^53 a fraction is no number we need exactly: it is invalid either way.
    const fracBig = dv.getBigInt64(16 * i + 8, true);
    const frac = fracBig > 0x7fffffffn || fracBig < -0x80000000n ? -1 : Number(fracBig);
    if (timeval && (frac < 0 || frac >= 1_000_000)) return -E.EINVAL; // utimes checks timevals on copy
    const nsec = timeval ? frac * 1000 : frac;
    // With UTIME_NOW or UTIME_OMIT Linux ignores the seconds (callers leave garbage there).
    if (!timeval && (nsec === UTIME_NOW || nsec === UTIME_OMIT)) sec = 0n;
    out[2 * i] = sec;
    out[2 * i + 1] = nsec;
  }
  return out;
}

/** utimensat and the utimes family, in Linux's order (fs/utimes.c). */
function utimens(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, timesAddr: number, flags: number, timeval: boolean): SyscallReturn {
  const times = readTimes(k, trap, timesAddr, timeval);
  if (typeof times === 'number') return times;
  if (times[1] === UTIME_OMIT && times[3] === UTIME_OMIT) return 0; // nothing to change, nothing looked up
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  // utimensat(fd, NULL, ...) is futimens: on the fd, with no name.
  const onItsFd = trap.argPtr(pathArg) === 0 && dirfd !== AT_FDCWD;
  if (onItsFd && flags !== 0) return -E.EINVAL; // futimens takes no flags
  if (onItsFd && k.hostView.fdTarget(t, dirfd) === null) return -E.EBADF;
  const x = onItsFd ? { fd: dirfd } : changeTarget(k, t, trap, dirfd, pathArg, flags);
  if (typeof x === 'number') return x;
  if (!nsecValid(times[1]) || !nsecValid(times[3])) return -E.EINVAL;
  if ('fd' in x) {
    // flags 0 (the futimens form) keeps futimens' EBADF for an O_PATH fd.
    const atime = { sec: times[0], nsec: times[1] };
    const mtime = { sec: times[2], nsec: times[3] };
    return onFd(k, t, x.fd, (gofer, hostFd) => gofer.utimesFd(hostFd, atime, mtime, onItsFd ? 0 : flags));
  }
  return x.ops.utimes(x.r.rel, times[0], times[1], times[2], times[3]);
}

/** utime(path, struct utimbuf {time_t actime, modtime}). */
function utime(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const addr = trap.argPtr(1);
  let times: Times = [0n, UTIME_NOW, 0n, UTIME_NOW];
  if (addr !== 0) {
    if (copyIn(k, trap, addr, timesBuf, 16) < 0) return -E.EFAULT;
    const dv = new DataView(timesBuf.buffer);
    times = [dv.getBigInt64(0, true), 0, dv.getBigInt64(8, true), 0];
  }
  const x = target(k, t, trap, AT_FDCWD, 0, true);
  if (typeof x === 'number') return x;
  return x.ops.utimes(x.r.rel, times[0], times[1], times[2], times[3]);
}

function truncate(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const length = trap.argI64(1);
  if (length < 0) return -E.EINVAL;
  const x = target(k, t, trap, AT_FDCWD, 0, true);
  if (typeof x === 'number') return x;
  if (x.r.kind === FileKind.Directory) return -E.EISDIR;
  if (x.r.kind !== FileKind.Regular) return -E.EINVAL;
  return x.ops.truncate(x.r.rel, length);
}

/** struct file_attr's first version: u64 fa_xflags and four u32s. */
const FILE_ATTR_SIZE_VER0 = 24;

/**
 * file_getattr and file_setattr (Linux 6.17): the inode flags of
 * FS_IOC_FSGETXATTR by dirfd and path. The arguments are checked and the name
 * resolved here, in Linux's order; the kernel then carries the call out in
 * the sandbox's mount namespace, which holds the same tree (as for chdir).
 */
function fileAttr(k: Kernel, t: Task, trap: Trap, setting: boolean): SyscallReturn {
  const atFlags = trap.argU32(4);
  if (atFlags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const usize = argSize(trap, 3);
  if (usize > PAGE_SIZE) return -E.E2BIG;
  if (usize < FILE_ATTR_SIZE_VER0) return -E.EINVAL;
  if (setting) {
    // file_setattr reads the struct before the lookup.
    const raw = copyInStruct(k, trap, trap.argPtr(2), usize, FILE_ATTR_SIZE_VER0);
    if (typeof raw === 'number') return raw;
  }
  const follow = (atFlags & AT_SYMLINK_NOFOLLOW) === 0;
  const target = resolveTarget(k, t, trap, trap.argI32(0), 1, atFlags, follow, true);
  return typeof target === 'number' ? target : CONTINUE;
}

export const attrHandlers: HandlerTable = {
  chmod: (k, t, trap) => chmod(k, t, trap, AT_FDCWD, 0, trap.argU32(1), 0),
  fchmodat: (k, t, trap) => chmod(k, t, trap, trap.argI32(0), 1, trap.argU32(2), 0),
  fchmodat2: (k, t, trap) => chmod(k, t, trap, trap.argI32(0), 1, trap.argU32(2), trap.argI32(3)),
  chown: (k, t, trap) => chown(k, t, trap, AT_FDCWD, 0, trap.argI32(1), trap.argI32(2), 0),
  lchown: (k, t, trap) => chown(k, t, trap, AT_FDCWD, 0, trap.argI32(1), trap.argI32(2), AT_SYMLINK_NOFOLLOW),
  fchownat: (k, t, trap) => chown(k, t, trap, trap.argI32(0), 1, trap.argI32(2), trap.argI32(3), trap.argI32(4)),
  utimensat: (k, t, trap) => utimens(k, t, trap, trap.argI32(0), 1, trap.argPtr(2), trap.argI32(3), false),
  utimes: (k, t, trap) => utimens(k, t, trap, AT_FDCWD, 0, trap.argPtr(1), 0, true),
  futimesat: (k, t, trap) => utimens(k, t, trap, trap.argI32(0), 1, trap.argPtr(2), 0, true),
  utime,
  truncate,
  file_getattr: (k, t, trap) => fileAttr(k, t, trap, false),
  file_setattr: (k, t, trap) => fileAttr(k, t, trap, true),
};
