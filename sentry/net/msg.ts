// Copying an outgoing message out of the task: struct msghdr, its iovecs
// (gathered into one buffer of ours) and its control messages, whose fds
// (SCM_RIGHTS) become the sentry's copies of the same open files and whose
// credentials (SCM_CREDENTIALS) are checked as Linux checks the sender's and
// put in the host's pid namespace. Everything is copied once; the kernel
// then works on these copies only.
import { native } from '../../native/index.js';
import { E } from '../abi/linux.js';
import type { TaskMemory } from '../../platform/platform.js';
import type { Task } from '../kernel/task.js';
import {
  CAP_SETGID, CAP_SETUID, CAP_SYS_ADMIN, CMSG_ALIGN, CMSG_HDR, IOVEC_SIZE, IPPROTO_IP, IPPROTO_IPV6, IPV6_2292RTHDR, IPV6_RTHDR,
  IP_RETOPTS, MSGHDR_SIZE, MSG_CONTROL, MSG_CONTROLLEN, MSG_IOV, MSG_IOVLEN, MSG_NAME, MSG_NAMELEN, SCM_CREDENTIALS, SCM_RIGHTS,
  SOCKADDR_MAX, SOL_SOCKET, UIO_MAXIOV,
} from './abi.js';

/** The most bytes one send copies; a stream send of more goes out in parts. */
export const MAX_SEND_BYTES = 4 << 20;
/** Linux's net.core.optmem_max default: a larger control buffer is ENOBUFS. */
const MAX_CONTROL_BYTES = 131072;
/** SCM_MAX_FD. */
const MAX_FDS = 253;
const UCRED_SIZE = 12;

export interface MsgHeader {
  readonly namePtr: number;
  readonly nameLen: number;
  readonly iovPtr: number;
  readonly iovLen: number;
  readonly controlPtr: number;
  readonly controlLen: number;
}

function u64(dv: DataView, at: number): number {
  const hi = dv.getUint32(at + 4, true);
  return hi >= 0x200000 ? Infinity : hi * 0x100000000 + dv.getUint32(at, true);
}

/** The msghdr at addr, checked as copy_msghdr_from_user() checks it. */
export function readMsgHeader(memory: TaskMemory, tid: number, addr: number): MsgHeader | number {
  const raw = new Uint8Array(MSGHDR_SIZE);
  if (addr <= 0 || memory.read(tid, addr, raw, 0, MSGHDR_SIZE) !== MSGHDR_SIZE) return -E.EFAULT;
  const dv = new DataView(raw.buffer);
  const namePtr = u64(dv, MSG_NAME);
  let nameLen = dv.getInt32(MSG_NAMELEN, true);
  if (namePtr === 0) nameLen = 0;
  if (nameLen < 0) return -E.EINVAL;
  nameLen = Math.min(nameLen, SOCKADDR_MAX);
  const iovLen = u64(dv, MSG_IOVLEN);
  if (iovLen > UIO_MAXIOV) return -E.EMSGSIZE;
  const controlLen = u64(dv, MSG_CONTROLLEN);
  if (controlLen > 0x7fffffff) return -E.ENOBUFS;
  return { namePtr, nameLen, iovPtr: u64(dv, MSG_IOV), iovLen, controlPtr: u64(dv, MSG_CONTROL), controlLen };
}

/** Copies in an address of len bytes (len already within 0..SOCKADDR_MAX). */
export function readAddress(memory: TaskMemory, tid: number, addr: number, len: number): Uint8Array | number {
  const out = new Uint8Array(SOCKADDR_MAX);
  if (len === 0) return out;
  if (addr <= 0 || memory.read(tid, addr, out, 0, len) !== len) return -E.EFAULT;
  return out;
}

/** A task buffer described by its pieces (one for sendto, the iovecs for sendmsg). */
export interface Segments {
  readonly addrs: readonly number[];
  readonly lens: readonly number[];
  readonly total: number;
}

/** The iovec array, as import_iovec() takes it (EFAULT, EINVAL for a total past ssize_t). */
export function readIovecs(memory: TaskMemory, tid: number, iovPtr: number, iovLen: number): Segments | number {
  if (iovLen === 0) return { addrs: [], lens: [], total: 0 };
  const raw = new Uint8Array(iovLen * IOVEC_SIZE);
  if (iovPtr <= 0 || memory.read(tid, iovPtr, raw, 0, raw.length) !== raw.length) return -E.EFAULT;
  const dv = new DataView(raw.buffer);
  const addrs: number[] = [];
  const lens: number[] = [];
  let total = 0;
  for (let i = 0; i < iovLen; i++) {
    const len = u64(dv, i * IOVEC_SIZE + 8);
    if (len > 0x7fffffff) return -E.EINVAL;
    addrs.push(u64(dv, i * IOVEC_SIZE));
    lens.push(len);
    total += len;
  }
  return { addrs, lens, total };
}

/**
 * Bytes [offset, offset + max) of the segments, copied out of the task;
 * -EFAULT when a piece cannot be read.
 */
export function gather(memory: TaskMemory, tid: number, seg: Segments, offset: number, max: number): Uint8Array | number {
  const want = Math.max(0, Math.min(max, seg.total - offset));
  const out = new Uint8Array(want);
  let skip = offset;
  let at = 0;
  for (let i = 0; i < seg.addrs.length && at < want; i++) {
    const len = seg.lens[i]!;
    if (skip >= len) {
      skip -= len;
      continue;
    }
    const n = Math.min(len - skip, want - at);
    const base = seg.addrs[i]!;
    if (base <= 0 || memory.read(tid, base + skip, out, at, n) !== n) return -E.EFAULT;
    at += n;
    skip = 0;
  }
  return out;
}

/** A control buffer ready for the sentry's sendmsg, and the fds to close after it. */
export interface Control {
  readonly bytes: Uint8Array | null;
  readonly fds: readonly number[];
}

export function closeControl(c: Control): void {
  for (const fd of c.fds) native.close(fd);
}

function hasCap(capEffective: number, cap: number): boolean {
  return Math.floor(capEffective / 2 ** cap) % 2 === 1;
}

/**
 * The task's control messages with SCM_RIGHTS fds turned into ours and
 * SCM_CREDENTIALS checked and moved to host pids; on an AF_UNIX socket
 * without credentials of its own, the task's are added, so that a receiver
 * with SO_PASSCRED sees the sending task, not the sentry. Routing headers
 * and source routes are refused (EPERM) when `noRouting` (an egress policy
 * is in force: they would pick the next hop past the checked destination).
 */
export function readControl(
  memory: TaskMemory, t: Task, ptr: number, len: number, unix: boolean, noRouting: boolean,
): Control | number {
  if (len > MAX_CONTROL_BYTES) return -E.ENOBUFS;
  const raw = new Uint8Array(len);
  if (len > 0 && (ptr <= 0 || memory.read(t.hostTid, ptr, raw, 0, len) !== len)) return -E.EFAULT;
  const dv = new DataView(raw.buffer);
  const out: Uint8Array[] = [];
  const fds: number[] = [];
  let sawCreds = false;
  const fail = (errno: number): number => {
    for (const fd of fds) native.close(fd);
    return -errno;
  };
  let at = 0;
  while (at + CMSG_HDR <= len) {
    const cmsgLen = u64(dv, at);
    if (cmsgLen < CMSG_HDR || cmsgLen > len - at) return fail(E.EINVAL);
    const level = dv.getInt32(at + 8, true);
    const type = dv.getInt32(at + 12, true);
    const dataLen = cmsgLen - CMSG_HDR;
    if (level === SOL_SOCKET && type === SCM_RIGHTS) {
      const n = Math.floor(dataLen / 4);
      if (n > MAX_FDS) return fail(E.EINVAL);
      const mine = new Uint8Array(CMSG_ALIGN(CMSG_HDR + 4 * n));
      const mdv = new DataView(mine.buffer);
      mdv.setUint32(0, CMSG_HDR + 4 * n, true);
      mdv.setInt32(8, SOL_SOCKET, true);
      mdv.setInt32(12, SCM_RIGHTS, true);
      const pidfd = t.group.pidfd();
      for (let i = 0; i < n; i++) {
        const theirs = dv.getInt32(at + CMSG_HDR + 4 * i, true);
        const fd = theirs < 0 || pidfd < 0 ? -E.EBADF : native.pidfdGetfd(pidfd, theirs);
        if (fd < 0) return fail(E.EBADF);
        fds.push(fd);
        mdv.setInt32(CMSG_HDR + 4 * i, fd, true);
      }
      out.push(mine);
    } else if (level === SOL_SOCKET && type === SCM_CREDENTIALS) {
      if (dataLen !== UCRED_SIZE) return fail(E.EINVAL);
      const pid = dv.getInt32(at + CMSG_HDR, true);
      const uid = dv.getUint32(at + CMSG_HDR + 4, true);
      const gid = dv.getUint32(at + CMSG_HDR + 8, true);
      const c = t.creds();
      // scm_check_creds(): one's own pid unless CAP_SYS_ADMIN, ids the namespace maps (else EINVAL),
      // one's own ids unless CAP_SETUID / CAP_SETGID.
      if (pid !== t.group.nsTgid && !hasCap(c.capEffective, CAP_SYS_ADMIN)) return fail(E.EPERM);
      const hostUid = t.ids.uid.toHost(uid);
      const hostGid = t.ids.gid.toHost(gid);
      if (hostUid < 0 || hostGid < 0) return fail(E.EINVAL);
      if (uid !== c.uid && uid !== c.euid && uid !== c.suid && !hasCap(c.capEffective, CAP_SETUID)) return fail(E.EPERM);
      if (gid !== c.gid && gid !== c.egid && gid !== c.sgid && !hasCap(c.capEffective, CAP_SETGID)) return fail(E.EPERM);
      // Only the task's own pid is known on the host side; another (CAP_SYS_ADMIN) is ESRCH.
      if (pid !== t.group.nsTgid) return fail(E.ESRCH);
      // The sentry sends in the host's namespace: host ids, which the receiver's kernel shows in its own.
      out.push(credentialsMessage(t.group.hostTgid, hostUid, hostGid));
      sawCreds = true;
    } else if (noRouting && ((level === IPPROTO_IP && type === IP_RETOPTS) || (level === IPPROTO_IPV6 && (type === IPV6_RTHDR || type === IPV6_2292RTHDR)))) {
      return fail(E.EPERM);
    } else {
      const copy = new Uint8Array(CMSG_ALIGN(cmsgLen));
      copy.set(raw.subarray(at, at + cmsgLen));
      out.push(copy);
    }
    at += CMSG_ALIGN(cmsgLen);
  }
  if (unix && !sawCreds) {
    const c = t.creds();
    out.push(credentialsMessage(t.group.hostTgid, c.host.uid, c.host.gid));
  }
  if (out.length === 0) return { bytes: null, fds };
  const bytes = new Uint8Array(out.reduce((n, b) => n + b.length, 0));
  let o = 0;
  for (const b of out) {
    bytes.set(b, o);
    o += b.length;
  }
  return { bytes, fds };
}

function credentialsMessage(hostPid: number, uid: number, gid: number): Uint8Array {
  const m = new Uint8Array(CMSG_ALIGN(CMSG_HDR + UCRED_SIZE));
  const dv = new DataView(m.buffer);
  dv.setUint32(0, CMSG_HDR + UCRED_SIZE, true);
  dv.setInt32(8, SOL_SOCKET, true);
  dv.setInt32(12, SCM_CREDENTIALS, true);
  dv.setInt32(16, hostPid, true);
  dv.setUint32(20, uid, true);
  dv.setUint32(24, gid, true);
  return m;
}
