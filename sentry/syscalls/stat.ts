// stat, lstat, newfstatat, statx, access and friends, readlink, getcwd,
// chdir, statfs: questions about names.
import { native } from '../../native/index.js';
import type { Trap } from '../../platform/platform.js';
import {
  AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE, AT_SYMLINK_NOFOLLOW, E,
  STATX_SIZE, STAT_SIZE, S_IFDIR, S_IFMT, X_OK, W_OK, R_OK,
} from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind } from '../vfs/filesystem.js';
import type { Resolved } from '../vfs/resolve.js';
import { statxToStat, statxMode } from '../vfs/stat.js';
import { joinAbsolute } from '../vfs/path.js';
import { workingDirectory } from '../vfs/lookup.js';
import { copyOut, existing, isEmptyPathForm, readPath, resolveArg, resolveString } from './args.js';
import { withTaskFd } from './fdutil.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

const statBuf = new Uint8Array(STAT_SIZE);
const statxBuf = new Uint8Array(STATX_SIZE);
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
  if (isEmptyPathForm(k, trap, pathArg, flags)) {
    if (dirfd === AT_FDCWD) return statCwd(k, t);
    return withTaskFd(t, dirfd, (hostFd) => native.fstatRaw(hostFd, statBuf));
  }
  const r = existing(resolveArg(k, t, trap, dirfd, pathArg, (flags & AT_SYMLINK_NOFOLLOW) === 0));
  if (typeof r === 'number') return r;
  const sx = statxOf(t, r);
  if (typeof sx === 'number') return sx;
  statxToStat(sx, statBuf);
  return 0;
}

function statCwd(k: Kernel, t: Task): number {
  const r = existing(resolveString(k, t, AT_FDCWD, '.', true));
  if (typeof r === 'number') return r;
  const sx = statxOf(t, r);
  if (typeof sx === 'number') return sx;
  statxToStat(sx, statBuf);
  return 0;
}

function stat(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, bufArg: number, flags: number): SyscallReturn {
  const r = statInto(k, t, trap, dirfd, pathArg, flags);
  if (r < 0) return r;
  return copyOut(k, trap, trap.argPtr(bufArg), statBuf, STAT_SIZE);
}

function statx(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const dirfd = trap.argI32(0);
  const flags = trap.argI32(2);
  const mask = trap.argU32(3);
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE)) return -E.EINVAL;
  if ((flags & AT_STATX_SYNC_TYPE) === AT_STATX_SYNC_TYPE) return -E.EINVAL;
  if (mask & STATX_RESERVED) return -E.EINVAL;
  let sx: Uint8Array;
  if (isEmptyPathForm(k, trap, 1, flags) && dirfd !== AT_FDCWD) {
    const r = statxOfFd(t, dirfd, flags, mask || STATX_BASIC_STATS);
    if (r < 0) return r;
    sx = statxBuf;
  } else {
    const path = readPath(k, trap, 1);
    if (typeof path === 'number') return path;
    const r = existing(resolveString(k, t, dirfd, path.length === 0 && (flags & AT_EMPTY_PATH) ? '.' : path,
      (flags & AT_SYMLINK_NOFOLLOW) === 0));
    if (typeof r === 'number') return r;
    const got = statxOf(t, r);
    if (typeof got === 'number') return got;
    sx = got;
  }
  return copyOut(k, trap, trap.argPtr(4), sx, STATX_SIZE);
}

/** access(2) for the task's credentials (real ids unless AT_EACCESS). */
function access(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, mode: number, flags: number): SyscallReturn {
  if (mode & ~(R_OK | W_OK | X_OK)) return -E.EINVAL;
  if (flags & ~(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  let sx: Uint8Array;
  let readOnly = false;
  if (isEmptyPathForm(k, trap, pathArg, flags) && dirfd !== AT_FDCWD) {
    const r = statxOfFd(t, dirfd, 0, STATX_BASIC_STATS);
    if (r < 0) return r;
    sx = statxBuf;
  } else {
    const r = existing(resolveArg(k, t, trap, dirfd, pathArg, (flags & AT_SYMLINK_NOFOLLOW) === 0));
    if (typeof r === 'number') return r;
    const got = statxOf(t, r);
    if (typeof got === 'number') return got;
    sx = got;
    readOnly = r.mount.readOnly;
  }
  if ((mode & W_OK) && readOnly) return -E.EROFS;
  const c = t.creds();
  const uid = flags & AT_EACCESS ? c.euid : c.uid;
  const gid = flags & AT_EACCESS ? c.egid : c.gid;
  return permitted(sx, uid, gid, c.groups, mode) ? 0 : -E.EACCES;
}

/** The classic owner/group/other check, with root's override (CAP_DAC_OVERRIDE). */
export function permitted(sx: Uint8Array, uid: number, gid: number, groups: readonly number[], want: number): boolean {
  const m = statxMode(sx);
  const dv = new DataView(sx.buffer, sx.byteOffset, sx.byteLength);
  if (uid === 0) {
    // Root may read and write anything; execute needs some x bit, or a directory.
    if (!(want & X_OK)) return true;
    return (m & S_IFMT) === S_IFDIR || (m & 0o111) !== 0;
  }
  const ownerUid = dv.getUint32(20, true);
  const ownerGid = dv.getUint32(24, true);
  let bits: number;
  if (uid === ownerUid) bits = (m >> 6) & 7;
  else if (gid === ownerGid || groups.includes(ownerGid)) bits = (m >> 3) & 7;
  else bits = m & 7;
  return (bits & want) === want;
}

function readlink(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, bufArg: number, sizeArg: number): SyscallReturn {
  const size = trap.argI32(sizeArg);
  if (size <= 0) return -E.EINVAL;
  const r = existing(resolveArg(k, t, trap, dirfd, pathArg, false));
  if (typeof r === 'number') return r;
  if (r.kind !== FileKind.Symlink || r.symlinkTarget === undefined) return -E.EINVAL;
  const bytes = Buffer.from(r.symlinkTarget, 'latin1');
  const n = Math.min(bytes.length, size);
  const w = copyOut(k, trap, trap.argPtr(bufArg), bytes, n);
  return w < 0 ? w : n;
}

function getcwd(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const cwd = workingDirectory(t);
  if (typeof cwd === 'number') return cwd;
  const text = Buffer.from(joinAbsolute(cwd) + '\0', 'latin1');
  const size = trap.argI64(1);
  if (size < text.length) return -E.ERANGE;
  const w = copyOut(k, trap, trap.argPtr(0), text, text.length);
  return w < 0 ? w : text.length;
}

/** chdir: resolved and checked here, then carried out by the host kernel (the
 * same tree), which keeps the working directory that fork and CLONE_FS share. */
function chdir(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const r = existing(resolveArg(k, t, trap, AT_FDCWD, 0, true));
  if (typeof r === 'number') return r;
  if (r.kind !== FileKind.Directory) return -E.ENOTDIR;
  const sx = statxOf(t, r);
  if (typeof sx === 'number') return sx;
  const c = t.creds();
  if (!permitted(sx, c.euid, c.egid, c.groups, X_OK)) return -E.EACCES;
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
  fchdir: () => CONTINUE,
  statfs,
};

