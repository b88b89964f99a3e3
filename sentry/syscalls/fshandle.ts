// File handles. name_to_handle_at: the name is resolved and checked here;
// the kernel encodes the handle (it knows the inode) in the sandbox's mount
// namespace, which holds the same tree. open_by_handle_at: the kernel decides
// (Linux 6.10's rules for a caller without CAP_DAC_READ_SEARCH in the host's
// user namespace, which a sandbox never has: only below a mountdirfd with no
// locked mount under it, only an inode inside that subtree, and with the
// permission checks of an open), so the sentry checks the mount fd and lets
// it. The old risk of handles (any inode of a filesystem, past every mount and
// directory permission) needs that capability.
import type { Trap } from '../../platform/platform.js';
import { AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_FOLLOW, E } from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { resolveTarget } from './args.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

const AT_HANDLE_MNT_ID_UNIQUE = 0x001;
const AT_HANDLE_CONNECTABLE = 0x002;
const AT_HANDLE_FID = 0x200;
const VALID = AT_SYMLINK_FOLLOW | AT_EMPTY_PATH | AT_HANDLE_FID | AT_HANDLE_MNT_ID_UNIQUE | AT_HANDLE_CONNECTABLE;

function nameToHandleAt(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const flags = trap.argI32(4);
  if (flags & ~VALID) return -E.EINVAL;
  // A connectable handle is for a non-directory found by name, never a mere fid.
  if ((flags & AT_HANDLE_CONNECTABLE) && (flags & AT_HANDLE_FID)) return -E.EINVAL;
  const target = resolveTarget(k, t, trap, trap.argI32(0), 1, flags, (flags & AT_SYMLINK_FOLLOW) !== 0);
  return typeof target === 'number' ? target : CONTINUE;
}

function openByHandleAt(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const mountFd = trap.argI32(0);
  if (mountFd !== AT_FDCWD && k.hostView.fdTarget(t, mountFd) === null) return -E.EBADF;
  return CONTINUE;
}

export const fshandleHandlers: HandlerTable = { name_to_handle_at: nameToHandleAt, open_by_handle_at: openByHandleAt };
