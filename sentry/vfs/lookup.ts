// Where a relative path starts: the task's working directory or a directory
// fd. The host kernel holds both (chdir is carried out natively after the
// sentry resolved it, and fd numbers are real), so the sentry asks it through
// the host's /proc. This stays right across fork, dup, CLONE_FS and renames
// without a mirror that could drift.
//
// What /proc prints depends on which mount the object was reached through:
// a directory the program chdir'ed into is printed relative to the sandbox's
// root (the host cannot reach that mount, so it prints the path inside it),
// but a file the gofer opened is printed as the gofer sees it, below the
// folder where the sandbox root is mounted in the gofer's namespace. HostView
// turns both into the sandbox's own view.
import fs from 'node:fs';
import { AT_FDCWD, E } from '../abi/linux.js';
import type { Task } from '../kernel/task.js';
import { splitPath } from './path.js';

const DELETED = ' (deleted)';

export class HostView {
  private readonly prefix: string;
  /** No task has chroot'ed yet: every root is the sandbox's, with no need to ask. */
  private chrootSeen = false;

  /** @param goferRoot where the sandbox root is mounted in the gofer's namespace */
  constructor(private readonly goferRoot: string) {
    this.prefix = goferRoot.endsWith('/') ? goferRoot : goferRoot + '/';
  }

  /** A link text from the host's /proc, as the sandbox sees it. */
  toSandbox(text: string): string {
    if (text === this.goferRoot) return '/';
    if (text.startsWith(this.prefix)) return text.slice(this.prefix.length - 1);
    return text;
  }

  private readLink(path: string): string | null {
    try {
      return this.toSandbox(fs.readlinkSync(path, { encoding: 'buffer' }).toString('latin1'));
    } catch {
      return null;
    }
  }

  /** What fd `fd` of the task refers to: its path text, or null if not open. */
  fdTarget(task: Task, fd: number): string | null {
    return this.readLink(`/proc/${task.hostTid}/fd/${fd}`);
  }

  /** A task is about to chroot: from now on, roots are read from the kernel. */
  noteChroot(): void {
    this.chrootSeen = true;
  }

  /** The task's root directory (chroot) as absolute components: [] for the sandbox's root. */
  rootOf(task: Task): readonly string[] {
    if (!this.chrootSeen) return [];
    const root = this.readLink(`/proc/${task.hostTid}/root`);
    return root === null ? [] : splitPath(root);
  }

  /** The task's working directory as absolute components. */
  workingDirectory(task: Task): string[] | number {
    const cwd = this.readLink(`/proc/${task.hostTid}/cwd`);
    if (cwd === null) return -E.ESRCH;
    if (cwd.endsWith(DELETED)) return -E.ENOENT;
    return splitPath(cwd);
  }

  /**
   * Whether a relative path starts at a directory that was removed while the
   * task held it (its cwd, or dirfd) and walks from it by "." or "..":
   * Linux still does, from the inode the task holds, which has no name here.
   */
  walksFromDeletedDirectory(task: Task, dirfd: number, path: string): boolean {
    if (path.charCodeAt(0) === 0x2f) return false;
    const first = path.split('/', 1)[0];
    if (first !== '.' && first !== '..' && path !== '') return false;
    const start = dirfd === AT_FDCWD ? this.readLink(`/proc/${task.hostTid}/cwd`) : dirfd >= 0 ? this.fdTarget(task, dirfd) : null;
    return start !== null && start.charCodeAt(0) === 0x2f && start.endsWith(DELETED);
  }

  /**
   * The starting directory for a relative path given with dirfd. Absolute
   * paths ignore dirfd entirely, as in Linux (even a bad one), so callers
   * pass the path. The result need not be a directory: the walk that starts
   * there says ENOTDIR, as Linux does.
   */
  startDirectory(task: Task, dirfd: number, path: string): readonly string[] | number {
    if (path.charCodeAt(0) === 0x2f) return this.rootOf(task);
    if (dirfd === AT_FDCWD) return this.workingDirectory(task);
    if (dirfd < 0) return -E.EBADF;
    const target = this.fdTarget(task, dirfd);
    if (target === null) return -E.EBADF;
    // pipe:[..], socket:[..], anon_inode:..: not directories.
    if (target.charCodeAt(0) !== 0x2f) return -E.ENOTDIR;
    // A regular file's fd is no place to start a walk, even "." from it.
    if (!this.isDirectory(task, dirfd)) return -E.ENOTDIR;
    if (target.endsWith(DELETED)) return -E.ENOENT;
    return splitPath(target);
  }

  private isDirectory(task: Task, fd: number): boolean {
    try {
      return fs.statSync(`/proc/${task.hostTid}/fd/${fd}`).isDirectory();
    } catch {
      return false;
    }
  }
}
