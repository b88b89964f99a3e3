// inotify and fanotify marks by name. The watch itself is the host kernel's (inotify
// fds are real), so the sentry resolves and checks the name, then lets the
// kernel look it up again in the sandbox's mount namespace, which holds the
// same tree: a program swapping the name in between reaches only its own files.
import type { Trap } from '../../platform/platform.js';
import { AT_FDCWD, E } from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind } from '../vfs/filesystem.js';
import { existing, resolveArg } from './args.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

const IN_ONLYDIR = 0x01000000;
const IN_DONT_FOLLOW = 0x02000000;

function inotifyAddWatch(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const mask = trap.argU32(2);
  const r = existing(resolveArg(k, t, trap, AT_FDCWD, 1, (mask & IN_DONT_FOLLOW) === 0));
  if (typeof r === 'number') return r;
  if ((mask & IN_ONLYDIR) && r.kind !== FileKind.Directory) return -E.ENOTDIR;
  return CONTINUE;
}

const FAN_MARK_DONT_FOLLOW = 0x04;
const FAN_MARK_ONLYDIR = 0x08;
const FAN_MARK_FLUSH = 0x80;

/**
 * fanotify_mark(fd, flags, mask, dirfd, pathname). fanotify_init runs in the
 * kernel, which gives a sandbox (no capability in the host's user namespace)
 * only unprivileged groups: inode marks with file-handle events, no mount or
 * filesystem marks, no permission events. The name is resolved here first.
 */
function fanotifyMark(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const target = k.hostView.fdTarget(t, trap.argI32(0));
  if (target === null) return -E.EBADF;
  if (target !== 'anon_inode:[fanotify]') return -E.EINVAL;
  const flags = trap.argU32(1);
  // A flush names nothing, and a NULL pathname marks dirfd's own object.
  if ((flags & FAN_MARK_FLUSH) || trap.argPtr(4) === 0) return CONTINUE;
  const r = existing(resolveArg(k, t, trap, trap.argI32(3), 4, (flags & FAN_MARK_DONT_FOLLOW) === 0));
  if (typeof r === 'number') return r;
  if ((flags & FAN_MARK_ONLYDIR) && r.kind !== FileKind.Directory) return -E.ENOTDIR;
  return CONTINUE;
}

export const notifyHandlers: HandlerTable = {
  inotify_add_watch: inotifyAddWatch,
  fanotify_mark: fanotifyMark,
};
