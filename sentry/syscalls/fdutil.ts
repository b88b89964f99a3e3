// Borrowing a task's open file: pidfd_getfd gives the sentry the very same
// open file description the program holds, so fd-relative calls (fstat via
// AT_EMPTY_PATH, fchown...) act on exactly what the program has open.
import { native } from '../../native/index.js';
import { E } from '../abi/linux.js';
import type { Task } from '../kernel/task.js';

/** Runs fn with a borrowed copy of the task's fd; returns fn's result or -errno. */
export function withTaskFd(task: Task, fd: number, fn: (hostFd: number) => number): number {
  if (fd < 0) return -E.EBADF;
  const pidfd = task.group.pidfd();
  if (pidfd < 0) return -E.ESRCH;
  const hostFd = native.pidfdGetfd(pidfd, fd);
  if (hostFd < 0) return hostFd === -E.EBADF ? -E.EBADF : hostFd;
  try {
    return fn(hostFd);
  } finally {
    native.close(hostFd);
  }
}
