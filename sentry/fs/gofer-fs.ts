// The gofer-backed filesystem: the sandbox's root tree, served by the gofer
// process over its socket. Every call is one round trip; the gofer never
// follows a symlink, the VFS resolves them.
//
// The gofer serves the whole tree, mounts inside it included, from its root.
// The VFS, though, sees each mount of the tree as a filesystem of its own
// (its walk must know where mounts begin: RESOLVE_NO_XDEV, EXDEV on rename,
// read-only mounts). So one GoferFs per mount, each with the mount point as
// a prefix: its paths are relative to the mount's root, and the gofer gets
// them with the prefix in front. Nothing on the prefix is a symlink (it is a
// mount point the sentry resolved), so the gofer walks it as the VFS would.
import { AT_REMOVEDIR, E, PATH_MAX } from '../abi/linux.js';
import type { GoferClient } from '../../gofer/client.js';
import type { Task } from '../kernel/task.js';
import { FileKind, OPEN_IN_HOST, type Filesystem, type MutatingOps, type WalkResult, type XattrOps } from '../vfs/filesystem.js';
import { fileKindOfMode, statxMode } from '../vfs/stat.js';

export class GoferFs implements Filesystem {
  readonly opensWholePaths = true;
  readonly type = 'gofer';
  readonly ops: MutatingOps;
  readonly xattr: XattrOps;
  readonly pathBudget: number;
  /** Turns a path of this mount into the gofer's (from its root). */
  private readonly g: (path: readonly string[]) => readonly string[];

  /** @param prefix the mount point's components ([] for the root mount) */
  constructor(private readonly gofer: GoferClient, private readonly prefix: readonly string[] = []) {
    // The root mount's paths are the gofer's already: no copy per call.
    const g = prefix.length === 0 ? (p: readonly string[]) => p : (p: readonly string[]) => (p.length === 0 ? prefix : [...prefix, ...p]);
    this.g = g;
    this.pathBudget = PATH_MAX - prefix.reduce((n, c) => n + c.length + 1, 0);
    this.ops = {
      mkdir: (p, mode) => gofer.mkdir(g(p), mode),
      mknod: (p, mode, dev) => gofer.mknod(g(p), mode, dev),
      unlink: (p, removeDir) => gofer.unlink(g(p), removeDir ? AT_REMOVEDIR : 0),
      rename: (from, to, flags) => gofer.rename(g(from), g(to), flags),
      symlink: (target, p) => gofer.symlink(target, g(p)),
      link: (from, to) => gofer.link(g(from), g(to)),
      chmod: (p, mode) => gofer.chmod(g(p), mode),
      chown: (p, uid, gid) => gofer.chown(g(p), uid >>> 0, gid >>> 0),
      utimes: (p, as, an, ms, mn) => gofer.utimes(g(p), { sec: as, nsec: an }, { sec: ms, nsec: mn }),
      truncate: (p, length) => gofer.truncate(g(p), length),
    };
    this.xattr = {
      get: (p, name) => gofer.getxattr(g(p), name),
      list: (p) => gofer.listxattr(g(p)),
      set: (p, name, value, flags) => gofer.setxattr(g(p), name, value, flags),
      remove: (p, name) => gofer.removexattr(g(p), name),
    };
  }

  walk(_task: Task, path: readonly string[]): WalkResult {
    const w = this.gofer.walk(this.g(path));
    // The gofer counts the prefix's components too; the VFS counts from the mount's root.
    const found = w.found - this.prefix.length;
    // The mount point itself is gone from the gofer's view: cannot be while
    // it is mounted on, but say so rather than count backwards.
    if (found < 0) return { found: 0, errno: w.errno || E.ENOENT, kind: FileKind.Missing };
    const statx = w.statx;
    const kind = found === 0 && w.errno !== 0 && path.length > 0 ? FileKind.Directory : fileKindOfMode(statxMode(statx));
    return {
      found,
      errno: w.errno,
      kind,
      statx,
      ...(w.symlinkTarget !== undefined ? { symlinkTarget: w.symlinkTarget } : {}),
    };
  }

  open(_task: Task, path: readonly string[], flags: number, mode: number): number {
    // The gofer never waits in open: a FIFO that would is the kernel's to open.
    const fd = this.gofer.open(this.g(path), flags, mode);
    return fd === -E.EWOULDBLOCK ? OPEN_IN_HOST : fd;
  }

  statx(_task: Task, path: readonly string[]): Uint8Array | number {
    const full = this.g(path);
    const w = this.gofer.walk(full);
    if (w.errno !== 0) return -w.errno;
    if (w.found !== full.length) return -E.ENOENT; // vanished meanwhile
    return w.statx;
  }

  readonly access = (path: readonly string[], mode: number): number => this.gofer.access(this.g(path), mode);

  statfs(_task: Task, path: readonly string[]): Uint8Array | number {
    return this.gofer.statfs(this.g(path));
  }
}
