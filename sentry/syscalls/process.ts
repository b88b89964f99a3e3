// Process lifecycle: clone, fork, vfork, execve, exit, wait, kill, prctl.
//
// Under seccomp notification the sentry cannot make a process itself: the host
// kernel forks, execs, reaps and delivers signals, inside the sandbox's pid
// namespace, which confines every pid to the sandbox. The sentry checks what
// it must (no new namespaces; the executable exists and may run), keeps its
// task table current, and then lets the call continue. All these calls take
// only value arguments, or pointers the sentry does not check (wait's status,
// clone's tid pointers), so continuing cannot race a check.
import type { Trap } from '../../platform/platform.js';
import {
  AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, CLONE_FS, CLONE_NEW_NAMESPACES, CLONE_NEWNS, CLONE_NEWPID, CLONE_NEWUSER,
  CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, E, PR_GET_PDEATHSIG, PR_SET_PDEATHSIG, NSIG, X_OK,
} from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind } from '../vfs/filesystem.js';
import { joinAbsolute } from '../vfs/path.js';
import { copyOut, existing, isEmptyPathForm, resolveArg } from './args.js';
import { permitted } from './stat.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

function clone(_k: Kernel, _t: Task, trap: Trap): SyscallReturn {
  const flags = trap.argU32(0);
  // Linux's copy_process() refuses these flag combinations with EINVAL before
  // it looks at any privilege: checked first, so the namespace refusal below
  // does not mask them.
  if ((flags & (CLONE_NEWNS | CLONE_FS)) === (CLONE_NEWNS | CLONE_FS)) return -E.EINVAL;
  if ((flags & (CLONE_NEWUSER | CLONE_FS)) === (CLONE_NEWUSER | CLONE_FS)) return -E.EINVAL;
  if ((flags & CLONE_THREAD) && !(flags & CLONE_SIGHAND)) return -E.EINVAL;
  if ((flags & CLONE_SIGHAND) && !(flags & CLONE_VM)) return -E.EINVAL;
  if ((flags & CLONE_THREAD) && (flags & (CLONE_NEWUSER | CLONE_NEWPID))) return -E.EINVAL;
  // The sandbox's namespaces are the second wall: no program makes its own.
  if (flags & CLONE_NEW_NAMESPACES) return -E.EPERM;
  return CONTINUE;
}

function execve(k: Kernel, t: Task, trap: Trap, dirfd: number, pathArg: number, flags: number): SyscallReturn {
  if (flags & ~(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH)) return -E.EINVAL;
  if (isEmptyPathForm(k, trap, pathArg, flags)) return CONTINUE; // fexecve: the fd the program holds
  const r = existing(resolveArg(k, t, trap, dirfd, pathArg, (flags & AT_SYMLINK_NOFOLLOW) === 0));
  if (typeof r === 'number') return r;
  if (r.kind === FileKind.Symlink) return -E.ELOOP;
  if (r.kind !== FileKind.Regular) return -E.EACCES;
  const sx = r.statx ?? r.mount.fs.statx(t, r.rel);
  if (typeof sx === 'number') return sx;
  const c = t.creds();
  if (!permitted(sx, c.euid, c.egid, c.groups, X_OK)) return -E.EACCES;
  // The host kernel looks the path up again in the sandbox's mount namespace,
  // which holds the same tree: a program that swaps the name in between can
  // only reach another file of its own sandbox.
  t.group.exe = joinAbsolute(r.abs);
  return CONTINUE;
}

function exit(k: Kernel, t: Task): SyscallReturn {
  k.tasks.threadExited(t);
  return CONTINUE;
}

function exitGroup(k: Kernel, t: Task): SyscallReturn {
  k.tasks.groupExited(t.group);
  return CONTINUE;
}

/** pid 1 of the sandbox keeps its real parent-death signal (SIGKILL, which ties
 * the sandbox's life to the sentry's); the program sees the one it asked for. */
function prctl(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const option = trap.argI32(0);
  // Capability bounding and ambient sets and securebits change with prctl.
  t.credsChanged();
  if (t.group.hostTgid !== k.initHostPid) return CONTINUE;
  if (option === PR_SET_PDEATHSIG) {
    const sig = trap.argI64(1);
    if (sig < 0 || sig > NSIG) return -E.EINVAL;
    t.group.requestedPdeathsig = sig;
    return 0;
  }
  if (option === PR_GET_PDEATHSIG) {
    const out = new Uint8Array(4);
    new DataView(out.buffer).setInt32(0, t.group.requestedPdeathsig, true);
    return copyOut(k, trap, trap.argPtr(1), out, 4);
  }
  return CONTINUE;
}

/**
 * An exec recomputes the task's capabilities (and may change its ids) once
 * the kernel carries it out, after our answer: the credentials read while
 * resolving the name are the old ones, and must not outlive this call.
 */
function execThenForgetCreds(t: Task, ret: SyscallReturn): SyscallReturn {
  t.credsChanged();
  return ret;
}

export const processHandlers: HandlerTable = {
  clone,
  fork: () => CONTINUE,
  vfork: () => CONTINUE,
  execve: (k, t, trap) => execThenForgetCreds(t, execve(k, t, trap, AT_FDCWD, 0, 0)),
  execveat: (k, t, trap) => execThenForgetCreds(t, execve(k, t, trap, trap.argI32(0), 1, trap.argI32(4))),
  exit,
  exit_group: exitGroup,
  wait4: () => CONTINUE,
  waitid: () => CONTINUE,
  getppid: (k, t) => {
    // Cached, and checked with one poll of the parent's pidfd: a parent
    // killed outright never trapped its exit, and its children moved to init.
    if (!t.group.parentStillAlive()) k.tasks.refreshParent(t.group);
    return t.group.nsParentTgid;
  },
  prctl,
  fcntl: () => CONTINUE,
  // A program may add filters of its own; the kernel refuses it a second
  // listener (EBUSY), so ours keeps seeing every call it traps.
  seccomp: () => CONTINUE,
};
