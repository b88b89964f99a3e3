// stat, lstat, newfstatat, statx, access and friends, readlink, getcwd,
// chdir, statfs: questions about names.
import { native } from '../../native/index.js';
import type { Trap } from '../../platform/platform.js';
import {
  AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE, AT_SYMLINK_NOFOLLOW, E,
  PATH_MAX, STATX_SIZE, STAT_SIZE, S_IFDIR, S_IFMT, X_OK, W_OK, R_OK,
} from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind } from '../vfs/filesystem.js';
import type { Resolved } from '../vfs/resolve.js';
import { fileKindOfMode, statShownInPlace, statxOwner, statxShown, statxToStat, statxMode } from '../vfs/stat.js';
import { capableOverOwner, type IdMaps } from '../kernel/idmap.js';
import { joinAbsolute } from '../vfs/path.js';
import { copyOut, existing, orFromDeletedDirectory, readPath, resolveArg, resolveString, resolveTarget, type Target } from './args.js';
import { withTaskFd } from './fdutil.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

const statBuf = new Uint8Array(STAT_SIZE);
const statxBuf = new Uint8Array(STATX_SIZE);
/** A statx as the program sees it (owner in namespace ids), when that differs from the host's. */
const statxShownBuf = new Uint8Array(STATX_SIZE);
const linkBuf = new Uint8Array(PATH_MAX);
const STATX_BASIC_STATS = 0x7ff;
const STATX_RESERVED = 0x80000000;

/** statx of a resolved, existing object (from the walk when it came with one). */
function statxOf(t: Task, r: Resolved): Uint8Array | number {
  return r.statx ?? r.mount.fs.statx(t, r.rel);
}

/** statx of what an fd of the task refers to, into statxBuf. */
function statxOfFd(t: Task, fd: number, flags: number, mask: number): number {
  return withTaskFd(t, fd, (hostFd) => native.statxRaw(hostFd, flags & AT_STATX_SYNC_TYPE, mask, statxBuf));
}

/** The common body of stat, lstat and newfstatat: 0 or -errno, result in statBuf. */
function statInto(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, flags: number): number {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT)) return -E.EINVAL;
  const target = resolveTarget(k, t, trap, dirfd, pathArg, flags, (flags & AT_SYMLINK_NOFOLLOW) === 0, true);
  if (typeof target === 'number') return target;
  if (target.fd !== undefined) {
    const r = withTaskFd(t, target.fd, (hostFd) => native.fstatRaw(hostFd, statBuf));
    if (r === 0) statShownInPlace(statBuf, k.ids);
    return r;
  }
  const sx = statxOf(t, target.resolved);
  if (typeof sx === 'number') return sx;
  statxToStat(sx, statBuf);
  statShownInPlace(statBuf, k.ids);
  return 0;
}

/** statx of what a target names: into statxBuf for an fd, or the walk's own. */
function statxOfTarget(t: Task, target: Target, flags: number, mask: number): Uint8Array | number {
  if (target.fd === undefined) return statxOf(t, target.resolved);
  const r = statxOfFd(t, target.fd, flags, mask);
  return r < 0 ? r : statxBuf;
}

function stat(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, bufArg: number, flags: number): SyscallReturn {
  const r = statInto(k, t, trap, dirfd, pathArg, flags);
  if (r < 0) return orFromDeletedDirectory(k, t, trap, dirfd, pathArg, r);
  return copyOut(k, trap, trap.argPtr(bufArg), statBuf, STAT_SIZE);
}

function statx(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const dirfd = trap.argI32(0);
  const flags = trap.argI32(2);
  const mask = trap.argU32(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return -E.EINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) return -E.EINVAL;
  if (mask & STATX_RESERVED) return -E.EINVAL;
  const target = resolveTarget(k, t, trap, dirfd, 1, flags, (flags & AT_SYMLINK_NOFOLLOW) === 0, true);
  if (typeof target === 'number') return orFromDeletedDirectory(k, t, trap, dirfd, 1, target);
  const sx = statxOfTarget(t, target, flags, mask || STATX_BASIC_STATS);
  if (typeof sx === 'number') return sx;
  return copyOut(k, trap, trap.argPtr(4), statxShown(sx, k.ids, statxShownBuf), STATX_SIZE);
}

/**
 * access(2): the whole lookup and the check run as the task's real ids
 * (effective ones with AT_EACCESS), as Linux's access_override_creds() does:
 * real uid and gid as fsuid and fsgid, and root's permitted capabilities
 * (none for anyone else).
 */
function access(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, mode: number, flags: number): SyscallReturn {
  if (mode & ~(R_OK | W_OK | X_OK)) return -E.EINVAL;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  const c = t.creds();
  if (flags & AT_EACCESS) return accessAs(k, t, trap, dirfd, pathArg, mode, flags);
  // Namespace ids, as every identity the gofer takes (Credentials.fsIdentity);
  // root is the namespace's root (make_kuid(user_ns, 0)).
  const real = { fsuid: c.uid, fsgid: c.gid, groups: c.groups, capabilities: c.uid === 0 ? c.capPermitted : 0 };
  return k.withIdentity(real, () => accessAs(k, t, trap, dirfd, pathArg, mode, flags));
}

function accessAs(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, mode: number, flags: number): SyscallReturn {
  const target = resolveTarget(k, t, trap, dirfd, pathArg, flags, (flags & AT_SYMLINK_NOFOLLOW) === 0);
  if (typeof target === 'number') return target;
  const sx = statxOfTarget(t, target, 0, STATX_BASIC_STATS);
  if (typeof sx === 'number') return sx;
  // The filesystem's own check where it has one: ACLs, capabilities and
  // read-only mounts included, in the kernel's order.
  const check = target.resolved?.mount.fs.access;
  if (check && target.resolved) return check(target.resolved.rel, mode);
  const c = t.creds();
  const uid = flags & AT_EACCESS ? c.euid : c.uid;
  const gid = flags & AT_EACCESS ? c.egid : c.gid;
  if (!permitted(sx, k.ids, uid, gid, c.groups, mode)) return -E.EACCES;
  // do_faccessat(): EROFS after the permission check, and never for special files.
  const kind = fileKindOfMode(statxMode(sx));
  const readOnly = target.resolved?.mount.readOnly ?? false;
  return (mode & W_OK) && readOnly && (kind === FileKind.Regular || kind === FileKind.Directory || kind === FileKind.Symlink) ? -E.EROFS : 0;
}

/**
 * The classic owner/group/other check, with root's override
 * (CAP_DAC_OVERRIDE), which holds only over files whose owner and group are
 * mapped in the sandbox's user namespace (capable_wrt_inode_uidgid()). The
 * ids asking are namespace ids; the file's are host ids, translated here.
 */
export function permitted(sx: Uint8Array, ids: IdMaps, uid: number, gid: number, groups: readonly number[], want: number): boolean {
  const m = statxMode(sx);
  const owner = statxOwner(sx);
  if (uid === 0 && capableOverOwner(ids, owner.uid, owner.gid)) {
    // Root may read and write anything; execute needs some x bit, or a directory.
    if (!(want & X_OK)) return true;
    return (m & S_IFMT) === S_IFDIR || (m & 0o111) !== 0;
  }
  // An unmapped owner (65534 shown) is nobody the task can be: only "other" applies.
  const ownerUid = ids.uid.hasHost(owner.uid) ? ids.uid.toNs(owner.uid) : -1;
  const ownerGid = ids.gid.hasHost(owner.gid) ? ids.gid.toNs(owner.gid) : -1;
  let bits: number;
  if (uid === ownerUid) bits = (m >> 6) & 7;
  else if (gid === ownerGid || groups.includes(ownerGid)) bits = (m >> 3) & 7;
  else bits = m & 7;
  return (bits & want) === want;
}

function readlink(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, bufArg: number, sizeArg: number): SyscallReturn {
  const size = trap.argI32(sizeArg);
  if (size <= 0) return -E.EINVAL;
  const path = readPath(k, trap, pathArg);
  if (typeof path === 'number') return path;
  // readlinkat(fd, "") reads the fd's own symlink (an O_PATH one): any other fd is ENOENT.
  if (path.length === 0 && dirfd !== AT_FDCWD) {
    const n = withTaskFd(t, dirfd, (hostFd) => native.readlinkFd(hostFd, linkBuf));
    if (n < 0) return n === -E.EBADF ? n : -E.ENOENT;
    const w = copyOut(k, trap, trap.argPtr(bufArg), linkBuf, Math.min(n, size));
    return w < 0 ? w : Math.min(n, size);
  }
  const r = existing(resolveString(k, t, dirfd, path, false));
  if (typeof r === 'number') return r;
  if (r.kind !== FileKind.Symlink || r.symlinkTarget === undefined) return -E.EINVAL;
  const bytes = Buffer.from(r.symlinkTarget, 'latin1');
  const n = Math.min(bytes.length, size);
  const w = copyOut(k, trap, trap.argPtr(bufArg), bytes, n);
  return w < 0 ? w : n;
}

function getcwd(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const cwd = k.hostView.workingDirectory(t);
  if (typeof cwd === 'number') return cwd;
  // Relative to the task's root; outside a chroot, Linux says so.
  const root = k.hostView.rootOf(t);
  const inside = root.every((c, i) => cwd[i] === c);
  const shown = inside ? joinAbsolute(cwd.slice(root.length)) : '(unreachable)' + joinAbsolute(cwd);
  const text = Buffer.from(shown + '\0', 'latin1');
  const size = trap.argHi(1) !== 0 ? Infinity : trap.argU32(1); // size_t: -1 is huge
  if (size < text.length) return -E.ERANGE;
  const w = copyOut(k, trap, trap.argPtr(0), text, text.length);
  return w < 0 ? w : text.length;
}

/** The directory a path names, if the task may enter it (search permission): 0 or -errno. */
function enterable(k: Kernel, t: Task, trap: Trap): number {
  const r = existing(resolveArg(k, t, trap, AT_FDCWD, 0, true));
  if (typeof r === 'number') return r;
  if (r.kind !== FileKind.Directory) return -E.ENOTDIR;
  const sx = statxOf(t, r);
  if (typeof sx === 'number') return sx;
  const c = t.creds();
  return permitted(sx, k.ids, c.euid, c.egid, c.groups, X_OK) ? 0 : -E.EACCES;
}

/** chdir: resolved and checked here, then carried out by the host kernel (the
 * same tree), which keeps the working directory that fork and CLONE_FS share. */
function chdir(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const r = enterable(k, t, trap);
  return r < 0 ? orFromDeletedDirectory(k, t, trap, AT_FDCWD, 0, r) : CONTINUE;
}

/** chroot: checked here, carried out by the kernel (which keeps each task's
 * root for exec and fork); from then on the sentry reads roots back from it. */
function chroot(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const r = enterable(k, t, trap);
  if (r < 0) return r;
  if (t.creds().euid !== 0) return -E.EPERM; // CAP_SYS_CHROOT is root's in the sandbox
  k.hostView.noteChroot();
  return CONTINUE;
}

function statfs(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const r = existing(resolveArg(k, t, trap, AT_FDCWD, 0, true));
  if (typeof r === 'number') return r;
  const buf = r.mount.fs.statfs(t, r.rel);
  if (typeof buf === 'number') return buf;
  return copyOut(k, trap, trap.argPtr(1), buf, buf.length);
}

export const statHandlers: HandlerTable = {
  stat: (k, t, trap) => stat(k, t, trap, AT_FDCWD, 0, 1, 0),
  lstat: (k, t, trap) => stat(k, t, trap, AT_FDCWD, 0, 1, AT_SYMLINK_NOFOLLOW),
  newfstatat: (k, t, trap) => stat(k, t, trap, trap.argI32(0), 1, 2, trap.argI32(3)),
  statx,
  access: (k, t, trap) => access(k, t, trap, AT_FDCWD, 0, trap.argI32(1), 0),
  faccessat: (k, t, trap) => access(k, t, trap, trap.argI32(0), 1, trap.argI32(2), 0),
  faccessat2: (k, t, trap) => access(k, t, trap, trap.argI32(0), 1, trap.argI32(2), trap.argI32(3)),
  readlink: (k, t, trap) => readlink(k, t, trap, AT_FDCWD, 0, 1, 2),
  readlinkat: (k, t, trap) => readlink(k, t, trap, trap.argI32(0), 1, 2, 3),
  getcwd,
  chdir,
  chroot,
  fchdir: () => CONTINUE,
  statfs,
};

