// The path forms of the xattr family (the fd forms run natively). The value
// is fetched whole from the filesystem; the size protocol (size 0 asks for
// the length, a short buffer is ERANGE) is applied here, as Linux does.
import type { Trap } from '../../platform/platform.js';
import { AT_FDCWD, E, XATTR_CREATE, XATTR_REPLACE } from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { copyIn, copyOut, existing, readString, resolveArg } from './args.js';
import type { HandlerTable, SyscallReturn } from './types.js';
import type { Resolved } from '../vfs/resolve.js';

const XATTR_NAME_MAX = 255;
const XATTR_SIZE_MAX = 65536;

function readName(k: Kernel, trap: Trap, i: number): string | number {
  const name = readString(k, trap, i, XATTR_NAME_MAX + 1);
  if (typeof name === 'number') return name === -E.ENAMETOOLONG ? -E.ERANGE : name;
  if (name.length === 0 || name.length > XATTR_NAME_MAX) return -E.ERANGE;
  return name;
}

function target(k: Kernel, t: Task, trap: Trap, follow: boolean): Resolved | number {
  return existing(resolveArg(k, t, trap, AT_FDCWD, 0, follow));
}

/** Copies a value or list out under the size protocol. */
function sized(k: Kernel, trap: Trap, value: Uint8Array | number, bufArg: number, sizeArg: number): SyscallReturn {
  if (typeof value === 'number') return value;
  const size = trap.argI64(sizeArg);
  if (size === 0) return value.length;
  if (size < value.length) return -E.ERANGE;
  const w = copyOut(k, trap, trap.argPtr(bufArg), value, value.length);
  return w < 0 ? w : value.length;
}

function getxattr(k: Kernel, t: Task, trap: Trap, follow: boolean): SyscallReturn {
  const name = readName(k, trap, 1);
  if (typeof name === 'number') return name;
  const r = target(k, t, trap, follow);
  if (typeof r === 'number') return r;
  const x = r.mount.fs.xattr;
  return sized(k, trap, x ? x.get(r.rel, name) : -E.ENODATA, 2, 3);
}

function listxattr(k: Kernel, t: Task, trap: Trap, follow: boolean): SyscallReturn {
  const r = target(k, t, trap, follow);
  if (typeof r === 'number') return r;
  const x = r.mount.fs.xattr;
  return sized(k, trap, x ? x.list(r.rel) : new Uint8Array(0), 1, 2);
}

function setxattr(k: Kernel, t: Task, trap: Trap, follow: boolean): SyscallReturn {
  const flags = trap.argI32(4);
  if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -E.EINVAL;
  const name = readName(k, trap, 1);
  if (typeof name === 'number') return name;
  const size = trap.argI64(3);
  if (size < 0 || size > XATTR_SIZE_MAX) return -E.E2BIG;
  const value = new Uint8Array(size);
  if (copyIn(k, trap, trap.argPtr(2), value, size) < 0) return -E.EFAULT;
  const r = target(k, t, trap, follow);
  if (typeof r === 'number') return r;
  if (r.mount.readOnly) return -E.EROFS;
  const x = r.mount.fs.xattr;
  return x ? x.set(r.rel, name, value, flags) : -E.EPERM;
}

function removexattr(k: Kernel, t: Task, trap: Trap, follow: boolean): SyscallReturn {
  const name = readName(k, trap, 1);
  if (typeof name === 'number') return name;
  const r = target(k, t, trap, follow);
  if (typeof r === 'number') return r;
  if (r.mount.readOnly) return -E.EROFS;
  const x = r.mount.fs.xattr;
  return x ? x.remove(r.rel, name) : -E.ENODATA;
}

export const xattrHandlers: HandlerTable = {
  getxattr: (k, t, trap) => getxattr(k, t, trap, true),
  lgetxattr: (k, t, trap) => getxattr(k, t, trap, false),
  listxattr: (k, t, trap) => listxattr(k, t, trap, true),
  llistxattr: (k, t, trap) => listxattr(k, t, trap, false),
  setxattr: (k, t, trap) => setxattr(k, t, trap, true),
  lsetxattr: (k, t, trap) => setxattr(k, t, trap, false),
  removexattr: (k, t, trap) => removexattr(k, t, trap, true),
  lremovexattr: (k, t, trap) => removexattr(k, t, trap, false),
};
