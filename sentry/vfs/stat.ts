// struct statx is what filesystems hand the VFS (the gofer returns it raw);
// struct stat is what stat/lstat/newfstatat give a program. One converter.
import { S_IFMT, S_IFREG, S_IFDIR, S_IFLNK, S_IFCHR, S_IFBLK, S_IFIFO, S_IFSOCK, STAT_SIZE } from '../abi/linux.js';
import { FileKind } from './filesystem.js';
import type { IdMaps } from '../kernel/idmap.js';

export function statxMode(statx: Uint8Array): number {
  return statx[28]! | (statx[29]! << 8);
}

export function statxSize(statx: Uint8Array): number {
  return new DataView(statx.buffer, statx.byteOffset, statx.byteLength).getUint32(40, true) +
    new DataView(statx.buffer, statx.byteOffset, statx.byteLength).getUint32(44, true) * 4294967296;
}

export function fileKindOfMode(mode: number): FileKind {
  switch (mode & S_IFMT) {
    case S_IFREG: return FileKind.Regular;
    case S_IFDIR: return FileKind.Directory;
    case S_IFLNK: return FileKind.Symlink;
    case S_IFCHR: return FileKind.CharDevice;
    case S_IFBLK: return FileKind.BlockDevice;
    case S_IFIFO: return FileKind.Fifo;
    case S_IFSOCK: return FileKind.Socket;
    default: return FileKind.Missing;
  }
}

/** The kernel's new_encode_dev(): how st_dev and st_rdev pack major and minor. */
function encodeDev(major: number, minor: number): bigint {
  const ma = BigInt(major >>> 0);
  const mi = BigInt(minor >>> 0);
  return (mi & 0xffn) | (ma << 8n) | ((mi & ~0xffn) << 12n);
}

/** Fills `out` (144 bytes) with the struct stat equivalent of a struct statx. */
export function statxToStat(statx: Uint8Array, out: Uint8Array): void {
  const x = new DataView(statx.buffer, statx.byteOffset, statx.byteLength);
  const s = new DataView(out.buffer, out.byteOffset, STAT_SIZE);
  out.fill(0, 0, STAT_SIZE);
  s.setBigUint64(0, encodeDev(x.getUint32(136, true), x.getUint32(140, true)), true); // st_dev
  s.setBigUint64(8, x.getBigUint64(32, true), true); // st_ino
  s.setBigUint64(16, BigInt(x.getUint32(16, true)), true); // st_nlink
  s.setUint32(24, x.getUint16(28, true), true); // st_mode
  s.setUint32(28, x.getUint32(20, true), true); // st_uid
  s.setUint32(32, x.getUint32(24, true), true); // st_gid
  s.setBigUint64(40, encodeDev(x.getUint32(128, true), x.getUint32(132, true)), true); // st_rdev
  s.setBigUint64(48, x.getBigUint64(40, true), true); // st_size
  s.setBigInt64(56, BigInt(x.getUint32(4, true)), true); // st_blksize
  s.setBigUint64(64, x.getBigUint64(48, true), true); // st_blocks
  // atime, mtime, ctime: {i64 sec, u32 nsec} in statx at 64, 112, 96
  const times: Array<[number, number]> = [[64, 72], [112, 88], [96, 104]];
  for (const [from, to] of times) {
    s.setBigInt64(to, x.getBigInt64(from, true), true);
    s.setBigInt64(to + 8, BigInt(x.getUint32(from + 8, true)), true);
  }
}

/** Offsets of the owner's uid and gid in struct statx and in struct stat. */
const STATX_UID = 20;
const STATX_GID = 24;
const STAT_UID = 28;
const STAT_GID = 32;

/** A statx's owner as host ids (what the gofer client and the host's statx give). */
export function statxOwner(statx: Uint8Array): { readonly uid: number; readonly gid: number } {
  const x = new DataView(statx.buffer, statx.byteOffset, statx.byteLength);
  return { uid: x.getUint32(STATX_UID, true), gid: x.getUint32(STATX_GID, true) };
}

/**
 * A statx from inside the sandbox's user namespace (a mapped sandbox's gofer)
 * made like the host's: its owner back in host ids, in place.
 */
export function statxOwnerToHost(statx: Uint8Array, ids: IdMaps): void {
  const v = new DataView(statx.buffer, statx.byteOffset, statx.byteLength);
  v.setUint32(STATX_UID, ids.uid.hostOfShown(v.getUint32(STATX_UID, true)), true);
  v.setUint32(STATX_GID, ids.gid.hostOfShown(v.getUint32(STATX_GID, true)), true);
}

function showOwner(buf: Uint8Array, ids: IdMaps, uidAt: number, gidAt: number): void {
  const v = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  v.setUint32(uidAt, ids.uid.toNs(v.getUint32(uidAt, true)), true);
  v.setUint32(gidAt, ids.gid.toNs(v.getUint32(gidAt, true)), true);
}

/**
 * A struct statx as the program sees it: its owner in the sandbox's user
 * namespace (65534 for an unmapped host id). `statx` itself is left as it
 * is (a walk's statx is kept, in host ids); `out` gets the shown copy.
 */
export function statxShown(statx: Uint8Array, ids: IdMaps, out: Uint8Array): Uint8Array {
  if (ids.uid.isIdentity && ids.gid.isIdentity) return statx;
  out.set(statx.subarray(0, out.length));
  showOwner(out, ids, STATX_UID, STATX_GID);
  return out;
}

/** The same for a struct stat the sentry filled (in place: it is the sentry's scratch buffer). */
export function statShownInPlace(stat: Uint8Array, ids: IdMaps): void {
  if (ids.uid.isIdentity && ids.gid.isIdentity) return;
  showOwner(stat, ids, STAT_UID, STAT_GID);
}
