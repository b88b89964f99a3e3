// The gofer's side of the protocol: carries out each op below its root fd.
//
// It never trusts a path. Every lookup is openat2(RESOLVE_IN_ROOT |
// RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS) from the root fd (or from a
// directory fd so obtained), and the final *at call works on the parent fd and
// one plain component without following it. A symlink anywhere but where a
// walk reports it is ELOOP: the sentry resolves symlinks, the gofer only ever
// walks plain components. Every handler returns an answer; none throws.
import { native } from '../native/index.js';
import {
  AT_EACCESS, AT_EMPTY_PATH, AT_REMOVEDIR, AT_SYMLINK_NOFOLLOW, E, NAME_MAX, O_ACCMODE, O_CREAT, O_DIRECTORY, O_EXCL,
  O_NOCTTY, O_NOFOLLOW, O_NONBLOCK, O_PATH, O_PATH_FLAGS, O_RDONLY, O_TMPFILE_BIT, O_TRUNC, O_VALID_FLAGS, O_WRONLY, PATH_MAX,
  RESOLVE_IN_ROOT, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, S_IFBLK, S_IFCHR, S_IFDIR, S_IFIFO, S_IFLNK, S_IFMT, S_IFREG,
  S_IFSOCK,
  STATFS_SIZE, STATX_SIZE, R_OK, W_OK, X_OK, XATTR_CREATE, XATTR_REPLACE
} from '../sentry/abi/linux.js';
import * as host from './hostfs.js';
import { Identity } from './identity.js';
import {
  DIRENTS_PAGE_BYTES, MAX_MESSAGE_BYTES, MAX_XATTR_BYTES, MAX_XATTR_NAME_BYTES, MAX_SYMLINK_TARGET_BYTES, WireBuffer, decodeRequest, encodeErrorResponse,
  encodeResponse, opCode, requestFdCount, type Dirent, type GoferPath, type GoferRequest, type Timespec,
} from './protocol.js';

const RESOLVE = RESOLVE_IN_ROOT | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS;
// renameat2 flags (linux/fs.h)
const RENAME_NOREPLACE = 1;
const RENAME_EXCHANGE = 2;
const RENAME_WHITEOUT = 4;
const RENAME_VALID_FLAGS = RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT;
/** STATX_BASIC_STATS | STATX_BTIME | STATX_MNT_ID: everything stat needs, plus identity. */
const STATX_MASK = 0x7ff | 0x800 | 0x1000;
const STATX_MODE_OFFSET = 28;
// struct linux_dirent64: u64 d_ino, i64 d_off, u16 d_reclen, u8 d_type, char d_name[]
const DIRENT64_NAME_OFFSET = 19;
/** Wire bytes of one Dirent besides its name (see protocol.ts). */
const DIRENT_WIRE_OVERHEAD = 8 + 8 + 1 + 4;
/** Bits of a mode that chmod, mkdir and friends take (S_IALLUGO). */
const PERMISSION_BITS = 0o7777;
/** An fd sent by SCM_RIGHTS; receiving more than this many fds on a request is refused anyway. */
const MAX_FDS_PER_MESSAGE = 16;

export interface GoferServerOptions {
  /** An O_PATH|O_DIRECTORY fd of the tree to serve. */
  readonly rootFd: number;
  /** Refuse every change with EROFS, as a read-only mount would. */
  readonly readOnly: boolean;
}

interface WalkOutcome {
  errno: number;
  found: number;
  symlinkTarget: string | undefined;
}

interface DirentPage {
  entries: Dirent[];
  eof: boolean;
}

function fileType(statx: Uint8Array): number {
  return (statx[STATX_MODE_OFFSET]! | (statx[STATX_MODE_OFFSET + 1]! << 8)) & S_IFMT;
}

/** A byte range as a byte string (one char per byte). */
function latin1(bytes: Uint8Array, length: number): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, length).toString('latin1');
}

export class GoferServer {
  private readonly rootFd: number;
  private readonly readOnly: boolean;
  // Scratch, allocated once: two paths (rename and link name two), one
  // symlink target, stat buffers, and the message buffers.
  private readonly pathA = new host.CPath(PATH_MAX);
  private readonly pathB = new host.CPath(PATH_MAX);
  private readonly nameA = new host.CPath(NAME_MAX);
  private readonly nameB = new host.CPath(NAME_MAX);
  private readonly targetPath = new host.CPath(MAX_SYMLINK_TARGET_BYTES);
  private readonly statxBuf = new Uint8Array(STATX_SIZE);
  private readonly statfsBuf = new Uint8Array(STATFS_SIZE);
  private readonly linkBuf = new Uint8Array(PATH_MAX);
  private readonly timesBuf = new Uint8Array(32);
  private readonly timesView = new DataView(this.timesBuf.buffer);
  private readonly direntBuf = new Uint8Array(16384);
  private readonly direntView = new DataView(this.direntBuf.buffer);
  private readonly rx = new WireBuffer(MAX_MESSAGE_BYTES);
  private readonly tx = new WireBuffer(MAX_MESSAGE_BYTES);
  private readonly fdsIn = new Int32Array(1 + MAX_FDS_PER_MESSAGE);
  private readonly fdsOut = new Int32Array(1);
  /** Whose credentials the ops run with (the `creds` op); at first the gofer's own. */
  private readonly identity = new Identity();
  /** A `creds` op failed part way: every op is refused until one succeeds. */
  private identityLost = false;
  /** The fd that came with the request being handled (the socket ops'), or -1. */
  private requestFd = -1;

  constructor(options: GoferServerOptions) {
    this.rootFd = options.rootFd;
    this.readOnly = options.readOnly;
  }

  /**
   * Serves requests on `sockFd` until the sentry goes away (end of file) or
   * the socket fails. Returns the process exit status: 0 when the peer simply
   * closed, 1 on a socket error.
   */
  serve(sockFd: number): number {
    for (;;) {
      const received = native.recvMsg(sockFd, this.rx.bytes, this.fdsIn);
      const fdCount = this.fdsIn[0]!;
      // Only the socket ops come with an fd (exactly one, the program's
      // socket): any other fd is closed and its request refused.
      const requestFd = fdCount === 1 ? this.fdsIn[1]! : -1;
      for (let i = requestFd >= 0 ? 1 : 0; i < fdCount; i++) native.close(this.fdsIn[1 + i]!);
      this.fdsIn[0] = 0;
      if (received === 0) return 0;
      let length: number;
      let fd = -1;
      if (received === -E.EMSGSIZE) {
        // Cut short (too large, or fds beyond our capacity): answer the header's id if it arrived.
        length = this.replyToMalformed(E.EINVAL, this.rx.bytes.length);
      } else if (received < 0) {
        process.stderr.write(`tsvisor-gofer: recvmsg: errno ${-received}\n`);
        return 1;
      } else if (fdCount > 1) {
        length = this.replyToMalformed(E.EINVAL, received);
      } else {
        const decoded = decodeRequest(this.rx, received);
        if (!decoded.ok) {
          length = encodeErrorResponse(this.tx, decoded.id ?? 0, decoded.opcode ?? 0, decoded.errno);
        } else if (requestFdCount(decoded.request.op) !== fdCount) {
          length = encodeErrorResponse(this.tx, decoded.id, opCode(decoded.request.op), E.EINVAL);
        } else {
          this.requestFd = requestFd;
          const handled = this.handleSafely(decoded.id, decoded.request);
          length = handled.length;
          fd = handled.fd;
        }
      }
      if (requestFd >= 0) host.close(requestFd);
      this.requestFd = -1;
      this.fdsOut[0] = fd;
      const sent = native.sendMsg(sockFd, this.tx.bytes, length, this.fdsOut, fd >= 0 ? 1 : 0);
      if (fd >= 0) host.close(fd); // the sentry has its own copy now
      if (sent < 0) {
        // EPIPE / ECONNRESET: the sentry is gone.
        return sent === -E.EPIPE || sent === -E.ECONNRESET ? 0 : 1;
      }
    }
  }

  /** The reply to bytes that do not decode: id and opcode from the header when present. */
  private replyToMalformed(errno: number, length: number): number {
    const view = this.rx.view;
    const opcode = length >= 4 ? view.getUint32(0, true) & 0xffff : 0;
    const id = length >= 8 ? view.getUint32(4, true) : 0;
    return encodeErrorResponse(this.tx, id, opcode, errno);
  }

  /** Handles one request into this.tx: the message length and the fd to send with it (-1: none). */
  private handleSafely(id: number, request: GoferRequest): { length: number; fd: number } {
    let fd = -1;
    try {
      const reply = this.handle(id, request);
      fd = reply.fd;
      if (reply.length >= 0) return reply;
      // A result that does not fit the schema (say, an empty symlink target on an odd filesystem).
      if (fd >= 0) host.close(fd);
      return { length: encodeErrorResponse(this.tx, id, opCode(request.op), E.EIO), fd: -1 };
    } catch (e) {
      // Only a bug in this file gets here. The sandbox gets EIO for this op and the gofer goes on.
      if (fd >= 0) host.close(fd);
      process.stderr.write(`tsvisor-gofer: ${request.op}: ${e instanceof Error ? e.stack ?? e.message : String(e)}\n`);
      return { length: encodeErrorResponse(this.tx, id, opCode(request.op), E.EIO), fd: -1 };
    }
  }

  private handle(id: number, request: GoferRequest): { length: number; fd: number } {
    const tx = this.tx;
    const none = -1;
    if (request.op === 'creds') {
      const r = this.identity.assume(request.args);
      // Half an identity is no identity: serve no one until a whole one is taken.
      this.identityLost = r < 0;
      return this.status(id, 'creds', r);
    }
    if (this.identityLost) return { length: encodeResponse(tx, id, request.op, E.EACCES), fd: none };
    switch (request.op) {
      case 'walk': {
        const { path } = request.args;
        const w = this.walk(path);
        const result = { found: w.found, statx: this.statxBuf, symlinkTarget: w.symlinkTarget };
        return { length: encodeResponse(tx, id, 'walk', w.errno, result), fd: none };
      }
      case 'open': {
        const { path, flags, mode } = request.args;
        const fd = this.open(path, flags, mode);
        if (fd < 0) return { length: encodeResponse(tx, id, 'open', -fd), fd: none };
        return { length: encodeResponse(tx, id, 'open', 0, { statx: this.statxBuf }), fd };
      }
      case 'mkdir':
        return this.status(id, 'mkdir', this.mkdir(request.args.path, request.args.mode));
      case 'mknod':
        return this.status(id, 'mknod', this.mknod(request.args.path, request.args.mode, request.args.dev));
      case 'unlink':
        return this.status(id, 'unlink', this.unlink(request.args.path, request.args.flags));
      case 'rename': {
        const { oldPath, newPath, flags } = request.args;
        return this.status(id, 'rename', this.rename(oldPath, newPath, flags));
      }
      case 'symlink':
        return this.status(id, 'symlink', this.symlink(request.args.target, request.args.path));
      case 'link':
        return this.status(id, 'link', this.link(request.args.oldPath, request.args.newPath));
      case 'chmod':
        return this.status(id, 'chmod', this.chmod(request.args.path, request.args.mode));
      case 'chown': {
        const { path, uid, gid } = request.args;
        return this.status(id, 'chown', this.chown(path, uid, gid));
      }
      case 'utimes': {
        const { path, atime, mtime } = request.args;
        return this.status(id, 'utimes', this.utimes(path, atime, mtime));
      }
      case 'truncate':
        return this.status(id, 'truncate', this.truncate(request.args.path, request.args.length));
      case 'access':
        return this.status(id, 'access', this.access(request.args.path, request.args.mode));
      case 'statfs': {
        const r = this.statfs(request.args.path);
        if (r < 0) return { length: encodeResponse(tx, id, 'statfs', -r), fd: none };
        return { length: encodeResponse(tx, id, 'statfs', 0, { statfs: this.statfsBuf }), fd: none };
      }
      case 'getdents': {
        const page = this.getdents(request.args.path, request.args.offset);
        if (typeof page === 'number') return { length: encodeResponse(tx, id, 'getdents', -page), fd: none };
        return { length: encodeResponse(tx, id, 'getdents', 0, page), fd: none };
      }
      case 'readlink': {
        const target = this.readlink(request.args.path);
        if (typeof target === 'number') return { length: encodeResponse(tx, id, 'readlink', -target), fd: none };
        return { length: encodeResponse(tx, id, 'readlink', 0, { target }), fd: none };
      }
      case 'getxattr': {
        const value = this.getxattr(request.args.path, request.args.name);
        if (typeof value === 'number') return { length: encodeResponse(tx, id, 'getxattr', -value), fd: none };
        return { length: encodeResponse(tx, id, 'getxattr', 0, { value }), fd: none };
      }
      case 'listxattr': {
        const list = this.listxattr(request.args.path);
        if (typeof list === 'number') return { length: encodeResponse(tx, id, 'listxattr', -list), fd: none };
        return { length: encodeResponse(tx, id, 'listxattr', 0, { list }), fd: none };
      }
      case 'setxattr': {
        const { path, name, value, flags } = request.args;
        return this.status(id, 'setxattr', this.setxattr(path, name, value, flags));
      }
      case 'removexattr':
        return this.status(id, 'removexattr', this.removexattr(request.args.path, request.args.name));
      case 'bindSocket': {
        const boundAs = this.bindSocket(this.requestFd, request.args.path);
        if (typeof boundAs === 'number') return { length: encodeResponse(tx, id, 'bindSocket', -boundAs), fd: none };
        return { length: encodeResponse(tx, id, 'bindSocket', 0, { boundAs }), fd: none };
      }
      case 'socketTarget': {
        const fd = this.socketTarget(request.args.path);
        if (fd < 0) return { length: encodeResponse(tx, id, 'socketTarget', -fd), fd: none };
        return { length: encodeResponse(tx, id, 'socketTarget', 0, {}), fd };
      }
    }
  }

  /** A reply for ops whose only answer is 0 or -errno. */
  private status(
    id: number,
    op: 'mkdir' | 'mknod' | 'unlink' | 'rename' | 'symlink' | 'link' | 'chmod' | 'chown' | 'utimes' | 'truncate'
      | 'setxattr' | 'removexattr' | 'creds' | 'access',
    ret: number,
  ): { length: number; fd: number } {
    return { length: encodeResponse(this.tx, id, op, ret < 0 ? -ret : 0, {}), fd: -1 };
  }

  // -------------------------------------------------------------------------
  // Lookup helpers.

  /** openat2 of path[0, end) below the root ("." when end is 0). */
  private openBelowRoot(path: GoferPath, end: number, flags: number, mode: number, scratch: host.CPath): number {
    return host.openat2(this.rootFd, scratch.setComponents(path, 0, end), flags, mode, RESOLVE);
  }

  /**
   * The directory holding path's last component: the root fd itself for a
   * one-component path, else a new O_PATH fd (release it with releaseDir).
   */
  private openParent(path: GoferPath, scratch: host.CPath): number {
    if (path.length <= 1) return this.rootFd;
    return this.openBelowRoot(path, path.length - 1, O_PATH | O_DIRECTORY, 0, scratch);
  }

  private releaseDir(fd: number): void {
    if (fd >= 0 && fd !== this.rootFd) host.close(fd);
  }

  /** The object at `path` itself (a symlink stays a symlink), as an O_PATH fd, or -errno. */
  private openTarget(path: GoferPath): number {
    return this.openBelowRoot(path, path.length, O_PATH | O_NOFOLLOW, 0, this.pathA);
  }

  /** statx of an fd into this.statxBuf. */
  private statFd(fd: number): number {
    return host.statx(fd, host.EMPTY_PATH, AT_EMPTY_PATH | AT_SYMLINK_NOFOLLOW, STATX_MASK, this.statxBuf);
  }

  /**
   * Runs `body` with the parent directory fd and the last component's name:
   * for the root itself (an empty path) the name is "." in the root.
   */
  private atParent(path: GoferPath, pathScratch: host.CPath, nameScratch: host.CPath,
    body: (dirfd: number, name: Uint8Array) => number): number {
    if (path.length === 0) return body(this.rootFd, nameScratch.set('.'));
    const dirfd = this.openParent(path, pathScratch);
    if (dirfd < 0) return dirfd;
    try {
      return body(dirfd, nameScratch.set(path[path.length - 1]!));
    } finally {
      this.releaseDir(dirfd);
    }
  }

  /** For a read-only tree: the errno an op that would create `path` gets (EEXIST before EROFS, as Linux). */
  private readOnlyCreate(path: GoferPath): number {
    return this.atParent(path, this.pathA, this.nameA, (dirfd, name) => {
      const r = host.statx(dirfd, name, AT_SYMLINK_NOFOLLOW, 0, this.statxBuf);
      if (r >= 0) return -E.EEXIST;
      return r === -E.ENOENT ? -E.EROFS : r;
    });
  }

  /** For a read-only tree: an op that changes an existing `path` fails as lookup fails, else EROFS. */
  private readOnlyChange(path: GoferPath): number {
    const fd = this.openTarget(path);
    if (fd < 0) return fd;
    host.close(fd);
    return -E.EROFS;
  }

  // -------------------------------------------------------------------------
  // Ops.

  private walk(path: GoferPath): WalkOutcome {
    const n = path.length;
    this.statxBuf.fill(0);
    if (n === 0) {
      const r = this.statFd(this.rootFd);
      return { errno: r < 0 ? -r : 0, found: 0, symlinkTarget: undefined };
    }
    // Fast path: the whole path in one openat2. O_PATH|O_NOFOLLOW hands back
    // a final symlink itself even under RESOLVE_NO_SYMLINKS.
    const fd = this.openBelowRoot(path, n, O_PATH | O_NOFOLLOW, 0, this.pathA);
    if (fd >= 0) {
      try {
        return this.walkedTo(fd, n);
      } finally {
        host.close(fd);
      }
    }
    if (fd === -E.ENOENT) {
      // The common miss (a stat or O_CREAT of a new name): only the last
      // component is missing. One more openat2 of the parent tells.
      const parentWalk = this.walkParentOfMissing(path);
      if (parentWalk !== undefined) return parentWalk;
    }
    return this.walkStepwise(path);
  }

  /** The walk's answer when path's parent exists as a directory (or is a symlink); else undefined. */
  private walkParentOfMissing(path: GoferPath): WalkOutcome | undefined {
    const n = path.length;
    if (n === 1) {
      const r = this.statFd(this.rootFd);
      return { errno: r < 0 ? -r : E.ENOENT, found: 0, symlinkTarget: undefined };
    }
    const parent = this.openBelowRoot(path, n - 1, O_PATH | O_NOFOLLOW, 0, this.pathA);
    if (parent < 0) return undefined;
    try {
      const w = this.walkedTo(parent, n - 1);
      if (w.errno !== 0 || w.symlinkTarget !== undefined) return w;
      return fileType(this.statxBuf) === S_IFDIR ? { errno: E.ENOENT, found: n - 1, symlinkTarget: undefined } : undefined;
    } finally {
      host.close(parent);
    }
  }

  /** The walk's answer once component found-1 is open as `fd`. */
  private walkedTo(fd: number, found: number): WalkOutcome {
    const r = this.statFd(fd);
    if (r < 0) return { errno: -r, found: found - 1, symlinkTarget: undefined };
    if (fileType(this.statxBuf) !== S_IFLNK) return { errno: 0, found, symlinkTarget: undefined };
    const length = host.readlinkat(fd, host.EMPTY_PATH, this.linkBuf);
    if (length < 0) return { errno: -length, found, symlinkTarget: undefined };
    if (length === 0 || length > MAX_SYMLINK_TARGET_BYTES) return { errno: E.EIO, found, symlinkTarget: undefined };
    return { errno: 0, found, symlinkTarget: latin1(this.linkBuf, length) };
  }

  /** The slow walk, one component at a time, to find where (and why) the fast path stopped. */
  private walkStepwise(path: GoferPath): WalkOutcome {
    const n = path.length;
    let dir = this.rootFd;
    try {
      for (let i = 0; i < n; i++) {
        const fd = host.openat2(dir, this.nameA.set(path[i]!), O_PATH | O_NOFOLLOW, 0, RESOLVE);
        if (fd < 0) {
          // statxBuf still holds component i-1 (from the previous step), or
          // is the root's, taken now, when nothing was walked.
          if (i === 0) this.statFd(this.rootFd);
          return { errno: -fd, found: i, symlinkTarget: undefined };
        }
        const last = i === n - 1;
        let keep = false;
        try {
          const w = this.walkedTo(fd, i + 1);
          if (w.errno !== 0 || w.symlinkTarget !== undefined || last) return w;
          if (fileType(this.statxBuf) !== S_IFDIR) return { errno: E.ENOTDIR, found: i + 1, symlinkTarget: undefined };
          keep = true;
        } finally {
          if (!keep) host.close(fd);
        }
        this.releaseDir(dir);
        dir = fd;
      }
      // Unreachable: the last step returns. The fast path failing and the slow one not means the tree changed.
      return { errno: 0, found: n, symlinkTarget: undefined };
    } finally {
      this.releaseDir(dir);
    }
  }

  private open(path: GoferPath, flags: number, mode: number): number {
    // Access mode 3 is valid: open(2) grants an fd for ioctls only, after checking read and write rights.
    if ((flags & ~O_VALID_FLAGS) !== 0) return -E.EINVAL;
    if ((flags & O_PATH) !== 0) {
      // open(2) ignores every other flag beside O_PATH; openat2 refuses them. Be open(2).
      return this.openPath(path, flags & O_PATH_FLAGS);
    }
    const creates = (flags & O_CREAT) !== 0 || (flags & O_TMPFILE_BIT) !== 0;
    // openat2 insists on a zero mode unless creating; open(2) ignores it.
    const createMode = creates ? mode & PERMISSION_BITS : 0;
    let hostFlags = flags;
    if (this.readOnly) {
      const writes = (flags & O_ACCMODE) !== O_RDONLY || (flags & (O_CREAT | O_TRUNC | O_TMPFILE_BIT)) !== 0;
      if (writes) {
        const verdict = this.readOnlyOpen(path, flags);
        if (verdict < 0) return verdict;
        hostFlags &= ~(O_CREAT | O_EXCL); // nothing may be created
      }
    }
    // A FIFO opened without O_NONBLOCK waits for its other end. The gofer's
    // one thread must not wait, and even a non-blocking probe would count as
    // that other end for whoever waits already: look before opening, and
    // answer EWOULDBLOCK (the sentry has the kernel do that open).
    if ((flags & O_NONBLOCK) === 0 && (flags & (O_CREAT | O_TMPFILE_BIT)) !== O_TMPFILE_BIT) {
      if (this.typeOf(path) === S_IFIFO) return -E.EWOULDBLOCK;
    }
    // O_NONBLOCK always: opening a tty or a file under a lease must not stall
    // the one gofer thread. It is taken off again below when the sentry did
    // not ask for it. O_NOCTTY always: a tty in the tree must not become the gofer's.
    const fd = this.openBelowRoot(path, path.length, hostFlags | O_NOCTTY | O_NONBLOCK, createMode, this.pathA);
    // /dev/tty with no terminal of the gofer's own: ENXIO here, yet the program may have one.
    if (fd === -E.ENXIO && this.typeOf(path) === S_IFCHR) return -E.EWOULDBLOCK;
    if (fd < 0) return fd;
    let r = this.statFd(fd);
    // A device's open depends on who opens it (see the open op): give it back.
    if (r >= 0 && fileType(this.statxBuf) === S_IFCHR) r = -E.EWOULDBLOCK;
    if (r >= 0 && this.readOnly && (flags & O_ACCMODE) !== O_RDONLY) {
      // The tree changed between the check and the open: still no writes to files.
      const type = fileType(this.statxBuf);
      if (type === S_IFREG || type === S_IFDIR) r = -E.EROFS;
    }
    if (r >= 0 && (flags & O_NONBLOCK) === 0) {
      const status = host.getStatusFlags(fd);
      r = status < 0 ? status : host.setStatusFlags(fd, status & ~O_NONBLOCK);
    }
    if (r < 0) {
      host.close(fd);
      return r;
    }
    return fd;
  }

  /** An O_PATH open: it opens nothing (no driver, no FIFO), so it needs none of open()'s care. */
  private openPath(path: GoferPath, flags: number): number {
    const fd = this.openBelowRoot(path, path.length, flags, 0, this.pathA);
    if (fd < 0) return fd;
    const r = this.statFd(fd);
    if (r < 0) {
      host.close(fd);
      return r;
    }
    return fd;
  }

  /**
   * For a read-only tree, an open that may write: the errno Linux gives on a
   * read-only mount, or 0 when the open may go ahead (writing to a FIFO, socket
   * or device is no change to the tree).
   */
  private readOnlyOpen(path: GoferPath, flags: number): number {
    if ((flags & O_TMPFILE_BIT) !== 0) return -E.EROFS;
    const probe = this.openBelowRoot(path, path.length, O_PATH | O_NOFOLLOW | (flags & O_DIRECTORY), 0, this.pathA);
    if (probe < 0) {
      if (probe !== -E.ENOENT || (flags & O_CREAT) === 0 || path.length === 0) return probe;
      const parent = this.openParent(path, this.pathB);
      if (parent < 0) return parent;
      this.releaseDir(parent);
      return -E.EROFS;
    }
    const r = this.statFd(probe);
    host.close(probe);
    if (r < 0) return r;
    const type = fileType(this.statxBuf);
    const writes = (flags & O_ACCMODE) !== O_RDONLY;
    if (type === S_IFLNK) return -E.ELOOP;
    if ((flags & (O_CREAT | O_EXCL)) === (O_CREAT | O_EXCL)) return -E.EEXIST;
    if (type === S_IFDIR) return writes || (flags & O_CREAT) !== 0 ? -E.EISDIR : 0;
    if (type === S_IFREG) return writes || (flags & O_TRUNC) !== 0 ? -E.EROFS : 0;
    return 0;
  }

  private mkdir(path: GoferPath, mode: number): number {
    if (path.length === 0) return -E.EEXIST;
    if (this.readOnly) return this.readOnlyCreate(path);
    return this.atParent(path, this.pathA, this.nameA, (dirfd, name) => host.mkdirat(dirfd, name, mode & PERMISSION_BITS));
  }

  private mknod(path: GoferPath, mode: number, dev: number): number {
    switch (mode & S_IFMT) {
      case 0:
      case S_IFREG:
      case S_IFIFO:
      case S_IFSOCK:
        break;
      case S_IFDIR:
        return -E.EPERM; // as mknod(2)
      case S_IFCHR:
      case S_IFBLK:
        return -E.EPERM; // device nodes reach host devices: the gofer never makes one
      default:
        return -E.EINVAL; // not a file type
    }
    if (path.length === 0) return -E.EEXIST;
    if (this.readOnly) return this.readOnlyCreate(path);
    const type = (mode & S_IFMT) === 0 ? S_IFREG : mode & S_IFMT;
    return this.atParent(path, this.pathA, this.nameA,
      (dirfd, name) => host.mknodat(dirfd, name, type | (mode & PERMISSION_BITS), type === S_IFREG ? 0 : dev));
  }

  private unlink(path: GoferPath, flags: number): number {
    if ((flags & ~AT_REMOVEDIR) !== 0) return -E.EINVAL;
    // rmdir("/") and unlink("/"), as Linux answers them.
    if (path.length === 0) return (flags & AT_REMOVEDIR) !== 0 ? -E.EBUSY : -E.EISDIR;
    return this.atParent(path, this.pathA, this.nameA,
      (dirfd, name) => (this.readOnly ? -E.EROFS : host.unlinkat(dirfd, name, flags)));
  }

  private rename(oldPath: GoferPath, newPath: GoferPath, flags: number): number {
    if ((flags & ~RENAME_VALID_FLAGS) !== 0) return -E.EINVAL;
    if ((flags & RENAME_EXCHANGE) !== 0 && (flags & (RENAME_NOREPLACE | RENAME_WHITEOUT)) !== 0) return -E.EINVAL;
    if (oldPath.length === 0 || newPath.length === 0) return -E.EBUSY;
    return this.atParent(oldPath, this.pathA, this.nameA, (oldDir, oldName) =>
      this.atParent(newPath, this.pathB, this.nameB, (newDir, newName) =>
        (this.readOnly ? -E.EROFS : host.renameat2(oldDir, oldName, newDir, newName, flags))));
  }

  private symlink(target: string, path: GoferPath): number {
    if (path.length === 0) return -E.EEXIST;
    if (this.readOnly) return this.readOnlyCreate(path);
    const targetBytes = this.targetPath.set(target);
    return this.atParent(path, this.pathA, this.nameA, (dirfd, name) => host.symlinkat(targetBytes, dirfd, name));
  }

  private link(oldPath: GoferPath, newPath: GoferPath): number {
    if (oldPath.length === 0) return -E.EPERM; // a hard link to a directory
    if (newPath.length === 0) return -E.EEXIST;
    return this.atParent(oldPath, this.pathA, this.nameA, (oldDir, oldName) =>
      this.atParent(newPath, this.pathB, this.nameB, (newDir, newName) => {
        if (!this.readOnly) return host.linkat(oldDir, oldName, newDir, newName, 0); // 0: never follow oldPath
        const old = host.statx(oldDir, oldName, AT_SYMLINK_NOFOLLOW, 0, this.statxBuf);
        if (old < 0) return old;
        const r = host.statx(newDir, newName, AT_SYMLINK_NOFOLLOW, 0, this.statxBuf);
        return r >= 0 ? -E.EEXIST : r === -E.ENOENT ? -E.EROFS : r;
      }));
  }

  private chmod(path: GoferPath, mode: number): number {
    if (this.readOnly) return this.readOnlyChange(path);
    return this.atParent(path, this.pathA, this.nameA,
      (dirfd, name) => host.fchmodat(dirfd, name, mode & PERMISSION_BITS, AT_SYMLINK_NOFOLLOW));
  }

  private chown(path: GoferPath, uid: number, gid: number): number {
    if (this.readOnly) return this.readOnlyChange(path);
    return this.atParent(path, this.pathA, this.nameA,
      (dirfd, name) => host.fchownat(dirfd, name, uid, gid, AT_SYMLINK_NOFOLLOW));
  }

  private utimes(path: GoferPath, atime: Timespec, mtime: Timespec): number {
    if (this.readOnly) return this.readOnlyChange(path);
    const view = this.timesView;
    view.setBigInt64(0, atime.sec, true);
    view.setBigInt64(8, BigInt(atime.nsec), true);
    view.setBigInt64(16, mtime.sec, true);
    view.setBigInt64(24, BigInt(mtime.nsec), true);
    return this.atParent(path, this.pathA, this.nameA,
      (dirfd, name) => host.utimensat(dirfd, name, this.timesBuf, AT_SYMLINK_NOFOLLOW));
  }

  /** The S_IF* type of what path names, looked at (O_PATH), not opened; -1 if it cannot be. */
  private typeOf(path: GoferPath): number {
    const probe = this.openBelowRoot(path, path.length, O_PATH | O_NOFOLLOW, 0, this.pathB);
    if (probe < 0) return -1;
    const r = this.statFd(probe);
    host.close(probe);
    return r >= 0 ? fileType(this.statxBuf) : -1;
  }

  /**
   * bind(2) of a program's socket below the root: the parent is opened with
   * the usual RESOLVE_IN_ROOT discipline and the socket bound at
   * /proc/self/fd/<parent>/<name>, so only that directory can receive it (the
   * magic link is the directory the gofer holds; the last component is
   * created, never followed: an existing name, symlink or not, is
   * EADDRINUSE). The inode takes the identity's owner, and the socket's own
   * permission bits (the gofer's umask is 0; the sentry set them).
   */
  private bindSocket(sock: number, path: GoferPath): string | number {
    if (sock < 0) return -E.EBADF;
    if (path.length === 0) return -E.EADDRINUSE;
    if (this.readOnly) {
      const r = this.readOnlyCreate(path);
      return r === -E.EEXIST ? -E.EADDRINUSE : r;
    }
    const dirfd = this.openParent(path, this.pathA);
    if (dirfd < 0) return dirfd;
    try {
      const boundAs = `/proc/self/fd/${dirfd}/${path[path.length - 1]!}`;
      // sun_path holds 108 bytes with its NUL.
      if (boundAs.length > 107) return -E.ENAMETOOLONG;
      const addr = new Uint8Array(2 + boundAs.length + 1);
      addr[0] = 1; // AF_UNIX, little endian
      for (let i = 0; i < boundAs.length; i++) addr[2 + i] = boundAs.charCodeAt(i);
      const r = native.sockBind(sock, addr, addr.length);
      return r < 0 ? r : boundAs;
    } finally {
      this.releaseDir(dirfd);
    }
  }

  /** connect(2)'s lookup of a socket path: the inode, checked for type and write permission as the identity. */
  private socketTarget(path: GoferPath): number {
    const fd = this.openBelowRoot(path, path.length, O_PATH | O_NOFOLLOW, 0, this.pathA);
    if (fd < 0) return fd;
    const r = this.statFd(fd);
    let errno = r < 0 ? r : 0;
    if (errno === 0 && fileType(this.statxBuf) !== S_IFSOCK) errno = -E.ECONNREFUSED;
    if (errno === 0) errno = host.faccessat2(fd, host.EMPTY_PATH, W_OK, AT_EACCESS | AT_EMPTY_PATH);
    if (errno < 0) {
      host.close(fd);
      return errno;
    }
    return fd;
  }

  /** With the identity held: the kernel's own check (DAC, ACLs, capabilities, read-only mounts). */
  private access(path: GoferPath, mode: number): number {
    if (mode & ~(R_OK | W_OK | X_OK)) return -E.EINVAL;
    if (this.readOnly && (mode & W_OK)) return this.readOnlyChange(path);
    return this.atParent(path, this.pathA, this.nameA,
      (dirfd, name) => host.faccessat2(dirfd, name, mode, AT_EACCESS | AT_SYMLINK_NOFOLLOW));
  }

  private truncate(path: GoferPath, length: number): number {
    if (length < 0) return -E.EINVAL;
    // Look first (O_PATH opens nothing): opening a device or FIFO for writing
    // has effects of its own, and truncate(2) refuses them anyway.
    const probe = this.openTarget(path);
    if (probe < 0) return probe;
    const r = this.statFd(probe);
    host.close(probe);
    if (r < 0) return r;
    const type = fileType(this.statxBuf);
    if (type === S_IFDIR) return -E.EISDIR;
    if (type === S_IFLNK) return -E.ELOOP;
    if (type !== S_IFREG) return -E.EINVAL;
    if (this.readOnly) return -E.EROFS;
    const fd = this.openBelowRoot(path, path.length, O_WRONLY | O_NONBLOCK | O_NOCTTY, 0, this.pathA);
    if (fd < 0) return fd;
    try {
      const s = this.statFd(fd);
      if (s < 0) return s;
      if (fileType(this.statxBuf) !== S_IFREG) return -E.EINVAL; // swapped since the look
      return host.ftruncate(fd, length);
    } finally {
      host.close(fd);
    }
  }

  private statfs(path: GoferPath): number {
    const fd = this.openTarget(path);
    if (fd < 0) return fd;
    try {
      return host.fstatfs(fd, this.statfsBuf);
    } finally {
      host.close(fd);
    }
  }

  private getdents(path: GoferPath, offset: bigint): DirentPage | number {
    const fd = this.openBelowRoot(path, path.length, O_RDONLY | O_DIRECTORY | O_NONBLOCK, 0, this.pathA);
    if (fd < 0) return fd;
    try {
      if (offset !== 0n) {
        const s = host.seekDirectory(fd, offset);
        if (s < 0) return s;
      }
      const entries: Dirent[] = [];
      const buf = this.direntBuf;
      const view = this.direntView;
      let used = 0;
      for (;;) {
        const n = host.getdents64(fd, buf);
        if (n < 0) return n;
        if (n === 0) return { entries, eof: true };
        for (let at = 0; at < n;) {
          const reclen = view.getUint16(at + 16, true);
          if (reclen <= DIRENT64_NAME_OFFSET || at + reclen > n) return -E.EIO; // never from a sane kernel
          let end = at + DIRENT64_NAME_OFFSET;
          const limit = at + reclen;
          while (end < limit && buf[end] !== 0) end++;
          const nameLength = end - (at + DIRENT64_NAME_OFFSET);
          if (nameLength === 0 || nameLength > NAME_MAX) return -E.EIO;
          const size = DIRENT_WIRE_OVERHEAD + nameLength;
          if (used + size > DIRENTS_PAGE_BYTES) return { entries, eof: false };
          used += size;
          entries.push({
            ino: view.getBigUint64(at, true),
            off: view.getBigInt64(at + 8, true),
            type: buf[at + 18]!,
            name: Buffer.from(buf.buffer, buf.byteOffset + at + DIRENT64_NAME_OFFSET, nameLength).toString('latin1'),
          });
          at += reclen;
        }
      }
    } finally {
      host.close(fd);
    }
  }

  private readlink(path: GoferPath): string | number {
    if (path.length === 0) return -E.EINVAL;
    const length = this.atParent(path, this.pathA, this.nameA, (dirfd, name) => host.readlinkat(dirfd, name, this.linkBuf));
    if (length < 0) return length;
    if (length === 0 || length > MAX_SYMLINK_TARGET_BYTES) return -E.EIO;
    return latin1(this.linkBuf, length);
  }

  // -------------------------------------------------------------------------
  // Extended attributes, on the object itself (a final symlink is not followed).

  private readonly xattrBuf = new Uint8Array(MAX_XATTR_BYTES);
  private readonly xattrName = new host.CPath(MAX_XATTR_NAME_BYTES);
  private readonly procFdPath = new host.CPath(64);

  /** Runs body with /proc/self/fd/N naming the object at path. */
  private withObject(path: GoferPath, body: (procPath: Uint8Array) => number): number {
    const fd = this.openTarget(path);
    if (fd < 0) return fd;
    try {
      return body(this.procFdPath.set(`/proc/self/fd/${fd}`));
    } finally {
      host.close(fd);
    }
  }

  private getxattr(path: GoferPath, name: string): Uint8Array | number {
    const n = this.withObject(path, (p) => host.getxattr(p, this.xattrName.set(name), this.xattrBuf));
    return n < 0 ? n : this.xattrBuf.slice(0, n);
  }

  private listxattr(path: GoferPath): Uint8Array | number {
    const n = this.withObject(path, (p) => host.listxattr(p, this.xattrBuf));
    return n < 0 ? n : this.xattrBuf.slice(0, n);
  }

  private setxattr(path: GoferPath, name: string, value: Uint8Array, flags: number): number {
    if (flags & ~(XATTR_CREATE | XATTR_REPLACE)) return -E.EINVAL;
    if (this.readOnly) return this.readOnlyChange(path);
    return this.withObject(path, (p) => host.setxattr(p, this.xattrName.set(name), value, flags));
  }

  private removexattr(path: GoferPath, name: string): number {
    if (this.readOnly) return this.readOnlyChange(path);
    return this.withObject(path, (p) => host.removexattr(p, this.xattrName.set(name)));
  }
}
