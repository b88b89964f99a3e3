// The sentry's side of the gofer protocol: synchronous calls over one
// SOCK_SEQPACKET socket. The sentry blocks in recvmsg for each reply; gofer
// ops are quick, and a blocking call is cheaper than any hand-off.
//
// Failures of an op come back as negative errnos. A failure of the gofer
// itself (it died, the socket broke, or it sent something that does not
// decode) throws GoferDiedError: the sentry takes the sandbox down on it,
// since a file service it cannot trust is no file service (fail closed).
import { native } from '../native/index.js';
import { E, STATX_SIZE } from '../sentry/abi/linux.js';
import type { IdMaps } from '../sentry/kernel/idmap.js';
import { statxOwnerToHost } from '../sentry/vfs/stat.js';
import {
  MAX_MESSAGE_BYTES, WireBuffer, decodeResponse, encodeRequest, requestFdCount, responseFdCount, type Dirent, type GoferPath,
  type FsIdentity, type OpName, type RequestArgs, type ResponseResult, type Timespec,
} from './protocol.js';

export class GoferDiedError extends Error {
  constructor(message: string) {
    super(`gofer: ${message}`);
    this.name = 'GoferDiedError';
  }
}

export interface WalkResult {
  /** How many components exist and were walked. */
  readonly found: number;
  /** 0, or the errno (positive) that stopped the walk: ENOENT, ENOTDIR, EACCES, ELOOP, ... */
  readonly errno: number;
  /** struct statx (256 bytes) of component found-1, or of the root when found is 0. */
  readonly statx: Uint8Array;
  /** Set when component found-1 is a symlink: the walk stopped there. */
  readonly symlinkTarget: string | undefined;
}

export interface DirentPage {
  readonly entries: readonly Dirent[];
  /** The listing is complete; otherwise ask again from the last entry's `off`. */
  readonly eof: boolean;
}

/**
 * A gofer that stops answering must not stall the sentry (every task of the
 * sandbox waits on it): after this long it is taken for dead, and the
 * sandbox is killed. Its ops never block, so this is far beyond any real one.
 */
const DEFAULT_REPLY_TIMEOUT_MS = 60_000;

/** chown's "leave this id as it is". */
export const UNCHANGED_ID = 0xffffffff;

/** Most fds a reply may carry: any beyond are closed by the addon and make the reply a protocol error. */
const FDS_CAPACITY = 4;

export class GoferClient {
  private readonly tx = new WireBuffer(MAX_MESSAGE_BYTES);
  private readonly rx = new WireBuffer(MAX_MESSAGE_BYTES);
  private readonly fdsIn = new Int32Array(1 + FDS_CAPACITY);
  private readonly noFds = new Int32Array(0);
  private readonly fdOut = new Int32Array(1);
  private nextId = 1;
  private sockFd: number;
  /** Why the client stopped working, once it has. */
  private deadReason: string | undefined;
  /** Where the identity of each op comes from (the trapping task), and the one the gofer holds now. */
  private identitySource: (() => FsIdentity | undefined) | undefined;
  private identitySent: FsIdentity | undefined;
  /** A mapped sandbox's maps: its gofer's statx owners are namespace ids. */
  private namespaceIds: IdMaps | undefined;

  /** Takes ownership of `sockFd`, the sentry's end of the gofer's socket. */
  constructor(sockFd: number, private readonly replyTimeoutMs = DEFAULT_REPLY_TIMEOUT_MS) {
    this.sockFd = sockFd;
  }

  /**
   * From now on every op runs with the identity `source` gives at that
   * moment (undefined: the one the gofer holds). It is sent only when it
   * differs from the last one sent, so the cost is one compare per op.
   */
  actAs(source: () => FsIdentity | undefined): void {
    this.identitySource = source;
  }

  /**
   * The gofer serves from a user namespace with these maps (a mapped
   * sandbox's, sentry/sandbox.ts): the identities sent are namespace ids
   * already (Credentials.fsIdentity), and the owners in the statx it sends
   * back are turned into the host ids the sentry keeps.
   */
  servesFromNamespace(ids: IdMaps): void {
    this.namespaceIds = ids;
  }

  /** A statx the gofer sent, with host owners. */
  private hostStatx(statx: Uint8Array): Uint8Array {
    if (this.namespaceIds !== undefined) statxOwnerToHost(statx, this.namespaceIds);
    return statx;
  }

  /** Walks `path` from the root, stopping at a missing component, a non-directory or a symlink. */
  walk(path: GoferPath): WalkResult {
    const reply = this.call('walk', { path });
    // walk's fields come with every errno the gofer sends; none come when the
    // request could not even be encoded (a path too long to send, say).
    const result = reply.result;
    if (!result) return { found: 0, errno: reply.errno, statx: new Uint8Array(STATX_SIZE), symlinkTarget: undefined };
    return { found: result.found, errno: reply.errno, statx: this.hostStatx(result.statx), symlinkTarget: result.symlinkTarget };
  }

  /**
   * Opens `path` (O_CLOEXEC is always added; a symlink anywhere is ELOOP).
   * Returns our fd, or -errno. `statxOut` (256 bytes), when given, receives
   * the opened file's struct statx.
   */
  open(path: GoferPath, flags: number, mode: number, statxOut?: Uint8Array): number {
    const reply = this.call('open', { path, flags, mode });
    if (reply.errno !== 0) return -reply.errno;
    if (statxOut !== undefined) statxOut.set(this.hostStatx(reply.result!.statx));
    return reply.fd;
  }

  mkdir(path: GoferPath, mode: number): number {
    return this.status(this.call('mkdir', { path, mode }));
  }

  /** Regular files, FIFOs and sockets only: device nodes are EPERM. */
  mknod(path: GoferPath, mode: number, dev: number): number {
    return this.status(this.call('mknod', { path, mode, dev }));
  }

  /** flags: 0 (unlink) or AT_REMOVEDIR (rmdir). */
  unlink(path: GoferPath, flags: number): number {
    return this.status(this.call('unlink', { path, flags }));
  }

  /** flags: RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT. */
  rename(oldPath: GoferPath, newPath: GoferPath, flags: number): number {
    return this.status(this.call('rename', { oldPath, newPath, flags }));
  }

  symlink(target: string, path: GoferPath): number {
    return this.status(this.call('symlink', { target, path }));
  }

  /** A hard link to oldPath itself, never following it. */
  link(oldPath: GoferPath, newPath: GoferPath): number {
    return this.status(this.call('link', { oldPath, newPath }));
  }

  /** EOPNOTSUPP when path is a symlink. */
  chmod(path: GoferPath, mode: number): number {
    return this.status(this.call('chmod', { path, mode }));
  }

  /** Never follows a final symlink. -1 (or UNCHANGED_ID) leaves an id as it is. */
  chown(path: GoferPath, uid: number, gid: number): number {
    return this.status(this.call('chown', { path, uid: uid >>> 0, gid: gid >>> 0 }));
  }

  /** Never follows a final symlink; nsec may be UTIME_NOW or UTIME_OMIT. */
  utimes(path: GoferPath, atime: Timespec, mtime: Timespec): number {
    return this.status(this.call('utimes', { path, atime, mtime }));
  }

  /** May the identity ops run with (actAs) access path with mode (R_OK|W_OK|X_OK)? 0 or -errno. */
  access(path: GoferPath, mode: number): number {
    return this.status(this.call('access', { path, mode }));
  }

  truncate(path: GoferPath, length: number): number {
    return this.status(this.call('truncate', { path, length }));
  }

  /** struct statfs (120 bytes) of the filesystem holding path, or -errno. */
  statfs(path: GoferPath): Uint8Array | number {
    const reply = this.call('statfs', { path });
    return reply.errno !== 0 ? -reply.errno : reply.result!.statfs;
  }

  /** One page of entries after the cookie `offset` (0n: from the start), or -errno. */
  getdents(path: GoferPath, offset: bigint = 0n): DirentPage | number {
    const reply = this.call('getdents', { path, offset });
    return reply.errno !== 0 ? -reply.errno : reply.result!;
  }

  /** Every entry of a directory, page after page, or -errno. */
  listDirectory(path: GoferPath): Dirent[] | number {
    const all: Dirent[] = [];
    let offset = 0n;
    for (;;) {
      const page = this.getdents(path, offset);
      if (typeof page === 'number') return page;
      for (const entry of page.entries) all.push(entry);
      if (page.eof || page.entries.length === 0) return all;
      offset = page.entries[page.entries.length - 1]!.off;
    }
  }

  /** A symlink's target, or -errno (EINVAL: not a symlink). */
  readlink(path: GoferPath): string | number {
    const reply = this.call('readlink', { path });
    return reply.errno !== 0 ? -reply.errno : reply.result!.target;
  }

  /**
   * Binds `socketFd` (our copy of a program's AF_UNIX socket; we keep it) at
   * path; the new inode takes the socket's own permission bits. Returns the address the host recorded
   * (sun_path, as getsockname prints it), or -errno.
   */
  bindSocket(socketFd: number, path: GoferPath): string | number {
    const reply = this.call('bindSocket', { path }, socketFd);
    return reply.errno !== 0 ? -reply.errno : reply.result!.boundAs;
  }

  /** An O_PATH fd of the socket inode at path that the identity may connect to, or -errno. */
  socketTarget(path: GoferPath): number {
    const reply = this.call('socketTarget', { path });
    return reply.errno !== 0 ? -reply.errno : reply.fd;
  }

  /**
   * chmod of the file `fd` names (our copy of a program's fd; we keep it),
   * with the identity's rights: fchmodat2(fd, "", mode, flags), flags being
   * AT_EMPTY_PATH and maybe AT_SYMLINK_NOFOLLOW. 0 or -errno.
   */
  chmodFd(fd: number, mode: number, flags: number): number {
    return this.status(this.call('chmodFd', { mode, flags }, fd));
  }

  /** fchownat(fd, "", uid, gid, flags) as chmodFd; -1 (or UNCHANGED_ID) leaves an id as it is. */
  chownFd(fd: number, uid: number, gid: number, flags: number): number {
    return this.status(this.call('chownFd', { uid: uid >>> 0, gid: gid >>> 0, flags }, fd));
  }

  /** utimensat(fd, "", times, flags) as chmodFd; flags 0 is futimens(fd) (an O_PATH fd: EBADF). */
  utimesFd(fd: number, atime: Timespec, mtime: Timespec, flags: number): number {
    return this.status(this.call('utimesFd', { atime, mtime, flags }, fd));
  }

  /**
   * Opens anew the object `fd` names (our copy of a program's fd; we keep
   * it), as opening /proc/self/fd/N would, with the identity's rights and
   * `flags`. O_CLOEXEC is always added. Returns our new fd, or -errno.
   */
  reopenFd(fd: number, flags: number): number {
    const reply = this.call('reopenFd', { flags }, fd);
    return reply.errno !== 0 ? -reply.errno : reply.fd;
  }

  /** An extended attribute's whole value, or -errno (ENODATA when absent). */
  getxattr(path: GoferPath, name: string): Uint8Array | number {
    const reply = this.call('getxattr', { path, name });
    return reply.errno !== 0 ? -reply.errno : reply.result!.value;
  }

  /** The NUL-separated list of extended attribute names, or -errno. */
  listxattr(path: GoferPath): Uint8Array | number {
    const reply = this.call('listxattr', { path });
    return reply.errno !== 0 ? -reply.errno : reply.result!.list;
  }

  setxattr(path: GoferPath, name: string, value: Uint8Array, flags: number): number {
    return this.status(this.call('setxattr', { path, name, value, flags }));
  }

  removexattr(path: GoferPath, name: string): number {
    return this.status(this.call('removexattr', { path, name }));
  }

  close(): void {
    if (this.sockFd >= 0) native.close(this.sockFd);
    this.sockFd = -1;
    this.deadReason ??= 'client closed';
  }

  // -------------------------------------------------------------------------

  /** 0 or -errno (never -0). */
  private status(reply: { errno: number }): number {
    return reply.errno === 0 ? 0 : -reply.errno;
  }

  private die(reason: string): never {
    this.deadReason = reason;
    throw new GoferDiedError(reason);
  }

  /** Makes the gofer hold `want` before the next op: 0, or the errno (positive) that refused it. */
  private syncIdentity(want: FsIdentity | undefined): number {
    if (want === undefined || sameIdentity(want, this.identitySent)) return 0;
    const reply = this.call('creds', want);
    // On failure the gofer serves no one until it takes a whole identity: ask again next time.
    this.identitySent = reply.errno === 0 ? want : undefined;
    return reply.errno;
  }

  /** One request, one reply. Encoding problems are -errno answers; transport problems throw. */
  private call<N extends OpName>(op: N, args: RequestArgs<N>, sendFd = -1): { errno: number; result: ResponseResult<N> | undefined; fd: number } {
    if (this.deadReason !== undefined) throw new GoferDiedError(this.deadReason);
    if (op !== 'creds' && this.identitySource !== undefined) {
      const failed = this.syncIdentity(this.identitySource());
      if (failed !== 0) return { errno: failed, result: undefined, fd: -1 };
    }
    const id = this.nextId;
    this.nextId = (this.nextId + 1) >>> 0 || 1;
    const length = encodeRequest(this.tx, id, op, args);
    if (length < 0) return { errno: -length, result: undefined, fd: -1 };

    if ((sendFd >= 0 ? 1 : 0) !== requestFdCount(op)) return { errno: E.EBADF, result: undefined, fd: -1 };
    if (sendFd >= 0) this.fdOut[0] = sendFd;
    const sent = native.sendMsg(this.sockFd, this.tx.bytes, length, sendFd >= 0 ? this.fdOut : this.noFds, sendFd >= 0 ? 1 : 0);
    if (sent < 0) this.die(`sendmsg failed (errno ${-sent})`);
    if (sent !== length) this.die(`sendmsg sent ${sent} of ${length} bytes`);

    const received = native.recvMsg(this.sockFd, this.rx.bytes, this.fdsIn, this.replyTimeoutMs);
    const fdCount = received >= 0 ? this.fdsIn[0]! : 0;
    if (received === 0) this.die('the gofer closed its socket (it exited or was killed)');
    if (received === -E.ETIMEDOUT) this.die(`no reply to ${op} in ${this.replyTimeoutMs} ms: the gofer hangs`);
    if (received < 0) this.die(`recvmsg failed (errno ${-received})`);

    const decoded = decodeResponse(this.rx, received, op);
    let problem: string | undefined;
    if (!decoded.ok) problem = `undecodable reply to ${op}: ${decoded.reason}`;
    else if (decoded.id !== id) problem = `reply id ${decoded.id} to request ${id}`;
    else if (fdCount !== responseFdCount(op, decoded.errno)) problem = `reply to ${op} with ${fdCount} fds`;
    if (problem !== undefined || !decoded.ok) {
      for (let i = 0; i < fdCount; i++) native.close(this.fdsIn[1 + i]!);
      return this.die(problem ?? 'undecodable reply');
    }
    return { errno: decoded.errno, result: decoded.result, fd: fdCount > 0 ? this.fdsIn[1]! : -1 };
  }
}


function sameIdentity(a: FsIdentity, b: FsIdentity | undefined): boolean {
  if (a === b) return true;
  if (b === undefined || a.fsuid !== b.fsuid || a.fsgid !== b.fsgid || a.capabilities !== b.capabilities) return false;
  if (a.groups.length !== b.groups.length) return false;
  for (let i = 0; i < a.groups.length; i++) if (a.groups[i] !== b.groups[i]) return false;
  return true;
}
