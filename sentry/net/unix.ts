// AF_UNIX path names. A path is host file state, so only the gofer makes
// one: the sentry resolves the program's path through its VFS, the gofer
// binds the sentry's copy of the program's socket below its root, and for a
// connect or a send it hands back the socket inode as an O_PATH fd that the
// sentry names as /proc/self/fd/N (the host finds a bound socket by its
// inode). The host then records the gofer's name for the socket
// (/proc/self/fd/<dir>/<name>); the sentry remembers which program path each
// such name stands for, and getsockname, getpeername show that one.
import fs from 'node:fs';
import { E } from '../abi/linux.js';
import type { GoferClient } from '../../gofer/client.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { FileKind } from '../vfs/filesystem.js';
import { LastKind, resolveParent, resolvePath } from '../vfs/resolve.js';
import { unixSockaddr } from './sockaddr.js';

function chmodSocket(fd: number, mode: number): boolean {
  try {
    fs.fchmodSync(fd, mode);
    return true;
  } catch {
    return false;
  }
}

/** Names kept for getsockname/getpeername; the oldest go first past this many. */
const MAX_NAMES = 4096;

export class UnixNames {
  /** "dev:ino" of a socket the gofer bound -> the address the program gave. */
  private readonly byInode = new Map<string, Uint8Array>();
  /** The gofer's recorded name -> the program's address (a peer's name reads through this). */
  private readonly byHostName = new Map<string, Uint8Array>();

  constructor(private readonly gofer: GoferClient) {}

  /**
   * bind(2) of `sock` (our copy of the task's AF_UNIX socket) at the
   * program's `path`: 0 or -errno, Linux's for each way the name can be bad.
   */
  bind(k: Kernel, t: Task, sock: number, inode: string, path: string): number {
    const start = k.hostView.startDirectory(t, -100, path);
    if (typeof start === 'number') return start;
    const p = resolveParent(k.mounts, t, start, path, k.hostView.rootOf(t));
    if (typeof p === 'number') return p;
    // kern_path_create(): ".", "..", "/" exist already.
    if (p.lastKind !== LastKind.Normal) return -E.EADDRINUSE;
    if (p.trailingSlash) return -E.ENOENT;
    if (p.parent.kind === FileKind.Missing) return -E.ENOENT;
    if (p.parent.kind !== FileKind.Directory) return -E.ENOTDIR;
    if (p.parent.mount.readOnly) return -E.EROFS;
    if (p.parent.mount.fs.type !== 'gofer') return -E.EACCES; // procfs: no new names
    // The new inode takes the socket inode's permission bits less the
    // binder's umask (unix_bind_bsd); the gofer's umask is 0, so the socket
    // carries the task's mask for the length of the bind.
    const mode = 0o777 & ~t.umask();
    if (!chmodSocket(sock, mode)) return -E.EIO;
    const bound = this.gofer.bindSocket(sock, [...p.parent.abs, p.last]);
    chmodSocket(sock, 0o777);
    if (typeof bound === 'number') return bound;
    const addr = unixSockaddr(path);
    this.remember(this.byInode, inode, addr);
    this.remember(this.byHostName, bound, addr);
    return 0;
  }

  /**
   * The address to connect or send to for the program's `path`: a sockaddr
   * naming the socket inode through an O_PATH fd of ours (close it after the
   * call), or -errno as connect(2) would answer.
   */
  target(k: Kernel, t: Task, path: string): { addr: Uint8Array; fd: number } | number {
    const start = k.hostView.startDirectory(t, -100, path);
    if (typeof start === 'number') return start;
    const r = resolvePath(k.mounts, t, start, path, { followFinal: true, root: k.hostView.rootOf(t) });
    if (typeof r === 'number') return r;
    if (r.kind === FileKind.Missing) return -E.ENOENT;
    if (r.kind !== FileKind.Socket || r.mount.fs.type !== 'gofer') return -E.ECONNREFUSED;
    const fd = this.gofer.socketTarget(r.abs);
    if (fd < 0) return fd;
    return { addr: unixSockaddr(`/proc/self/fd/${fd}`), fd };
  }

  /** What getsockname (inode given) or getpeername shows for an AF_UNIX path the host reported. */
  programAddress(hostPath: string, inode: string | null): Uint8Array | null {
    return (inode !== null ? this.byInode.get(inode) : undefined) ?? this.byHostName.get(hostPath) ?? null;
  }

  private remember(map: Map<string, Uint8Array>, key: string, addr: Uint8Array): void {
    map.delete(key);
    map.set(key, addr);
    if (map.size > MAX_NAMES) {
      const oldest = map.keys().next().value;
      if (oldest !== undefined) map.delete(oldest);
    }
  }
}
