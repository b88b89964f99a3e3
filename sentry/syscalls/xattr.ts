// The path forms of the xattr family, and the *xattrat forms of Linux 6.13
// (the f* forms run natively). The value is fetched whole from the
// filesystem; the size protocol (size 0 asks for the length, a short buffer
// is ERANGE) is applied here, as Linux does.
import type { Trap } from '../../platform/platform.js';
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, E, PAGE_SIZE, XATTR_CREATE, XATTR_REPLACE } from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { argSize, copyIn, copyInStruct, copyOut, readString, resolveTarget } from './args.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';
import type { Resolved } from '../vfs/resolve.js';

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;
/** struct xattr_args {u64 value; u32 size; u32 flags}, its first version. */
const XATTR_ARGS_SIZE_VER0 = 16;

/** Where a call's object is: (dirfd, path argument, AT_ flags). The classic calls are AT_FDCWD forms. */
interface XattrTarget {
  readonly dirfd: number;
  readonly pathArg: number;
  readonly atFlags: number;
}

/** A value buffer in the task, and its size. */
interface ValueBuffer {
  readonly addr: number;
  readonly size: number;
}

function classic(follow: boolean): XattrTarget {
  return { dirfd: AT_FDCWD, pathArg: 0, atFlags: follow ? 0 : AT_SYMLINK_NOFOLLOW };
}

function readName(k: Kernel, trap: Trap, i: number): string | number {
  const name = readString(k, trap, i, XATTR_NAME_MAX + 1);
  if (typeof name === 'number') return name === -E.ENAMETOOLONG ? -E.ERANGE : name;
  if (name.length === 0 || name.length > XATTR_NAME_MAX) return -E.ERANGE;
  return name;
}

/**
 * The object: a resolved path, or CONTINUE when the call names an fd of the
 * program's (AT_EMPTY_PATH): the kernel acts on it as for the f* forms.
 */
function lookup(k: Kernel, t: Task, trap: Trap, at: XattrTarget): Resolved | typeof CONTINUE | number {
  const follow = (at.atFlags & AT_SYMLINK_NOFOLLOW) === 0;
  const target = resolveTarget(k, t, trap, at.dirfd, at.pathArg, at.atFlags, follow, true);
  if (typeof target === 'number') return target;
  return target.resolved ?? CONTINUE;
}

/** Copies a value or list out under the size protocol. */
function sized(k: Kernel, trap: Trap, value: Uint8Array | number, out: ValueBuffer): SyscallReturn {
  if (typeof value === 'number') return value;
  if (out.size === 0) return value.length;
  if (Math.min(out.size, XATTR_SIZE_MAX) < value.length) return -E.ERANGE;
  const w = copyOut(k, trap, out.addr, value, value.length);
  return w < 0 ? w : value.length;
}

function getxattr(k: Kernel, t: Task, trap: Trap, at: XattrTarget, nameArg: number, out: ValueBuffer): SyscallReturn {
  const name = readName(k, trap, nameArg);
  if (typeof name === 'number') return name;
  const r = lookup(k, t, trap, at);
  if (typeof r !== 'object') return r;
  const x = r.mount.fs.xattr;
  return sized(k, trap, x ? x.get(r.rel, name) : -E.ENODATA, out);
}

function listxattr(k: Kernel, t: Task, trap: Trap, at: XattrTarget, out: ValueBuffer): SyscallReturn {
  const r = lookup(k, t, trap, at);
  if (typeof r !== 'object') return r;
  const x = r.mount.fs.xattr;
  return sized(k, trap, x ? x.list(r.rel) : new Uint8Array(0), out);
}

function setxattr(k: Kernel, t: Task, trap: Trap, at: XattrTarget, nameArg: number, value: ValueBuffer, flags: number): SyscallReturn {
  // setxattr_copy(): flags, then the name, then the value, all before the lookup.
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -E.EINVAL;
  const name = readName(k, trap, nameArg);
  if (typeof name === 'number') return name;
  if (value.size > XATTR_SIZE_MAX) return -E.E2BIG;
  const bytes = new Uint8Array(value.size);
  if (copyIn(k, trap, value.addr, bytes, value.size) < 0) return -E.EFAULT;
  const r = lookup(k, t, trap, at);
  if (typeof r !== 'object') return r;
  if (r.mount.readOnly) return -E.EROFS;
  const x = r.mount.fs.xattr;
  return x ? x.set(r.rel, name, bytes, flags) : -E.EPERM;
}

function removexattr(k: Kernel, t: Task, trap: Trap, at: XattrTarget, nameArg: number): SyscallReturn {
  const name = readName(k, trap, nameArg);
  if (typeof name === 'number') return name;
  const r = lookup(k, t, trap, at);
  if (typeof r !== 'object') return r;
  if (r.mount.readOnly) return -E.EROFS;
  const x = r.mount.fs.xattr;
  return x ? x.remove(r.rel, name) : -E.ENODATA;
}

// --- The *xattrat forms: (dfd, pathname, at_flags, ...), checked in Linux's order.

/** The AT_ flags every *xattrat call takes; anything else is EINVAL. */
function atTarget(trap: Trap): XattrTarget | number {
  const atFlags = trap.argU32(2);
  if (atFlags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  return { dirfd: trap.argI32(0), pathArg: 1, atFlags };
}

/** struct xattr_args from (uargs, usize), as copy_struct_from_user reads it. */
function xattrArgs(k: Kernel, trap: Trap): { value: ValueBuffer; flags: number } | number {
  const usize = argSize(trap, 5);
  if (usize < XATTR_ARGS_SIZE_VER0) return -E.EINVAL;
  if (usize > PAGE_SIZE) return -E.E2BIG;
  const raw = copyInStruct(k, trap, trap.argPtr(4), usize, XATTR_ARGS_SIZE_VER0);
  if (typeof raw === 'number') return raw;
  const dv = new DataView(raw.buffer);
  const addr = Number(dv.getBigUint64(0, true));
  return { value: { addr: Number.isSafeInteger(addr) ? addr : -1, size: dv.getUint32(8, true) }, flags: dv.getUint32(12, true) };
}

function setxattrat(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const args = xattrArgs(k, trap);
  if (typeof args === 'number') return args;
  const at = atTarget(trap);
  if (typeof at === 'number') return at;
  return setxattr(k, t, trap, at, 3, args.value, args.flags);
}

function getxattrat(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const args = xattrArgs(k, trap);
  if (typeof args === 'number') return args;
  if (args.flags !== 0) return -E.EINVAL;
  const at = atTarget(trap);
  if (typeof at === 'number') return at;
  return getxattr(k, t, trap, at, 3, args.value);
}

function listxattrat(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const at = atTarget(trap);
  if (typeof at === 'number') return at;
  return listxattr(k, t, trap, at, registerValue(trap, 3, 4));
}

function removexattrat(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const at = atTarget(trap);
  if (typeof at === 'number') return at;
  return removexattr(k, t, trap, at, 3);
}

/**
 * A (pointer, size_t) pair in registers. The size is unsigned: Linux clamps a
 * buffer past XATTR_SIZE_MAX to it (get, list) and refuses a value past it
 * (set, E2BIG); anything beyond 2^32 is past it either way.
 */
const registerValue = (trap: Trap, addrArg: number, sizeArg: number): ValueBuffer => ({
  addr: trap.argPtr(addrArg),
  size: argSize(trap, sizeArg),
});

export const xattrHandlers: HandlerTable = {
  getxattr: (k, t, trap) => getxattr(k, t, trap, classic(true), 1, registerValue(trap, 2, 3)),
  lgetxattr: (k, t, trap) => getxattr(k, t, trap, classic(false), 1, registerValue(trap, 2, 3)),
  listxattr: (k, t, trap) => listxattr(k, t, trap, classic(true), registerValue(trap, 1, 2)),
  llistxattr: (k, t, trap) => listxattr(k, t, trap, classic(false), registerValue(trap, 1, 2)),
  setxattr: (k, t, trap) => setxattr(k, t, trap, classic(true), 1, registerValue(trap, 2, 3), trap.argI32(4)),
  lsetxattr: (k, t, trap) => setxattr(k, t, trap, classic(false), 1, registerValue(trap, 2, 3), trap.argI32(4)),
  removexattr: (k, t, trap) => removexattr(k, t, trap, classic(true), 1),
  lremovexattr: (k, t, trap) => removexattr(k, t, trap, classic(false), 1),
  setxattrat,
  getxattrat,
  listxattrat,
  removexattrat,
};
