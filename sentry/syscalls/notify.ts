// inotify watches by name. The watch itself is the host kernel's (inotify
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

export const notifyHandlers: HandlerTable = {
  inotify_add_watch: inotifyAddWatch,
  // fanotify_init is refused, so no fd can be a fanotify group.
  fanotify_mark: () => -E.EBADF,
};
