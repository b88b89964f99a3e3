// What a mounted filesystem offers the VFS. Paths handed to a filesystem are
// component arrays relative to its root, already free of ".", ".." and
// symlinks in the middle: the VFS resolves those (resolve.ts).
import type { Task } from '../kernel/task.js';

export enum FileKind {
  Missing = 0,
  Regular,
  Directory,
  Symlink,
  CharDevice,
  BlockDevice,
  Fifo,
  Socket,
}

/** Result of walking components from a filesystem's root. */
export interface WalkResult {
  /** How many components exist and were walked. */
  readonly found: number;
  /** 0, or the errno that stopped the walk (ENOENT, ENOTDIR, EACCES...). */
  readonly errno: number;
  /** Kind of component found-1 (or of the root when found is 0). */
  readonly kind: FileKind;
  /** Set when component found-1 is a symlink: the walk stops there. */
  readonly symlinkTarget?: string;
  /** Set for procfs's fd/exe/cwd/root links: what opening them reaches. */
  readonly magic?: MagicLink;
  /** struct statx of component found-1 (256 bytes), when the fs has it at hand. */
  readonly statx?: Uint8Array;
}

/** A /proc magic link: it names an object of a task, not a path. */
export interface MagicLink {
  readonly task: Task;
  /** The fd number for fd/N; -1 for exe, cwd and root. */
  readonly fd: number;
}

/**
 * open()'s answer for an object only the host kernel can open as the program
 * asked: a FIFO opened without O_NONBLOCK, whose open waits for the other end
 * (waiting in the gofer or the sentry would stall every other task), or a
 * character device, whose open depends on the opener (/dev/tty is its
 * terminal; a tty may become its controlling one). The call continues in the
 * kernel, in the sandbox's mount namespace, after the sentry checked the name.
 */
export const OPEN_IN_HOST = -0x40000000;

export interface Filesystem {
  readonly type: string;
  /**
   * open() takes a whole path of plain names and answers ELOOP rather than
   * follow a symlink on it, so the VFS may try it before walking.
   */
  readonly opensWholePaths: boolean;
  /**
   * How long a path one walk() may name: the sum over its components of
   * their length plus one. PATH_MAX when absent; less for a filesystem that
   * puts its mount point in front of every path it sends on (GoferFs).
   */
  readonly pathBudget?: number;
  walk(task: Task, path: readonly string[]): WalkResult;
  /** Opens a fully resolved path. Returns an fd of ours, -errno, or OPEN_IN_HOST. */
  open(task: Task, path: readonly string[], flags: number, mode: number): number;
  /** struct statx of a fully resolved path (not following a final symlink), or -errno. */
  statx(task: Task, path: readonly string[]): Uint8Array | number;
  readonly ops: MutatingOps | null;
  /** Extended attributes; null where the filesystem has none to offer. */
  readonly xattr: XattrOps | null;
  statfs(task: Task, path: readonly string[]): Uint8Array | number;
  /**
   * access(2)'s check of a fully resolved path by the host kernel, for the
   * identity file operations run with; absent where the VFS checks the mode
   * bits itself.
   */
  readonly access?: (path: readonly string[], mode: number) => number;
}

/** Operations that change the tree; each returns 0 or -errno. */
export interface MutatingOps {
  mkdir(path: readonly string[], mode: number): number;
  mknod(path: readonly string[], mode: number, dev: number): number;
  unlink(path: readonly string[], removeDir: boolean): number;
  rename(from: readonly string[], to: readonly string[], flags: number): number;
  symlink(target: string, path: readonly string[]): number;
  link(from: readonly string[], to: readonly string[]): number;
  chmod(path: readonly string[], mode: number): number;
  /** Ids in the sandbox's user namespace (-1 leaves one as it is), already checked to be mapped. */
  chown(path: readonly string[], uid: number, gid: number): number;
  /** Seconds are any i64 (the filesystem clamps them); nsec may be UTIME_NOW or UTIME_OMIT. */
  utimes(path: readonly string[], atimeSec: bigint, atimeNsec: number, mtimeSec: bigint, mtimeNsec: number): number;
  truncate(path: readonly string[], length: number): number;
}

/** Extended attributes of a fully resolved path (never following a final symlink). */
export interface XattrOps {
  /** The whole value, or -errno (ENODATA when absent). */
  get(path: readonly string[], name: string): Uint8Array | number;
  /** The NUL-separated list of names, or -errno. */
  list(path: readonly string[]): Uint8Array | number;
  set(path: readonly string[], name: string, value: Uint8Array, flags: number): number;
  remove(path: readonly string[], name: string): number;
}
