// The gofer-backed filesystem: the sandbox's root tree, served by the gofer
// process over its socket. Every call is one round trip; the gofer never
// follows a symlink, the VFS resolves them.
import { AT_REMOVEDIR, E } from '../abi/linux.js';
import type { GoferClient } from '../../gofer/client.js';
import type { Task } from '../kernel/task.js';
import { FileKind, OPEN_IN_HOST, type Filesystem, type MutatingOps, type WalkResult, type XattrOps } from '../vfs/filesystem.js';
import { fileKindOfMode, statxMode } from '../vfs/stat.js';

export class GoferFs implements Filesystem {
  readonly opensWholePaths = true;
  readonly type = 'gofer';
  readonly ops: MutatingOps;
  readonly xattr: XattrOps;

  constructor(private readonly gofer: GoferClient) {
    const g = gofer;
    this.ops = {
      mkdir: (p, mode) => g.mkdir(p, mode),
      mknod: (p, mode, dev) => g.mknod(p, mode, dev),
      unlink: (p, removeDir) => g.unlink(p, removeDir ? AT_REMOVEDIR : 0),
      rename: (from, to, flags) => g.rename(from, to, flags),
      symlink: (target, p) => g.symlink(target, p),
      link: (from, to) => g.link(from, to),
      chmod: (p, mode) => g.chmod(p, mode),
      chown: (p, uid, gid) => g.chown(p, uid >>> 0, gid >>> 0),
      utimes: (p, as, an, ms, mn) => g.utimes(p, { sec: as, nsec: an }, { sec: ms, nsec: mn }),
      truncate: (p, length) => g.truncate(p, length),
    };
    this.xattr = {
      get: (p, name) => g.getxattr(p, name),
      list: (p) => g.listxattr(p),
      set: (p, name, value, flags) => g.setxattr(p, name, value, flags),
      remove: (p, name) => g.removexattr(p, name),
    };
  }

  walk(_task: Task, path: readonly string[]): WalkResult {
    const w = this.gofer.walk(path);
    const statx = w.statx;
    const kind = w.found === 0 && w.errno !== 0 && path.length > 0 ? FileKind.Directory : fileKindOfMode(statxMode(statx));
    return {
      found: w.found,
      errno: w.errno,
      kind,
      statx,
      ...(w.symlinkTarget !== undefined ? { symlinkTarget: w.symlinkTarget } : {}),
    };
  }

  open(_task: Task, path: readonly string[], flags: number, mode: number): number {
    // The gofer never waits in open: a FIFO that would is the kernel's to open.
    const fd = this.gofer.open(path, flags, mode);
    return fd === -E.EWOULDBLOCK ? OPEN_IN_HOST : fd;
  }

  statx(_task: Task, path: readonly string[]): Uint8Array | number {
    const w = this.gofer.walk(path);
    if (w.errno !== 0) return -w.errno;
    if (w.found !== path.length) return -E.ENOENT; // vanished meanwhile
    return w.statx;
  }

  readonly access = (path: readonly string[], mode: number): number => this.gofer.access(path, mode);

  statfs(_task: Task, path: readonly string[]): Uint8Array | number {
    return this.gofer.statfs(path);
  }
}
