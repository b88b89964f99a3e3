// Who and where: the uid/gid family, uname and the host name, sysinfo,
// resource limits and getrandom.
import fs from 'node:fs';
import os from 'node:os';
import { native } from '../../native/index.js';
import type { Trap } from '../../platform/platform.js';
import { E, O_CLOEXEC, UTSNAME_FIELD } from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import { readMemoryUsage } from '../kernel/cgroup.js';
import { readCredentials, type Task } from '../kernel/task.js';
import { copyIn, copyOut, copyOutAt } from './args.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

const ids = new Uint8Array(12);
const idsView = new DataView(ids.buffer);

function writeIds(k: Kernel, trap: Trap, a: number, b: number, c: number): SyscallReturn {
  const values = [a, b, c];
  for (let i = 0; i < 3; i++) {
    idsView.setUint32(0, values[i]!, true);
    if (copyOut(k, trap, trap.argPtr(i), ids, 4) < 0) return -E.EFAULT;
  }
  return 0;
}

function getgroups(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const size = trap.argI32(0);
  const groups = t.creds().groups;
  if (size < 0) return -E.EINVAL;
  if (size === 0) return groups.length;
  if (size < groups.length) return -E.EINVAL;
  const buf = new Uint8Array(4 * groups.length);
  const dv = new DataView(buf.buffer);
  groups.forEach((g, i) => dv.setUint32(4 * i, g, true));
  const w = copyOut(k, trap, trap.argPtr(1), buf, buf.length);
  return w < 0 ? w : groups.length;
}

/** set*id runs in the host kernel (the sandbox's user namespace checks it);
 * the sentry forgets what it knew and reads the result when next asked. */
function credsChange(_k: Kernel, t: Task): SyscallReturn {
  t.credsChanged();
  return CONTINUE;
}

function uname(k: Kernel, _t: Task, trap: Trap): SyscallReturn {
  const buf = new Uint8Array(UTSNAME_FIELD * 6);
  const u = k.uts;
  [u.sysname, u.nodename, u.release, u.version, u.machine, u.domainname].forEach((field, i) => {
    buf.set(Buffer.from(field, 'latin1').subarray(0, UTSNAME_FIELD - 1), i * UTSNAME_FIELD);
  });
  return copyOut(k, trap, trap.argPtr(0), buf, buf.length);
}

const HOST_NAME_MAX = 64;

function setUtsName(k: Kernel, t: Task, trap: Trap, field: 'nodename' | 'domainname'): SyscallReturn {
  const len = trap.argI64(1);
  if (len < 0 || len > HOST_NAME_MAX) return -E.EINVAL;
  if (t.creds().euid !== 0) return -E.EPERM;
  const buf = new Uint8Array(len);
  if (copyIn(k, trap, trap.argPtr(0), buf, len) < 0) return -E.EFAULT;
  k.uts[field] = Buffer.from(buf).toString('latin1');
  return 0;
}

/** struct sysinfo (112 bytes on x86_64) from the host's figures. */
function sysinfo(k: Kernel, _t: Task, trap: Trap): SyscallReturn {
  const buf = new Uint8Array(112);
  const dv = new DataView(buf.buffer);
  dv.setBigInt64(0, BigInt(Math.floor(os.uptime())), true);
  os.loadavg().forEach((l, i) => dv.setBigUint64(8 + 8 * i, BigInt(Math.round(l * 65536)), true));
  // With a memory limit (do --memory), the sandbox's own figures, as /proc/meminfo shows them.
  const limit = k.memoryLimit;
  const usage = limit ? readMemoryUsage(limit.cgroupDir) : null;
  const total = limit ? limit.limitBytes : os.totalmem();
  const free = limit ? Math.max(0, limit.limitBytes - (usage?.usage ?? 0)) : os.freemem();
  dv.setBigUint64(32, BigInt(total), true);
  dv.setBigUint64(40, BigInt(free), true);
  dv.setUint16(80, Math.min(k.tasks.size, 0xffff), true);
  dv.setUint32(104, 1, true); // mem_unit
  return copyOut(k, trap, trap.argPtr(0), buf, buf.length);
}

const RLIMIT_NLIMITS = 16;

/**
 * The rlimit calls, in prlimit64's order: copy the new limit in, find the
 * task, check the resource, set, copy the old one out. The sentry calls
 * prlimit with host privileges, so it refuses what the program could not do
 * itself: raising a hard limit.
 */
function limits(
  k: Kernel, trap: Trap, hostPid: number | null, resource: number, newAddr: number | null, oldAddr: number | null,
): SyscallReturn {
  let wanted: Uint8Array | null = null;
  if (newAddr !== null) {
    wanted = new Uint8Array(16);
    if (copyIn(k, trap, newAddr, wanted, 16) < 0) return -E.EFAULT;
  }
  if (hostPid === null) return -E.ESRCH;
  if (resource < 0 || resource >= RLIMIT_NLIMITS) return -E.EINVAL;
  const current = new Uint8Array(16);
  const r = native.prlimit(hostPid, resource, null, current);
  if (r < 0) return r;
  if (wanted) {
    const w = new DataView(wanted.buffer);
    const soft = w.getBigUint64(0, true);
    const hard = w.getBigUint64(8, true);
    if (soft > hard) return -E.EINVAL;
    if (hard > new DataView(current.buffer).getBigUint64(8, true)) return -E.EPERM;
    const s = native.prlimit(hostPid, resource, wanted, null);
    if (s < 0) return s;
  }
  if (oldAddr !== null) return copyOut(k, trap, oldAddr, current, 16);
  return 0;
}

const CAP_SYS_RESOURCE = 24;

/**
 * The host tgid of the process prlimit64 names (0: the caller), or an errno:
 * ESRCH when the sandbox has no such task (find_task_by_vpid() takes any
 * thread's id), EPERM when Linux's check_prlimit_permission() would refuse.
 * The sentry calls prlimit with host privileges, so it makes that check.
 */
function prlimitTarget(k: Kernel, t: Task, pid: number): number {
  if (pid === 0) return t.group.hostTgid;
  const target = k.tasks.resolveNsTid(pid, k.initHostPid);
  if (!target) return -E.ESRCH;
  if (target.hostTgid === t.group.hostTgid) return target.hostTgid;
  const c = t.creds();
  const tc = readCredentials(target.hostTid, k.ids);
  const sameIds = c.uid === tc.euid && c.uid === tc.suid && c.uid === tc.uid &&
    c.gid === tc.egid && c.gid === tc.sgid && c.gid === tc.gid;
  // The sandbox is one user namespace, which owns every task in it: ns_capable() is the effective set.
  if (!sameIds && (c.capEffective & 2 ** CAP_SYS_RESOURCE) === 0) return -E.EPERM;
  return target.hostTgid;
}

function prlimit64(k: Kernel, t: Task, trap: Trap): SyscallReturn {
  const newAddr = trap.argPtr(2);
  const oldAddr = trap.argPtr(3);
  const newPtr = newAddr === 0 ? null : newAddr;
  // Linux copies the new limit in before it looks for the task.
  if (newPtr !== null && copyIn(k, trap, newPtr, new Uint8Array(16), 16) < 0) return -E.EFAULT;
  const target = prlimitTarget(k, t, trap.argI32(0));
  if (target < 0) return target;
  return limits(k, trap, target, trap.argI32(1), newPtr, oldAddr === 0 ? null : oldAddr);
}

const GRND_NONBLOCK = 1;
const GRND_RANDOM = 2;
const GRND_INSECURE = 4;
const GETRANDOM_MAX = 33554431; // Linux returns at most this much per call
const randomChunk = new Uint8Array(65536);

/**
 * The kernel's CSPRNG, which getrandom(2) reads too (/dev/random and
 * /dev/urandom are the same pool since Linux 5.6). Read from its device
 * rather than through node:crypto, whose fifteen modules would load in every
 * sentry thread for this one call.
 */
let urandomFd = -1;
function fillRandom(buf: Uint8Array, n: number): void {
  if (urandomFd < 0) urandomFd = fs.openSync('/dev/urandom', fs.constants.O_RDONLY | O_CLOEXEC);
  for (let got = 0; got < n;) got += fs.readSync(urandomFd, buf, got, n - got, null);
}

function getrandom(k: Kernel, _t: Task, trap: Trap): SyscallReturn {
  const flags = trap.argU32(2);
  if (flags & ~(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE)) return -E.EINVAL;
  if ((flags & GRND_INSECURE) && (flags & GRND_RANDOM)) return -E.EINVAL;
  const len = Math.min(trap.argI64(1) < 0 ? GETRANDOM_MAX : trap.argI64(1), GETRANDOM_MAX);
  const addr = trap.argPtr(0);
  let done = 0;
  while (done < len) {
    const n = Math.min(randomChunk.length, len - done);
    fillRandom(randomChunk, n);
    const w = copyOutAt(k, trap, addr + done, randomChunk, 0, n);
    if (w <= 0) return done > 0 ? done : -E.EFAULT;
    done += w;
    if (w < n) break;
  }
  return done;
}

export const identityHandlers: HandlerTable = {
  getuid: (_k, t) => t.creds().uid,
  geteuid: (_k, t) => t.creds().euid,
  getgid: (_k, t) => t.creds().gid,
  getegid: (_k, t) => t.creds().egid,
  getresuid: (k, t, trap) => {
    const c = t.creds();
    return writeIds(k, trap, c.uid, c.euid, c.suid);
  },
  getresgid: (k, t, trap) => {
    const c = t.creds();
    return writeIds(k, trap, c.gid, c.egid, c.sgid);
  },
  getgroups,
  setuid: credsChange,
  setgid: credsChange,
  setreuid: credsChange,
  setregid: credsChange,
  setresuid: credsChange,
  setresgid: credsChange,
  setgroups: credsChange,
  setfsuid: credsChange,
  setfsgid: credsChange,
  capget: () => CONTINUE,
  capset: credsChange,
  uname,
  sethostname: (k, t, trap) => setUtsName(k, t, trap, 'nodename'),
  setdomainname: (k, t, trap) => setUtsName(k, t, trap, 'domainname'),
  sysinfo,
  prlimit64,
  getrlimit: (k, t, trap) => limits(k, trap, t.group.hostTgid, trap.argI32(0), null, trap.argPtr(1)),
  setrlimit: (k, t, trap) => limits(k, trap, t.group.hostTgid, trap.argI32(0), trap.argPtr(1), null),
  getrandom,
  personality: () => CONTINUE,
};
