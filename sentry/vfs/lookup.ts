// Where a relative path starts: the task's working directory or a directory
// fd. The host kernel holds both (chdir is carried out natively after the
// sentry resolved it, and fd numbers are real), so the sentry asks it: the
// host's /proc prints them relative to the sandbox's root, which is exactly
// the sandbox's view. This stays right across fork, dup, CLONE_FS and renames
// without a mirror that could drift.
import fs from 'node:fs';
import { AT_FDCWD, E } from '../abi/linux.js';
import type { Task } from '../kernel/task.js';
import { splitPath } from './path.js';

const DELETED = ' (deleted)';

function readLink(path: string): string | null {
  try {
    return fs.readlinkSync(path, { encoding: 'buffer' }).toString('latin1');
  } catch {
    return null;
  }
}

/** What fd `fd` of the task refers to: its path text, or null if not open. */
export function fdTarget(task: Task, fd: number): string | null {
  return readLink(`/proc/${task.hostTid}/fd/${fd}`);
}

/** The task's working directory as absolute components. */
export function workingDirectory(task: Task): string[] | number {
  const cwd = readLink(`/proc/${task.hostTid}/cwd`);
  if (cwd === null) return -E.ESRCH;
  if (cwd.endsWith(DELETED)) return -E.ENOENT;
  return splitPath(cwd);
}

/**
 * The starting directory for a relative path given with dirfd. Absolute paths
 * ignore dirfd entirely, as in Linux (even a bad one), so callers pass the path.
 */
export function startDirectory(task: Task, dirfd: number, path: string): readonly string[] | number {
  if (path.charCodeAt(0) === 0x2f) return [];
  if (dirfd === AT_FDCWD) return workingDirectory(task);
  if (dirfd < 0) return -E.EBADF;
  const target = fdTarget(task, dirfd);
  if (target === null) return -E.EBADF;
  // pipe:[..], socket:[..], anon_inode:..: not directories.
  if (target.charCodeAt(0) !== 0x2f) return -E.ENOTDIR;
  if (target.endsWith(DELETED)) return -E.ENOENT;
  return splitPath(target);
}
