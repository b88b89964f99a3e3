// open, openat, openat2, creat: resolve through the VFS, have the filesystem
// open the object, install the resulting fd into the program. After that the
// program reads and writes it natively.
import { native } from '../../native/index.js';
import type { Trap } from '../../platform/platform.js';
import {
  AT_FDCWD, E, NAME_MAX, PAGE_SIZE, O_ACCMODE, O_PATH_FLAGS, PATH_MAX, O_CLOEXEC, O_CREAT, O_DIRECTORY, O_EXCL, O_NOFOLLOW, O_PATH, O_RDONLY,
  O_TMPFILE_BIT, O_TRUNC, O_VALID_FLAGS, O_WRONLY, RESOLVE_BENEATH, RESOLVE_CACHED, RESOLVE_IN_ROOT,
  RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, RESOLVE_NO_XDEV,
} from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind, OPEN_IN_HOST } from '../vfs/filesystem.js';
import { LastKind, resolveParent, resolvePath } from '../vfs/resolve.js';
import { endsInDirectoryForm, splitPath } from '../vfs/path.js';
import { argSize, copyInStruct, readPath } from './args.js';
import { CONTINUE, REPLIED, type HandlerTable, type SyscallReturn } from './types.js';


/** The whole of open(2) once the arguments are in hand. */
function openPath(
  k: Kernel, t: Task, trap: Trap, dirfd: number, path: string, flags: number, mode: number, resolve = 0,
): SyscallReturn {
  if (path.length === 0) return -E.ENOENT;
  const scoped = (resolve & (RESOLVE_BENEATH | RESOLVE_IN_ROOT)) !== 0;
  // Scoped resolution starts at dirfd even for an absolute path.
  const start = k.hostView.startDirectory(t, dirfd, scoped && path.charCodeAt(0) === 0x2f ? path.slice(1) || '.' : path);
  // "." or ".." from a removed directory the task holds: only the kernel can walk that.
  if (start === -E.ENOENT && !scoped && k.hostView.walksFromDeletedDirectory(t, dirfd, path)) return CONTINUE;
  if (typeof start === 'number') return start;
  const creating = (flags & O_CREAT) !== 0;
  const exclusive = creating && (flags & O_EXCL) !== 0;
  if (resolve === 0 && !(flags & (O_PATH | O_TMPFILE_BIT))) {
    const direct = openDirect(k, t, start, path, flags, mode);
    if (direct !== NEEDS_WALK) return install(trap, direct, flags);
  }
  if (creating) {
    // Linux walks to the parent first; a last component that is not a plain
    // name ("x/", ".", "..") is then EISDIR whether or not it exists.
    const p = resolveParent(k.mounts, t, start, path, k.hostView.rootOf(t));
    if (typeof p === 'number') return p;
    // "." and ".." exist: O_EXCL says so first. A plain name with a slash is EISDIR either way.
    if (p.lastKind !== LastKind.Normal) return exclusive ? -E.EEXIST : -E.EISDIR;
    if (p.trailingSlash) return -E.EISDIR;
  }
  // O_CREAT|O_EXCL never follows a final symlink: it must not exist at all.
  const follow = (flags & O_NOFOLLOW) === 0 && !exclusive;
  const r = resolvePath(k.mounts, t, start, path, {
    followFinal: follow,
    ...(scoped ? { root: start, beneath: (resolve & RESOLVE_BENEATH) !== 0 } : { root: k.hostView.rootOf(t) }),
    noSymlinks: (resolve & RESOLVE_NO_SYMLINKS) !== 0,
    noMagicLinks: (resolve & RESOLVE_NO_MAGICLINKS) !== 0,
    noXdev: (resolve & RESOLVE_NO_XDEV) !== 0,
  });
  if (typeof r === 'number') return r;
  // A final magic link is refused only when it would be followed: with
  // O_NOFOLLOW (O_PATH) the link itself is what is opened, as in Linux.
  if (r.magic && (resolve & RESOLVE_NO_MAGICLINKS) && follow) return -E.ELOOP;
  if (flags & O_PATH) {
    // An O_PATH fd cannot be installed (ADDFD takes no O_PATH file), and it
    // opens nothing: with the name checked, the kernel opens it in the
    // program's own mount namespace, which holds the same tree.
    return r.kind === FileKind.Missing ? -E.ENOENT : CONTINUE;
  }
  if (flags & O_TMPFILE_BIT) {
    // A nameless file is reachable only through its fd: linkat() must find it
    // on the program's own mount (the gofer's fd would be on the gofer's, and
    // EXDEV), so with the directory checked the kernel creates it there.
    if (r.kind === FileKind.Missing) return -E.ENOENT;
    if (r.kind !== FileKind.Directory) return -E.ENOTDIR;
    if (r.mount.readOnly) return -E.EROFS;
    return CONTINUE;
  }

  let hostFd: number;
  if (r.kind === FileKind.Missing) {
    if (!creating) return -E.ENOENT;
    if (r.wantsDirectory) return -E.EISDIR;
    if (r.mount.readOnly) return -E.EROFS;
    hostFd = r.mount.fs.open(t, r.rel, flags, t.creationMode(mode));
  } else if (r.magic && r.magic.fd >= 0 && follow) {
    // /proc/<pid>/fd/N naming a pipe, socket or deleted file: the object itself.
    const owner = r.magic.task;
    hostFd = reopenMagic(k, native.pidfdGetfd(owner.group.pidfd(), r.magic.fd), flags);
  } else {
    if (exclusive) return -E.EEXIST;
    if (r.kind === FileKind.Symlink) return -E.ELOOP;
    if ((flags & O_DIRECTORY) && (flags & O_TMPFILE_BIT) === 0 && r.kind !== FileKind.Directory) return -E.ENOTDIR;
    const writes = (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;
    if (r.kind === FileKind.Directory && (flags & O_TMPFILE_BIT) === 0 && (writes || creating)) return -E.EISDIR;
    // A read-only mount refuses writes to its files and directories, not to
    // the devices, FIFOs and sockets on it (do_dentry_open: special_file()).
    if (r.mount.readOnly && writes && (r.kind === FileKind.Regular || r.kind === FileKind.Directory)) return -E.EROFS;
    hostFd = r.mount.fs.open(t, r.rel, flags & ~(O_CREAT | O_EXCL), mode);
  }
  return install(trap, hostFd, flags);
}

const reopenStat = new Uint8Array(144);
const S_IFMT_ = 0o170000;
const S_IFSOCK_ = 0o140000;

/**
 * Opening /proc/<pid>/fd/N makes a new open file description in Linux, with
 * its own offset and the access mode asked for, checked against the opener
 * like any open. For an object with no path in the tree (a pipe, a memfd, a
 * deleted or O_TMPFILE file, an anonymous inode) the gofer does the same on
 * our borrowed copy, with the task's identity (reopenFd): the sentry, the
 * host's root, would pass every check. A socket is ENXIO, as in Linux. A
 * device (a deleted node), whose open depends on who opens it, is handed over
 * as the very description the owner holds.
 */
function reopenMagic(k: Kernel, borrowed: number, flags: number): number {
  if (borrowed < 0) return borrowed;
  let keep = false;
  try {
    const stat = native.fstatRaw(borrowed, reopenStat);
    if (stat < 0) return stat;
    const mode = new DataView(reopenStat.buffer).getUint32(24, true);
    if ((mode & S_IFMT_) === S_IFSOCK_) return -E.ENXIO; // a socket cannot be opened, only connected to
    if (k.gofer === null) return -E.EACCES; // no one to check the open: refuse it
    const reopened = k.gofer.reopenFd(borrowed, flags & ~(O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC));
    keep = reopened === -E.EWOULDBLOCK;
    return keep ? borrowed : reopened;
  } finally {
    if (!keep) native.close(borrowed);
  }
}

/** Installs our fd into the task as the syscall's answer (or passes on -errno). */
function install(trap: Trap, hostFd: number, flags: number): SyscallReturn {
  // The name was resolved and checked; the kernel looks it up again in the
  // same tree (see OPEN_IN_HOST), so a swapped name reaches only the sandbox.
  if (hostFd === OPEN_IN_HOST) return CONTINUE;
  if (hostFd < 0) return hostFd;
  const fd = trap.replyInstallFd(hostFd, (flags & O_CLOEXEC) !== 0);
  return fd < 0 ? fd : REPLIED;
}

const NEEDS_WALK = Symbol('needs walk');

/**
 * The common case in one round trip: a path of plain names inside one
 * filesystem that opens whole paths without following symlinks (the gofer).
 * If a symlink lies on the way the filesystem says ELOOP and we walk it
 * properly; every other answer is already Linux's, since with no symlink and
 * no ".." the host kernel resolved exactly what we would have.
 */
function openDirect(k: Kernel, t: Task, start: readonly string[], path: string, flags: number, mode: number): number | typeof NEEDS_WALK {
  if (endsInDirectoryForm(path)) return NEEDS_WALK;
  const parts = splitPath(path);
  for (const p of parts) if (p === '.' || p === '..' || p.length > NAME_MAX) return NEEDS_WALK;
  // start is the task's root for an absolute path (see HostView.startDirectory).
  const abs = [...start, ...parts];
  // One request names at most PATH_MAX - 1 bytes; a longer path is walked in steps.
  if (abs.reduce((n, c) => n + c.length + 1, 0) > PATH_MAX) return NEEDS_WALK;
  // Any mount's filesystem that opens whole paths will do: the gofer serves
  // every mount of the tree from its root, and the mount's GoferFs puts the
  // mount point back in front of the path relative to it.
  const mount = k.mounts.mountContaining(abs);
  if (!mount.fs.opensWholePaths || abs.length === 0) return NEEDS_WALK;
  // O_CREAT|O_EXCL on a dangling symlink, O_NOFOLLOW: ELOOP from the gofer either way; the walk decides.
  if (mount.readOnly && ((flags & O_ACCMODE) !== O_RDONLY || (flags & (O_CREAT | O_TRUNC)))) return NEEDS_WALK;
  const m = flags & O_CREAT ? t.creationMode(mode) : 0;
  const fd = mount.fs.open(t, mount.point.length === 0 ? abs : abs.slice(mount.point.length), flags, m);
  return fd === -E.ELOOP ? NEEDS_WALK : fd;
}

/**
 * build_open_flags(): the checks Linux makes on the flags before it even
 * reads the path. Returns 0 or -EINVAL.
 */
function checkOpenFlags(flags: number): number {
  if ((flags & O_CREAT) && (flags & O_DIRECTORY)) return -E.EINVAL;
  if (flags & O_TMPFILE_BIT) {
    if ((flags & (O_TMPFILE_BIT | O_DIRECTORY | O_CREAT)) !== (O_TMPFILE_BIT | O_DIRECTORY)) return -E.EINVAL;
    if ((flags & O_ACCMODE) === O_RDONLY) return -E.EINVAL; // a nameless file no one may write
  }
  return 0;
}

function openat(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, rawFlags: number, rawMode: number): SyscallReturn {
  // open(2) ignores unknown flag bits (openat2 does not), keeps only what
  // means something next to O_PATH, and ignores the mode unless creating.
  let flags = rawFlags & O_VALID_FLAGS;
  if (flags & O_PATH) flags &= O_PATH_FLAGS;
  const mode = flags & (O_CREAT | O_TMPFILE_BIT) ? rawMode & 0o7777 : 0;
  const bad = checkOpenFlags(flags);
  if (bad < 0) return bad;
  const path = readPath(k, trap, pathArg);
  if (typeof path === 'number') return path;
  return openPath(k, t, trap, dirfd, path, flags, mode);
}

const RESOLVE_KNOWN = RESOLVE_NO_XDEV | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS | RESOLVE_BENEATH | RESOLVE_IN_ROOT | RESOLVE_CACHED;
const OPEN_HOW_SIZE_VER0 = 24;

/** openat2: struct open_how {u64 flags, u64 mode, u64 resolve}, checked strictly. */
function openat2(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  // usize is unsigned: anything past a page (-1 included) is E2BIG.
  const size = argSize(trap, 3);
  if (size > PAGE_SIZE) return -E.E2BIG;
  if (size < OPEN_HOW_SIZE_VER0) return -E.EINVAL;
  const how = copyInStruct(k, trap, trap.argPtr(2), size, OPEN_HOW_SIZE_VER0);
  if (typeof how === 'number') return how;
  const dv = new DataView(how.buffer);
  const flagsHi = dv.getUint32(4, true);
  const flags = dv.getUint32(0, true);
  const modeLo = dv.getUint32(8, true);
  const modeHi = dv.getUint32(12, true);
  const resolve = dv.getUint32(16, true);
  const resolveHi = dv.getUint32(20, true);
  if (flagsHi !== 0 || (flags & ~O_VALID_FLAGS) !== 0) return -E.EINVAL;
  if (resolveHi !== 0 || (resolve & ~RESOLVE_KNOWN) !== 0) return -E.EINVAL;
  if ((resolve & RESOLVE_BENEATH) && (resolve & RESOLVE_IN_ROOT)) return -E.EINVAL;
  const creating = (flags & O_CREAT) !== 0 || (flags & O_TMPFILE_BIT) !== 0;
  if (modeHi !== 0 || (modeLo & ~0o7777) !== 0 || (!creating && modeLo !== 0)) return -E.EINVAL;
  if ((flags & O_PATH) && (flags & ~O_PATH_FLAGS)) return -E.EINVAL;
  const bad = checkOpenFlags(flags);
  if (bad < 0) return bad;
  // build_open_flags(): these could not be done from the cache alone. Any
  // other lookup the sentry makes answers as a fully cached one would: a
  // program cannot tell the difference (it only learns that it need not retry).
  if ((resolve & RESOLVE_CACHED) && (flags & (O_TRUNC | O_CREAT | O_TMPFILE_BIT))) return -E.EAGAIN;
  const path = readPath(k, trap, 1);
  if (typeof path === 'number') return path;
  return openPath(k, t, trap, trap.argI32(0), path, flags, modeLo, resolve);
}

export const openHandlers: HandlerTable = {
  open: (k, t, trap) => openat(k, t, trap, AT_FDCWD, 0, trap.argI32(1), trap.argU32(2)),
  openat: (k, t, trap) => openat(k, t, trap, trap.argI32(0), 1, trap.argI32(2), trap.argU32(3)),
  creat: (k, t, trap) => openat(k, t, trap, AT_FDCWD, 0, O_CREAT | O_WRONLY | O_TRUNC, trap.argU32(1)),
  openat2,
};
