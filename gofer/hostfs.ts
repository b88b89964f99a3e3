// The gofer's host file syscalls: plain libc calls through koffi. Every
// function returns >= 0 or -errno, never throws. Paths are NUL-terminated byte
// buffers (CPath), never JS strings, so that any byte a Linux name may hold
// reaches the kernel unchanged.
import koffi from 'koffi';
import { E, F_GETFL, F_SETFL, O_CLOEXEC } from '../sentry/abi/linux.js';
import { NR } from '../syscall-tables/index.js';

const libc = koffi.load('libc.so.6');

// Paths and buffers are passed as 'void *': koffi hands the kernel the
// buffer's own memory, which is only used for the duration of the call.
const syscallVariadic: (...args: unknown[]) => number = libc.func('long syscall(long number, ...)');
const statxFn: (dirfd: number, path: Uint8Array, flags: number, mask: number, out: Uint8Array) => number =
  libc.func('int statx(int dirfd, const void *path, int flags, uint32_t mask, void *out)');
const readlinkatFn: (dirfd: number, path: Uint8Array, out: Uint8Array, size: number) => number =
  libc.func('long readlinkat(int dirfd, const void *path, void *out, size_t size)');
const mkdiratFn: (dirfd: number, path: Uint8Array, mode: number) => number =
  libc.func('int mkdirat(int dirfd, const void *path, uint32_t mode)');
const mknodatFn: (dirfd: number, path: Uint8Array, mode: number, dev: number) => number =
  libc.func('int mknodat(int dirfd, const void *path, uint32_t mode, uint64_t dev)');
const unlinkatFn: (dirfd: number, path: Uint8Array, flags: number) => number =
  libc.func('int unlinkat(int dirfd, const void *path, int flags)');
const renameat2Fn: (oldDirfd: number, oldPath: Uint8Array, newDirfd: number, newPath: Uint8Array, flags: number) => number =
  libc.func('int renameat2(int olddirfd, const void *oldpath, int newdirfd, const void *newpath, uint32_t flags)');
const symlinkatFn: (target: Uint8Array, dirfd: number, path: Uint8Array) => number =
  libc.func('int symlinkat(const void *target, int newdirfd, const void *linkpath)');
const linkatFn: (oldDirfd: number, oldPath: Uint8Array, newDirfd: number, newPath: Uint8Array, flags: number) => number =
  libc.func('int linkat(int olddirfd, const void *oldpath, int newdirfd, const void *newpath, int flags)');
const fchmodatFn: (dirfd: number, path: Uint8Array, mode: number, flags: number) => number =
  libc.func('int fchmodat(int dirfd, const void *path, uint32_t mode, int flags)');
const fchownatFn: (dirfd: number, path: Uint8Array, uid: number, gid: number, flags: number) => number =
  libc.func('int fchownat(int dirfd, const void *path, uint32_t uid, uint32_t gid, int flags)');
const utimensatFn: (dirfd: number, path: Uint8Array, times: Uint8Array, flags: number) => number =
  libc.func('int utimensat(int dirfd, const void *path, const void *times, int flags)');
const ftruncateFn: (fd: number, length: number) => number = libc.func('int ftruncate(int fd, int64_t length)');
const fstatfsFn: (fd: number, out: Uint8Array) => number = libc.func('int fstatfs(int fd, void *out)');
const getdents64Fn: (fd: number, out: Uint8Array, size: number) => number =
  libc.func('long getdents64(int fd, void *out, size_t size)');
const lseekFn: (fd: number, offset: bigint, whence: number) => number | bigint =
  libc.func('int64_t lseek(int fd, int64_t offset, int whence)');
const fcntlVariadic: (...args: unknown[]) => number = libc.func('int fcntl(int fd, int cmd, ...)');
const closeFn: (fd: number) => number = libc.func('int close(int fd)');
const getxattrFn: (path: Uint8Array, name: Uint8Array, value: Uint8Array, size: number) => number =
  libc.func('long getxattr(const void *path, const void *name, void *value, size_t size)');
const listxattrFn: (path: Uint8Array, list: Uint8Array, size: number) => number =
  libc.func('long listxattr(const void *path, void *list, size_t size)');
const setxattrFn: (path: Uint8Array, name: Uint8Array, value: Uint8Array, size: number, flags: number) => number =
  libc.func('int setxattr(const void *path, const void *name, const void *value, size_t size, int flags)');
const removexattrFn: (path: Uint8Array, name: Uint8Array) => number =
  libc.func('int removexattr(const void *path, const void *name)');

/**
 * The -errno of the call that just failed. koffi.errno() reads the thread's
 * live errno, so it must be read right after the call, before anything else
 * runs; a failure that left errno at 0 (never expected) still reads as failure.
 */
function failed(): number {
  const errno = koffi.errno();
  return errno > 0 ? -errno : -E.EIO;
}

function result(ret: number): number {
  return ret < 0 ? failed() : ret;
}

/** A reusable NUL-terminated byte string for path arguments. */
export class CPath {
  readonly bytes: Uint8Array;

  constructor(capacity: number) {
    this.bytes = new Uint8Array(capacity + 1);
  }

  /** Sets components [start, end) joined by '/', or "." when there are none. */
  setComponents(components: readonly string[], start: number, end: number): Uint8Array {
    const bytes = this.bytes;
    let at = 0;
    if (start >= end) {
      bytes[at++] = 0x2e; // "."
    } else {
      for (let i = start; i < end; i++) {
        if (i > start) bytes[at++] = 0x2f; // "/"
        const name = components[i]!;
        for (let j = 0; j < name.length; j++) bytes[at++] = name.charCodeAt(j);
      }
    }
    bytes[at] = 0;
    return bytes;
  }

  /** Sets a byte string (one char per byte) as is. */
  set(text: string): Uint8Array {
    const bytes = this.bytes;
    for (let i = 0; i < text.length; i++) bytes[i] = text.charCodeAt(i);
    bytes[text.length] = 0;
    return bytes;
  }
}

/** The empty path, for AT_EMPTY_PATH calls on an fd. */
export const EMPTY_PATH = new Uint8Array([0]);

// struct open_how { u64 flags; u64 mode; u64 resolve; }: every value we pass fits 32 bits.
const openHow = new Uint8Array(24);
const openHowView = new DataView(openHow.buffer);

/** openat2(2): the only way the gofer opens anything below its root. Always O_CLOEXEC. */
export function openat2(dirfd: number, path: Uint8Array, flags: number, mode: number, resolve: number): number {
  openHowView.setUint32(0, (flags | O_CLOEXEC) >>> 0, true);
  openHowView.setUint32(8, mode >>> 0, true);
  openHowView.setUint32(16, resolve >>> 0, true);
  return result(syscallVariadic(NR.openat2, 'int', dirfd, 'void *', path, 'void *', openHow, 'size_t', 24));
}

export function statx(dirfd: number, path: Uint8Array, flags: number, mask: number, out: Uint8Array): number {
  return result(statxFn(dirfd, path, flags, mask, out));
}

/** readlinkat(2): the target's length in `out` (not NUL-terminated). */
export function readlinkat(dirfd: number, path: Uint8Array, out: Uint8Array): number {
  return result(readlinkatFn(dirfd, path, out, out.length));
}

export function mkdirat(dirfd: number, path: Uint8Array, mode: number): number {
  return result(mkdiratFn(dirfd, path, mode));
}

export function mknodat(dirfd: number, path: Uint8Array, mode: number, dev: number): number {
  return result(mknodatFn(dirfd, path, mode, dev));
}

export function unlinkat(dirfd: number, path: Uint8Array, flags: number): number {
  return result(unlinkatFn(dirfd, path, flags));
}

export function renameat2(oldDirfd: number, oldPath: Uint8Array, newDirfd: number, newPath: Uint8Array, flags: number): number {
  return result(renameat2Fn(oldDirfd, oldPath, newDirfd, newPath, flags));
}

export function symlinkat(target: Uint8Array, dirfd: number, path: Uint8Array): number {
  return result(symlinkatFn(target, dirfd, path));
}

export function linkat(oldDirfd: number, oldPath: Uint8Array, newDirfd: number, newPath: Uint8Array, flags: number): number {
  return result(linkatFn(oldDirfd, oldPath, newDirfd, newPath, flags));
}

/**
 * fchmodat2(2) (Linux 6.6+), which honours AT_SYMLINK_NOFOLLOW: EOPNOTSUPP on
 * a symlink. On an older kernel, glibc's fchmodat does the same by opening
 * the name O_PATH|O_NOFOLLOW and chmodding through /proc/self/fd (which then
 * needs /proc in the gofer's mount namespace).
 */
export function fchmodat(dirfd: number, path: Uint8Array, mode: number, flags: number): number {
  const r = result(syscallVariadic(NR.fchmodat2, 'int', dirfd, 'void *', path, 'uint32_t', mode, 'int', flags));
  if (r !== -E.ENOSYS) return r;
  return result(fchmodatFn(dirfd, path, mode, flags));
}

export function fchownat(dirfd: number, path: Uint8Array, uid: number, gid: number, flags: number): number {
  return result(fchownatFn(dirfd, path, uid >>> 0, gid >>> 0, flags));
}

/** faccessat2(2): mode is R_OK | W_OK | X_OK (or F_OK). */
export function faccessat2(dirfd: number, path: Uint8Array, mode: number, flags: number): number {
  return result(syscallVariadic(NR.faccessat2, 'int', dirfd, 'void *', path, 'int', mode, 'int', flags));
}

/** utimensat(2); `times` is struct timespec[2] (32 bytes). */
export function utimensat(dirfd: number, path: Uint8Array, times: Uint8Array, flags: number): number {
  return result(utimensatFn(dirfd, path, times, flags));
}

export function ftruncate(fd: number, length: number): number {
  return result(ftruncateFn(fd, length));
}

/** fstatfs(2) into `out` (struct statfs, 120 bytes on x86_64). */
export function fstatfs(fd: number, out: Uint8Array): number {
  return result(fstatfsFn(fd, out));
}

/** getdents64(2) (glibc's wrapper): bytes of struct linux_dirent64 in `out`, 0 at the end. */
export function getdents64(fd: number, out: Uint8Array): number {
  return result(getdents64Fn(fd, out, out.length));
}

const SEEK_SET = 0;

/** Seeks a directory to a cookie a previous listing handed out (a d_off). */
export function seekDirectory(fd: number, cookie: bigint): number {
  const ret = lseekFn(fd, cookie, SEEK_SET);
  const negative = typeof ret === 'bigint' ? ret < 0n : ret < 0;
  return negative ? failed() : 0;
}

/** fcntl(F_GETFL): the open file description's status flags. */
export function getStatusFlags(fd: number): number {
  return result(fcntlVariadic(fd, F_GETFL));
}

/** fcntl(F_SETFL). */
export function setStatusFlags(fd: number, flags: number): number {
  return result(fcntlVariadic(fd, F_SETFL, 'int', flags));
}

export function close(fd: number): number {
  return result(closeFn(fd));
}

// Extended attributes, by path. The gofer names an O_PATH fd it holds as
// /proc/self/fd/N: the kernel jumps straight to that object, so no name is
// looked up again (O_PATH fds refuse the f*xattr calls themselves).
export function getxattr(path: Uint8Array, name: Uint8Array, out: Uint8Array): number {
  return result(getxattrFn(path, name, out, out.length));
}

export function listxattr(path: Uint8Array, out: Uint8Array): number {
  return result(listxattrFn(path, out, out.length));
}

export function setxattr(path: Uint8Array, name: Uint8Array, value: Uint8Array, flags: number): number {
  return result(setxattrFn(path, name, value, value.length, flags));
}

export function removexattr(path: Uint8Array, name: Uint8Array): number {
  return result(removexattrFn(path, name));
}
