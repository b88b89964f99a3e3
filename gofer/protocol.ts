// The gofer protocol: the one schema shared by the sentry's client and the
// gofer's server, and its binary encoding. The server is C
// (native/gofer/wire.c reads this schema byte for byte); decodeRequest and
// encodeResponse here are the reference it is fuzzed against
// (test/gofer-protocol.test.ts).
//
// Transport: one SOCK_SEQPACKET unix socket, strictly request/response (one
// message each way), fds by SCM_RIGHTS. Every message starts with
//   u32 word0 = PROTOCOL_VERSION << 16 | opcode,  u32 request id
// A request continues with the op's request fields in schema order. A
// response continues with i32 errno (0 = success, else a positive Linux errno)
// and then the op's response fields, which are present when errno is 0, or
// always for ops marked `resultOnError` (walk reports how far it got).
// Numbers are little-endian; strings are u32 byte length + latin1 bytes (one
// JS char per byte: Linux names are bytes, not text); a path is u32 count +
// that many strings; statx/statfs are fixed-size raw structs.
//
// Decoding never throws on bad input: it returns a DecodeError carrying the
// errno to answer with. Every length is bounded before anything is read or
// allocated, and a message must be consumed exactly (no trailing bytes).
import { E, NAME_MAX, PATH_MAX, STATFS_SIZE, STATX_SIZE } from '../sentry/abi/linux.js';

export const PROTOCOL_VERSION = 1;
/** The largest extended attribute value or name list (Linux's XATTR_SIZE_MAX). */
export const MAX_XATTR_BYTES = 65536;
/**
 * Supplementary groups one `creds` request carries. Linux allows 65536
 * (NGROUPS_MAX); 16384 keeps the message within MAX_MESSAGE_BYTES, and a
 * task with more is refused by the client rather than checked with fewer.
 */
export const MAX_GROUPS = 16384;
/** An extended attribute's name, without its NUL (Linux's XATTR_NAME_MAX). */
export const MAX_XATTR_NAME_BYTES = 255;
/** Both sides' buffers: a request or a response never exceeds this (an xattr value and a path fit). */
export const MAX_MESSAGE_BYTES = MAX_XATTR_BYTES + 2 * PATH_MAX;
/** A joined path ("a/b/c") plus its NUL fits PATH_MAX, as the kernel wants it. */
export const MAX_PATH_BYTES = PATH_MAX - 1;
/** Each component takes at least one byte and one separator. */
export const MAX_COMPONENTS = (MAX_PATH_BYTES + 1) / 2;
/** A symlink target, like any path the kernel takes, must fit PATH_MAX with its NUL. */
export const MAX_SYMLINK_TARGET_BYTES = PATH_MAX - 1;
/** How many bytes of directory entries one getdents reply may carry; the rest come on the next page. */
export const DIRENTS_PAGE_BYTES = 32768;
/** ino, off, type, name length and a one-byte name: the least an entry takes on the wire. */
const MIN_DIRENT_WIRE_BYTES = 8 + 8 + 1 + 4 + 1;
const MAX_ERRNO = 4095;

/** A path relative to the gofer's root, as components; [] is the root itself. */
export type GoferPath = readonly string[];

export interface Timespec {
  /** Any i64: Linux takes any seconds and clamps them to the filesystem's range. */
  readonly sec: bigint;
  /** 0..999999999, or UTIME_NOW / UTIME_OMIT. */
  readonly nsec: number;
}

export interface Dirent {
  readonly name: string;
  /** DT_* from the host's getdents64. */
  readonly type: number;
  readonly ino: bigint;
  /** The cookie that resumes the listing after this entry (its d_off). */
  readonly off: bigint;
}

/** What each wire field kind is in JS. */
export interface KindValues {
  u32: number;
  i32: number;
  /** A u64 that callers handle as a JS number: 0..2^53-1. */
  u64: number;
  /** An i64 that callers handle as a JS number: ±(2^53-1). */
  i64: number;
  i64big: bigint;
  bool: boolean;
  path: GoferPath;
  /** A symlink target: 1..4095 bytes, no NUL. */
  target: string;
  /** A symlink target or nothing (sent as length 0: no symlink has an empty target). */
  optTarget: string | undefined;
  statx: Uint8Array;
  statfs: Uint8Array;
  /** An extended attribute's name: 1..255 bytes, no NUL. */
  xname: string;
  /** Raw bytes of at most MAX_XATTR_BYTES (an xattr value or list). */
  bytes: Uint8Array;
  timespec: Timespec;
  dirents: readonly Dirent[];
  /** A list of ids (u32 count + u32 each), at most MAX_GROUPS. */
  ids: readonly number[];
}
export type FieldKind = keyof KindValues;
export type FieldSpec = readonly [name: string, kind: FieldKind];

export interface OpSchema {
  readonly code: number;
  readonly request: readonly FieldSpec[];
  readonly response: readonly FieldSpec[];
  /** The response fields are sent even when errno is not 0. */
  readonly resultOnError?: boolean;
  /** A successful response carries exactly one fd (SCM_RIGHTS). */
  readonly carriesFd?: boolean;
  /** The request carries exactly one fd (SCM_RIGHTS): the sentry's copy of a program's fd (a socket to bind, a file to change). */
  readonly takesFd?: boolean;
}

/**
 * The ops. Every path is fully resolved by the sentry: the gofer never follows
 * a symlink, and a symlink met on the way is ELOOP (walk reports it instead).
 */
export const OPS = {
  /** Walks from the root; stops at the first missing component, non-directory with more to go, or symlink. */
  walk: {
    code: 1,
    request: [['path', 'path']],
    response: [['found', 'u32'], ['statx', 'statx'], ['symlinkTarget', 'optTarget']],
    resultOnError: true,
  },
  /**
   * openat2 below the root; the fd comes back by SCM_RIGHTS with its statx.
   * EWOULDBLOCK: an object only the program's own context can open, which the
   * sentry then lets the kernel open: a FIFO opened without O_NONBLOCK (its
   * open waits for the other end), or a character device (/dev/tty is the
   * opener's terminal, and a tty opened without O_NOCTTY may become the
   * opener's: the gofer's would be the wrong one).
   */
  open: {
    code: 2,
    request: [['path', 'path'], ['flags', 'u32'], ['mode', 'u32']],
    response: [['statx', 'statx']],
    carriesFd: true,
  },
  mkdir: { code: 3, request: [['path', 'path'], ['mode', 'u32']], response: [] },
  /** Only S_IFREG, S_IFIFO and S_IFSOCK: device nodes are EPERM. */
  mknod: { code: 4, request: [['path', 'path'], ['mode', 'u32'], ['dev', 'u64']], response: [] },
  /** flags: 0 or AT_REMOVEDIR. */
  unlink: { code: 5, request: [['path', 'path'], ['flags', 'u32']], response: [] },
  /** flags: RENAME_NOREPLACE | RENAME_EXCHANGE | RENAME_WHITEOUT. */
  rename: { code: 6, request: [['oldPath', 'path'], ['newPath', 'path'], ['flags', 'u32']], response: [] },
  symlink: { code: 7, request: [['target', 'target'], ['path', 'path']], response: [] },
  /** A hard link to oldPath itself (a symlink stays a symlink). */
  link: { code: 8, request: [['oldPath', 'path'], ['newPath', 'path']], response: [] },
  /** EOPNOTSUPP on a symlink, like fchmodat2(AT_SYMLINK_NOFOLLOW). */
  chmod: { code: 9, request: [['path', 'path'], ['mode', 'u32']], response: [] },
  /** Never follows a final symlink; 0xffffffff leaves an id unchanged. */
  chown: { code: 10, request: [['path', 'path'], ['uid', 'u32'], ['gid', 'u32']], response: [] },
  /** utimensat(AT_SYMLINK_NOFOLLOW); UTIME_NOW / UTIME_OMIT pass through. */
  utimes: { code: 11, request: [['path', 'path'], ['atime', 'timespec'], ['mtime', 'timespec']], response: [] },
  truncate: { code: 12, request: [['path', 'path'], ['length', 'i64']], response: [] },
  statfs: { code: 13, request: [['path', 'path']], response: [['statfs', 'statfs']] },
  /**
   * One page of a directory's entries ("." and ".." included, as the host
   * lists them), starting after the entry whose `off` is `offset` (0: from the
   * start). `eof` is set when the listing is complete.
   */
  getdents: {
    code: 14,
    request: [['path', 'path'], ['offset', 'i64big']],
    response: [['entries', 'dirents'], ['eof', 'bool']],
  },
  readlink: { code: 15, request: [['path', 'path']], response: [['target', 'target']] },
  /** Extended attributes of the path itself (a final symlink is not followed). */
  getxattr: { code: 16, request: [['path', 'path'], ['name', 'xname']], response: [['value', 'bytes']] },
  /** The NUL-separated list of names. */
  listxattr: { code: 17, request: [['path', 'path']], response: [['list', 'bytes']] },
  /** flags: XATTR_CREATE | XATTR_REPLACE. */
  setxattr: { code: 18, request: [['path', 'path'], ['name', 'xname'], ['value', 'bytes'], ['flags', 'u32']], response: [] },
  removexattr: { code: 19, request: [['path', 'path'], ['name', 'xname']], response: [] },
  /**
   * Whose credentials the ops that follow run with: the calling task's fsuid,
   * fsgid and supplementary groups, and which of the file capabilities
   * (FS_CAPABILITIES) it holds. The host kernel then makes every permission
   * check itself, exactly: DAC, the sticky bit, ownership, setgid inheritance.
   * Every id the gofer takes or gives (these, chown's, statx owners) is one of
   * its user namespace: a mapped sandbox's gofer serves from the sandbox's.
   */
  /**
   * faccessat2(AT_EACCESS | AT_SYMLINK_NOFOLLOW): may the identity the gofer
   * holds (`creds`) read, write or execute path? 0 or EACCES, EROFS, ...
   */
  access: { code: 22, request: [['path', 'path'], ['mode', 'u32']], response: [] },
  /**
   * bind(2) of the socket that comes with the request (the sentry's copy of a
   * program's AF_UNIX socket) at path, whose parent the gofer opens below the
   * root; the new inode gets the identity's owner and the permission bits of
   * the socket's own inode (the sentry sets them from the task's umask, the
   * gofer's being 0). `boundAs` is the
   * address the host kernel recorded for the socket (what getsockname would
   * print), for the sentry to show the program's own path instead.
   */
  bindSocket: {
    code: 23,
    request: [['path', 'path']],
    response: [['boundAs', 'target']],
    takesFd: true,
  },
  /**
   * The socket inode at path as an O_PATH fd, for the sentry to connect or
   * send to (through /proc/self/fd/N): ECONNREFUSED when it is not a socket,
   * EACCES when the identity may not write it (connect's own check).
   */
  socketTarget: { code: 24, request: [['path', 'path']], response: [], carriesFd: true },
  /**
   * The fd ops: a change to the file the fd that comes with the request
   * names (the sentry's borrowed copy of a program's fd), made with the
   * identity's rights, as the program's own call would be: fchmodat2,
   * fchownat and utimensat on (fd, "", AT_EMPTY_PATH | flags), which reach an
   * O_PATH fd too. `flags` is the program's: AT_EMPTY_PATH, maybe with
   * AT_SYMLINK_NOFOLLOW; utimesFd also takes 0, futimens(fd) (the fd itself,
   * with no name: an O_PATH fd is EBADF). Anything else is EINVAL. The file's
   * own mount decides EROFS, as for fchmod(2): the fd need not lie in the tree.
   */
  chmodFd: { code: 25, request: [['mode', 'u32'], ['flags', 'u32']], response: [], takesFd: true },
  /** uid and gid are ids of the gofer's user namespace, as chown's; 0xffffffff leaves one unchanged. */
  chownFd: { code: 26, request: [['uid', 'u32'], ['gid', 'u32'], ['flags', 'u32']], response: [], takesFd: true },
  /** UTIME_NOW / UTIME_OMIT pass through, as utimes'. */
  utimesFd: { code: 27, request: [['atime', 'timespec'], ['mtime', 'timespec'], ['flags', 'u32']], response: [], takesFd: true },
  /**
   * A new open of the object the fd names (the sentry's borrowed copy of a
   * program's fd on a pipe, a deleted file, a memfd...), as a program's
   * open of /proc/<pid>/fd/N is: through the gofer's own /proc/self/fd/<fd>,
   * checked against the identity (the inode's permission bits), with the
   * program's flags (no O_CREAT, O_TMPFILE or O_PATH: EINVAL). The new fd
   * comes back. A FIFO's open never waits here: with no partner it is
   * answered as if opened O_NONBLOCK (the read end opens, the write end is
   * ENXIO); a device is EWOULDBLOCK (its open depends on who opens it).
   */
  reopenFd: { code: 28, request: [['flags', 'u32']], response: [], takesFd: true, carriesFd: true },
  creds: {
    code: 20,
    request: [['fsuid', 'u32'], ['fsgid', 'u32'], ['groups', 'ids'], ['capabilities', 'u64']],
    response: [],
  },
} as const satisfies Record<string, OpSchema>;

export type OpName = keyof typeof OPS;
type FieldsValue<F extends readonly FieldSpec[]> = { -readonly [S in F[number] as S[0]]: KindValues[S[1]] };
export type RequestArgs<N extends OpName> = FieldsValue<(typeof OPS)[N]['request']>;
export type ResponseResult<N extends OpName> = FieldsValue<(typeof OPS)[N]['response']>;
/** Whose credentials the gofer acts with: the `creds` op's fields. */
export type FsIdentity = Readonly<RequestArgs<'creds'>>;
/** Any request, discriminated by `op`. */
export type GoferRequest = { [N in OpName]: { op: N; args: RequestArgs<N> } }[OpName];

export interface DecodedRequest {
  readonly ok: true;
  readonly id: number;
  readonly request: GoferRequest;
}

export interface DecodedResponse<N extends OpName> {
  readonly ok: true;
  readonly id: number;
  /** 0 or a positive errno. */
  readonly errno: number;
  /** Present when errno is 0, or always for resultOnError ops. */
  readonly result: ResponseResult<N> | undefined;
}

export interface DecodeError {
  readonly ok: false;
  /** The errno a server answers a bad request with (EINVAL, ENAMETOOLONG, ENOENT). */
  readonly errno: number;
  readonly reason: string;
  /** From the header, when it could be read: lets the server answer the right request. */
  readonly id: number | undefined;
  readonly opcode: number | undefined;
}

interface OpEntry {
  readonly name: OpName;
  readonly schema: OpSchema;
}
const OP_BY_CODE = new Map<number, OpEntry>();
for (const name of Object.keys(OPS) as OpName[]) {
  const schema: OpSchema = OPS[name];
  OP_BY_CODE.set(schema.code, { name, schema });
}

export function opCode(op: OpName): number {
  return OPS[op].code;
}

/** The op an opcode names, or undefined for an unknown one. */
export function opName(code: number): OpName | undefined {
  return OP_BY_CODE.get(code)?.name;
}

/** Whether the response of `op` with this errno carries the op's result fields. */
export function responseHasResult(op: OpName, errno: number): boolean {
  const schema: OpSchema = OPS[op];
  return errno === 0 || schema.resultOnError === true;
}

/** The fd count a request of `op` must carry. */
export function requestFdCount(op: OpName): number {
  const schema: OpSchema = OPS[op];
  return schema.takesFd === true ? 1 : 0;
}

/** The fd count a response to `op` must carry. */
export function responseFdCount(op: OpName, errno: number): number {
  const schema: OpSchema = OPS[op];
  return errno === 0 && schema.carriesFd === true ? 1 : 0;
}

// ---------------------------------------------------------------------------
// Validation of names, shared by decoding and by anyone who wants to check early.

const SLASH = 0x2f;

/** 0 if `name` can be a path component, else -errno (EINVAL, or ENAMETOOLONG). */
export function validateComponent(name: string): number {
  const length = name.length;
  if (length === 0) return -E.EINVAL;
  if (length > NAME_MAX) return -E.ENAMETOOLONG;
  for (let i = 0; i < length; i++) {
    const c = name.charCodeAt(i);
    if (c === 0 || c === SLASH || c > 0xff) return -E.EINVAL;
  }
  if (name === '.' || name === '..') return -E.EINVAL;
  return 0;
}

/** 0 if `path` is a valid component array, else -errno. */
export function validatePath(path: GoferPath): number {
  if (path.length > MAX_COMPONENTS) return -E.ENAMETOOLONG;
  let joined = 0;
  for (let i = 0; i < path.length; i++) {
    const name = path[i]!;
    const bad = validateComponent(name);
    if (bad !== 0) return bad;
    joined += name.length + (i > 0 ? 1 : 0);
    if (joined > MAX_PATH_BYTES) return -E.ENAMETOOLONG;
  }
  return 0;
}

/** 0 if `target` can be a symlink's target, else -errno (as symlink(2) answers). */
export function validateSymlinkTarget(target: string): number {
  if (target.length === 0) return -E.ENOENT;
  if (target.length > MAX_SYMLINK_TARGET_BYTES) return -E.ENAMETOOLONG;
  for (let i = 0; i < target.length; i++) {
    const c = target.charCodeAt(i);
    if (c === 0 || c > 0xff) return -E.EINVAL;
  }
  return 0;
}

// ---------------------------------------------------------------------------
// Buffers and cursors.

/** A message buffer with its DataView, allocated once per side and reused for every message. */
export class WireBuffer {
  readonly bytes: Uint8Array;
  readonly view: DataView;

  constructor(capacity: number = MAX_MESSAGE_BYTES) {
    this.bytes = new Uint8Array(capacity);
    this.view = new DataView(this.bytes.buffer, this.bytes.byteOffset, this.bytes.byteLength);
  }
}

/** Thrown inside this module only, caught by the decode and encode entry points. */
class WireError {
  constructor(readonly errno: number, readonly reason: string) {}
}

const TWO_POW_32 = 4294967296;
const MIN_SAFE_BIG = BigInt(Number.MIN_SAFE_INTEGER);
const MAX_SAFE_BIG = BigInt(Number.MAX_SAFE_INTEGER);

class Writer {
  private pos = 0;
  constructor(private readonly out: WireBuffer) {}

  get length(): number {
    return this.pos;
  }

  private room(n: number): number {
    const at = this.pos;
    if (at + n > this.out.bytes.length) throw new WireError(E.ENAMETOOLONG, 'message too large');
    this.pos = at + n;
    return at;
  }

  u32(value: unknown, what: string): void {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xffffffff) {
      throw new WireError(E.EINVAL, `${what}: not a u32`);
    }
    this.out.view.setUint32(this.room(4), value, true);
  }

  i32(value: unknown, what: string): void {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < -0x80000000 || value > 0x7fffffff) {
      throw new WireError(E.EINVAL, `${what}: not an i32`);
    }
    this.out.view.setInt32(this.room(4), value, true);
  }

  u64(value: unknown, what: string): void {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
      throw new WireError(E.EINVAL, `${what}: not a u64 number`);
    }
    const at = this.room(8);
    this.out.view.setUint32(at, value >>> 0, true);
    this.out.view.setUint32(at + 4, Math.floor(value / TWO_POW_32), true);
  }

  i64(value: unknown, what: string): void {
    if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
      throw new WireError(E.EINVAL, `${what}: not an i64 number`);
    }
    this.out.view.setBigInt64(this.room(8), BigInt(value), true);
  }

  i64big(value: unknown, what: string): void {
    if (typeof value !== 'bigint' || value < -(1n << 63n) || value >= 1n << 63n) {
      throw new WireError(E.EINVAL, `${what}: not an i64 bigint`);
    }
    this.out.view.setBigInt64(this.room(8), value, true);
  }

  u64big(value: unknown, what: string): void {
    if (typeof value !== 'bigint' || value < 0n || value >= 1n << 64n) {
      throw new WireError(E.EINVAL, `${what}: not a u64 bigint`);
    }
    this.out.view.setBigUint64(this.room(8), value, true);
  }

  u8(value: unknown, what: string): void {
    if (typeof value !== 'number' || !Number.isInteger(value) || value < 0 || value > 0xff) {
      throw new WireError(E.EINVAL, `${what}: not a u8`);
    }
    this.out.bytes[this.room(1)] = value;
  }

  /** u32 length + latin1 bytes. Checks only that it is a byte string: meaning is the decoder's to check. */
  string(value: unknown, what: string): void {
    if (typeof value !== 'string') throw new WireError(E.EINVAL, `${what}: not a string`);
    const length = value.length;
    this.out.view.setUint32(this.room(4), length, true);
    const at = this.room(length);
    const bytes = this.out.bytes;
    for (let i = 0; i < length; i++) {
      const c = value.charCodeAt(i);
      if (c > 0xff) throw new WireError(E.EINVAL, `${what}: not a byte string`);
      bytes[at + i] = c;
    }
  }

  raw(value: unknown, size: number, what: string): void {
    if (!(value instanceof Uint8Array) || value.length !== size) {
      throw new WireError(E.EINVAL, `${what}: not ${size} bytes`);
    }
    this.out.bytes.set(value, this.room(size));
  }

  zeros(size: number): void {
    const at = this.room(size);
    this.out.bytes.fill(0, at, at + size);
  }
}

class Reader {
  private pos = 0;
  constructor(private readonly input: WireBuffer, private readonly end: number) {}

  get remaining(): number {
    return this.end - this.pos;
  }

  private take(n: number, what: string): number {
    const at = this.pos;
    if (n > this.end - at) throw new WireError(E.EINVAL, `${what}: truncated`);
    this.pos = at + n;
    return at;
  }

  u32(what: string): number {
    return this.input.view.getUint32(this.take(4, what), true);
  }

  i32(what: string): number {
    return this.input.view.getInt32(this.take(4, what), true);
  }

  u8(what: string): number {
    return this.input.bytes[this.take(1, what)]!;
  }

  u64(what: string): number {
    const at = this.take(8, what);
    const high = this.input.view.getUint32(at + 4, true);
    if (high > 0x1fffff) throw new WireError(E.EINVAL, `${what}: beyond 2^53`);
    return high * TWO_POW_32 + this.input.view.getUint32(at, true);
  }

  i64(what: string): number {
    const value = this.input.view.getBigInt64(this.take(8, what), true);
    if (value < MIN_SAFE_BIG || value > MAX_SAFE_BIG) throw new WireError(E.EINVAL, `${what}: beyond ±2^53`);
    return Number(value);
  }

  i64big(what: string): bigint {
    return this.input.view.getBigInt64(this.take(8, what), true);
  }

  u64big(what: string): bigint {
    return this.input.view.getBigUint64(this.take(8, what), true);
  }

  /** The byte range of a u32-length-prefixed string of at most `max` bytes. */
  stringBytes(max: number, tooLong: number, what: string): [start: number, length: number] {
    const length = this.u32(what);
    if (length > max) throw new WireError(tooLong, `${what}: longer than ${max} bytes`);
    return [this.take(length, what), length];
  }

  latin1(start: number, length: number): string {
    const bytes = this.input.bytes;
    // Node's 'latin1' maps each byte to the char of the same code, exactly;
    // TextDecoder('latin1') would not (it is really windows-1252).
    return Buffer.from(bytes.buffer, bytes.byteOffset + start, length).toString('latin1');
  }

  raw(size: number, what: string): Uint8Array {
    const at = this.take(size, what);
    return this.input.bytes.slice(at, at + size);
  }
}

// ---------------------------------------------------------------------------
// Field codecs.

function encodeField(w: Writer, kind: FieldKind, value: unknown, what: string): void {
  switch (kind) {
    case 'u32':
      return w.u32(value, what);
    case 'i32':
      return w.i32(value, what);
    case 'u64':
      return w.u64(value, what);
    case 'i64':
      return w.i64(value, what);
    case 'i64big':
      return w.i64big(value, what);
    case 'bool':
      if (typeof value !== 'boolean') throw new WireError(E.EINVAL, `${what}: not a boolean`);
      return w.u32(value ? 1 : 0, what);
    case 'path': {
      if (!Array.isArray(value)) throw new WireError(E.EINVAL, `${what}: not an array`);
      const components: readonly unknown[] = value;
      if (components.length > MAX_COMPONENTS) throw new WireError(E.ENAMETOOLONG, `${what}: too many components`);
      w.u32(components.length, what);
      for (const component of components) w.string(component, what);
      return;
    }
    case 'target':
      return w.string(value, what);
    case 'optTarget':
      if (value === undefined) return w.u32(0, what);
      if (value === '') throw new WireError(E.EINVAL, `${what}: empty target`);
      return w.string(value, what);
    case 'statx':
      return w.raw(value, STATX_SIZE, what);
    case 'statfs':
      return w.raw(value, STATFS_SIZE, what);
    case 'xname':
      return w.string(value, what);
    case 'bytes': {
      if (!(value instanceof Uint8Array) || value.length > MAX_XATTR_BYTES) {
        throw new WireError(E.E2BIG, `${what}: not at most ${MAX_XATTR_BYTES} bytes`);
      }
      w.u32(value.length, what);
      return w.raw(value, value.length, what);
    }
    case 'timespec': {
      if (typeof value !== 'object' || value === null) throw new WireError(E.EINVAL, `${what}: not a timespec`);
      const time = value as Partial<Record<'sec' | 'nsec', unknown>>;
      w.i64big(time.sec, `${what}.sec`);
      w.u32(time.nsec, `${what}.nsec`);
      return;
    }
    case 'ids': {
      if (!Array.isArray(value)) throw new WireError(E.EINVAL, `${what}: not an array`);
      const ids: readonly unknown[] = value;
      if (ids.length > MAX_GROUPS) throw new WireError(E.EINVAL, `${what}: more than ${MAX_GROUPS} ids`);
      w.u32(ids.length, what);
      for (const id of ids) w.u32(id, what);
      return;
    }
    case 'dirents': {
      if (!Array.isArray(value)) throw new WireError(E.EINVAL, `${what}: not an array`);
      const entries: readonly unknown[] = value;
      w.u32(entries.length, what);
      for (const entry of entries) {
        if (typeof entry !== 'object' || entry === null) throw new WireError(E.EINVAL, `${what}: not a dirent`);
        const d = entry as Partial<Record<keyof Dirent, unknown>>;
        w.u64big(d.ino, `${what}.ino`);
        w.i64big(d.off, `${what}.off`);
        w.u8(d.type, `${what}.type`);
        w.string(d.name, `${what}.name`);
      }
      return;
    }
  }
}

/** What a response field is when an error response carries no real value. */
function encodeZero(w: Writer, kind: FieldKind): void {
  switch (kind) {
    case 'statx':
      return w.zeros(STATX_SIZE);
    case 'statfs':
      return w.zeros(STATFS_SIZE);
    case 'u64':
    case 'i64':
    case 'i64big':
      return w.zeros(8);
    case 'timespec':
      return w.zeros(12);
    case 'target':
      throw new WireError(E.EINVAL, 'a target has no zero value');
    case 'xname':
      throw new WireError(E.EINVAL, 'an xattr name has no zero value');
    default:
      // u32, i32, bool, path, optTarget, ids and dirents all read 0 as "zero / empty / none".
      return w.zeros(4);
  }
}

function decodePath(r: Reader, what: string): string[] {
  const count = r.u32(what);
  if (count > MAX_COMPONENTS) throw new WireError(E.ENAMETOOLONG, `${what}: too many components`);
  // Each component takes at least 5 bytes (length + one byte): never allocate for more than the message holds.
  if (count * 5 > r.remaining) throw new WireError(E.EINVAL, `${what}: truncated`);
  const components = new Array<string>(count);
  let joined = 0;
  for (let i = 0; i < count; i++) {
    const [start, length] = r.stringBytes(NAME_MAX, E.ENAMETOOLONG, what);
    const name = r.latin1(start, length);
    const bad = validateComponent(name);
    if (bad !== 0) throw new WireError(-bad, `${what}: bad component`);
    joined += length + (i > 0 ? 1 : 0);
    if (joined > MAX_PATH_BYTES) throw new WireError(E.ENAMETOOLONG, `${what}: longer than ${MAX_PATH_BYTES} bytes`);
    components[i] = name;
  }
  return components;
}

function decodeTarget(r: Reader, optional: boolean, what: string): string | undefined {
  const [start, length] = r.stringBytes(MAX_SYMLINK_TARGET_BYTES, E.ENAMETOOLONG, what);
  if (length === 0 && optional) return undefined;
  const target = r.latin1(start, length);
  const bad = validateSymlinkTarget(target);
  if (bad !== 0) throw new WireError(-bad, `${what}: bad symlink target`);
  return target;
}

function decodeDirents(r: Reader, what: string): Dirent[] {
  const count = r.u32(what);
  if (count * MIN_DIRENT_WIRE_BYTES > r.remaining) throw new WireError(E.EINVAL, `${what}: truncated`);
  const entries = new Array<Dirent>(count);
  for (let i = 0; i < count; i++) {
    const ino = r.u64big(`${what}.ino`);
    const off = r.i64big(`${what}.off`);
    const type = r.u8(`${what}.type`);
    const [start, length] = r.stringBytes(NAME_MAX, E.EINVAL, `${what}.name`);
    const name = r.latin1(start, length);
    // "." and ".." are listed by the host; otherwise names obey component rules.
    if (name !== '.' && name !== '..' && validateComponent(name) !== 0) {
      throw new WireError(E.EINVAL, `${what}: bad entry name`);
    }
    entries[i] = { name, type, ino, off };
  }
  return entries;
}

function decodeField(r: Reader, kind: FieldKind, what: string): KindValues[FieldKind] {
  switch (kind) {
    case 'u32':
      return r.u32(what);
    case 'i32':
      return r.i32(what);
    case 'u64':
      return r.u64(what);
    case 'i64':
      return r.i64(what);
    case 'i64big':
      return r.i64big(what);
    case 'bool': {
      const flag = r.u32(what);
      if (flag > 1) throw new WireError(E.EINVAL, `${what}: not a boolean`);
      return flag === 1;
    }
    case 'path':
      return decodePath(r, what);
    case 'target':
      return decodeTarget(r, false, what)!;
    case 'optTarget':
      return decodeTarget(r, true, what);
    case 'statx':
      return r.raw(STATX_SIZE, what);
    case 'statfs':
      return r.raw(STATFS_SIZE, what);
    case 'xname': {
      const [start, length] = r.stringBytes(MAX_XATTR_NAME_BYTES, E.ERANGE, what);
      const name = r.latin1(start, length);
      if (length === 0 || name.includes('\0')) throw new WireError(E.ERANGE, `${what}: bad xattr name`);
      return name;
    }
    case 'bytes': {
      const length = r.u32(what);
      if (length > MAX_XATTR_BYTES) throw new WireError(E.E2BIG, `${what}: longer than ${MAX_XATTR_BYTES} bytes`);
      return r.raw(length, what);
    }
    case 'timespec':
      return { sec: r.i64big(`${what}.sec`), nsec: r.u32(`${what}.nsec`) };
    case 'dirents':
      return decodeDirents(r, what);
    case 'ids': {
      const count = r.u32(what);
      if (count > MAX_GROUPS) throw new WireError(E.EINVAL, `${what}: more than ${MAX_GROUPS} ids`);
      if (count * 4 > r.remaining) throw new WireError(E.EINVAL, `${what}: truncated`);
      const ids = new Array<number>(count);
      for (let i = 0; i < count; i++) ids[i] = r.u32(what);
      return ids;
    }
  }
}

function decodeFields(r: Reader, fields: readonly FieldSpec[]): Record<string, KindValues[FieldKind]> {
  const values: Record<string, KindValues[FieldKind]> = {};
  for (const [name, kind] of fields) values[name] = decodeField(r, kind, name);
  return values;
}

function header(op: number): number {
  return ((PROTOCOL_VERSION << 16) | op) >>> 0;
}

function asError(e: unknown, id: number | undefined, opcode: number | undefined): DecodeError {
  if (e instanceof WireError) return { ok: false, errno: e.errno, reason: e.reason, id, opcode };
  // Only a bug gets here (the codecs throw nothing else); still an answer, not a crash.
  return { ok: false, errno: E.EINVAL, reason: `internal: ${String(e)}`, id, opcode };
}

// ---------------------------------------------------------------------------
// Entry points.

/**
 * Encodes a request into `out`. Returns the message length, or -errno when
 * the arguments cannot be encoded (not byte strings, wrong types, too large).
 * Component rules are not checked here: the gofer checks them on receipt.
 */
export function encodeRequest<N extends OpName>(out: WireBuffer, id: number, op: N, args: RequestArgs<N>): number {
  const schema: OpSchema = OPS[op];
  const values = args as unknown as Readonly<Record<string, unknown>>;
  const w = new Writer(out);
  try {
    w.u32(header(schema.code), 'header');
    w.u32(id, 'id');
    for (const [name, kind] of schema.request) encodeField(w, kind, values[name], name);
    return w.length;
  } catch (e) {
    if (e instanceof WireError) return -e.errno;
    throw e;
  }
}

/** Decodes and validates a request (the server side). */
export function decodeRequest(input: WireBuffer, length: number): DecodedRequest | DecodeError {
  let id: number | undefined;
  let opcode: number | undefined;
  try {
    if (!Number.isInteger(length) || length < 0 || length > input.bytes.length) {
      throw new WireError(E.EINVAL, 'bad message length');
    }
    const r = new Reader(input, length);
    const word0 = r.u32('header');
    id = r.u32('id');
    opcode = word0 & 0xffff;
    if (word0 >>> 16 !== PROTOCOL_VERSION) throw new WireError(E.EINVAL, `protocol version ${word0 >>> 16}`);
    const entry = OP_BY_CODE.get(opcode);
    if (entry === undefined) throw new WireError(E.EINVAL, `unknown opcode ${opcode}`);
    const args = decodeFields(r, entry.schema.request);
    if (r.remaining !== 0) throw new WireError(E.EINVAL, 'trailing bytes');
    // decodeFields produced exactly the schema's fields for this op.
    const request = { op: entry.name, args } as unknown as GoferRequest;
    return { ok: true, id, request };
  } catch (e) {
    return asError(e, id, opcode);
  }
}

/**
 * Encodes a response. `result` is required when the response carries the op's
 * fields with errno 0; for an error it may be omitted and zeros are sent.
 * Returns the length, or -errno if the result does not fit the schema.
 */
export function encodeResponse<N extends OpName>(
  out: WireBuffer, id: number, op: N, errno: number, result?: ResponseResult<N>,
): number {
  const schema: OpSchema = OPS[op];
  const values = result as unknown as Readonly<Record<string, unknown>> | undefined;
  const w = new Writer(out);
  try {
    if (!Number.isInteger(errno) || errno < 0 || errno > MAX_ERRNO) throw new WireError(E.EINVAL, 'bad errno');
    w.u32(header(schema.code), 'header');
    w.u32(id, 'id');
    w.i32(errno, 'errno');
    if (responseHasResult(op, errno)) {
      if (values === undefined && errno === 0) throw new WireError(E.EINVAL, 'missing result');
      for (const [name, kind] of schema.response) {
        if (values === undefined) encodeZero(w, kind);
        else encodeField(w, kind, values[name], name);
      }
    }
    return w.length;
  } catch (e) {
    if (e instanceof WireError) return -e.errno;
    throw e;
  }
}

/**
 * An error response to a request that could not be decoded: the opcode may be
 * unknown, in which case only the header and errno are sent.
 */
export function encodeErrorResponse(out: WireBuffer, id: number, opcode: number, errno: number): number {
  const name = opName(opcode);
  if (name !== undefined) return encodeResponse(out, id >>> 0, name, errno);
  const w = new Writer(out);
  w.u32(header(opcode & 0xffff), 'header');
  w.u32(id >>> 0, 'id');
  w.i32(errno, 'errno');
  return w.length;
}

/** Decodes the response to a request of `op` (the client side). */
export function decodeResponse<N extends OpName>(
  input: WireBuffer, length: number, op: N,
): DecodedResponse<N> | DecodeError {
  let id: number | undefined;
  let opcode: number | undefined;
  try {
    if (!Number.isInteger(length) || length < 0 || length > input.bytes.length) {
      throw new WireError(E.EINVAL, 'bad message length');
    }
    const schema: OpSchema = OPS[op];
    const r = new Reader(input, length);
    const word0 = r.u32('header');
    id = r.u32('id');
    opcode = word0 & 0xffff;
    if (word0 >>> 16 !== PROTOCOL_VERSION) throw new WireError(E.EINVAL, `protocol version ${word0 >>> 16}`);
    if (opcode !== schema.code) throw new WireError(E.EINVAL, `reply to opcode ${opcode}, not ${schema.code}`);
    const errno = r.i32('errno');
    if (errno < 0 || errno > MAX_ERRNO) throw new WireError(E.EINVAL, `bad errno ${errno}`);
    let result: ResponseResult<N> | undefined;
    if (responseHasResult(op, errno)) {
      // decodeFields produced exactly the schema's response fields for this op.
      result = decodeFields(r, schema.response) as unknown as ResponseResult<N>;
    }
    if (r.remaining !== 0) throw new WireError(E.EINVAL, 'trailing bytes');
    return { ok: true, id, errno, result };
  } catch (e) {
    return asError(e, id, opcode);
  }
}
