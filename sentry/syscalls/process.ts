// Process lifecycle: clone (with a namespace flag: the filter lets the rest
// run natively), execve, exit, wait, prctl.
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
  CLONE_SIGHAND, CLONE_THREAD, CLONE_VM, E, PR_GET_PDEATHSIG, PR_SET_PDEATHSIG, NSIG, O_CLOEXEC, O_DIRECTORY, O_PATH, O_RDONLY,
  RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, STATX_INO, STATX_SIZE, X_OK,
} from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind } from '../vfs/filesystem.js';
import { joinAbsolute } from '../vfs/path.js';
import { copyOut, existing, isEmptyPathForm, readPath, resolveArg } from './args.js';
import type { Resolved } from '../vfs/resolve.js';
import { native } from '../../native/index.js';
import { permitted } from './stat.js';
import { CONTINUE, RESULT_LATER, type HandlerTable, type SyscallReturn } from './types.js';

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
  if (!permitted(sx, k.ids, c.euid, c.egid, c.groups, X_OK)) return -E.EACCES;
  t.group.exe = joinAbsolute(r.abs);
  if (trap.replyExecFd && execByFd(k, t, trap, r, sx, pathArg)) return RESULT_LATER;
  // The host kernel looks the path up again in the sandbox's mount namespace,
  // which holds the same tree: a program that swaps the name in between can
  // only reach another file of its own sandbox.
  return CONTINUE;
}

/**
 * The file at abs as the task's own mount tree has it, and only if it is the
 * file the sentry checked (same device and inode): not the gofer's open file,
 * whose mount is the gofer's (the program's /proc/self/maps would show the
 * gofer's path of it, and its mount flags would be the gofer's). Opened
 * beneath the task's root, never above it.
 */
function openInTaskRoot(tid: number, abs: string, checked: Uint8Array): number {
  const root = native.openat2(AT_FDCWD, `/proc/${tid}/root`, O_PATH | O_DIRECTORY | O_CLOEXEC, 0, 0);
  if (root < 0) return root;
  const fd = native.openat2(root, abs.slice(1) || '.', O_RDONLY | O_CLOEXEC, 0, RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS);
  native.close(root);
  if (fd < 0) return fd;
  const got = new Uint8Array(STATX_SIZE);
  if (native.statxRaw(fd, 0, STATX_INO, got) < 0 || !sameFile(got, checked)) {
    native.close(fd);
    return -E.ESTALE;
  }
  return fd;
}

/** struct statx: stx_ino at 32, stx_dev_major and stx_dev_minor at 136 and 140. */
function sameFile(a: Uint8Array, b: Uint8Array): boolean {
  for (const at of [32, 36, 136, 140]) {
    if (new DataView(a.buffer, a.byteOffset).getUint32(at, true) !== new DataView(b.buffer, b.byteOffset).getUint32(at, true)) return false;
  }
  return true;
}

const ELF_MAGIC = 0x464c457f; // "\x7fELF", little-endian
const TASK_COMM_LEN = 16;

/**
 * Where the platform can rewrite the call (ptrace), an ELF program runs from
 * the file the sentry resolved and checked: opened, installed, and exec'd by
 * fd. Not for scripts: their interpreter opens the file again by a
 * /dev/fd path, which a close-on-exec fd no longer has. Not for files the
 * program may run but not read. false: the path is used after all.
 */
function execByFd(k: Kernel, t: Task, trap: Trap, r: Resolved, checked: Uint8Array, pathArg: number): boolean {
  const path = readPath(k, trap, pathArg);
  if (typeof path === 'number') return false;
  const fd = openInTaskRoot(trap.tid, joinAbsolute(r.abs), checked);
  if (fd < 0) return false;
  const head = new Uint8Array(4);
  if (native.pread(fd, head, 4, 0) !== 4 || new DataView(head.buffer).getUint32(0, true) !== ELF_MAGIC) {
    native.close(fd);
    return false;
  }
  // Linux's name for the new image: the path's last part, as bytes, cut to TASK_COMM_LEN - 1.
  const comm = path.slice(path.lastIndexOf('/') + 1).slice(0, TASK_COMM_LEN - 1);
  return trap.replyExecFd!(fd, comm) === 0;
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
  // Trapped only with a namespace flag (syscall-tables/x86_64.tbl); fork and vfork are not trapped.
  clone,
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
