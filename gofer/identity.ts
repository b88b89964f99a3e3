// Whose credentials the gofer acts with. The gofer is host root; before it
// touches a file for a task it takes that task's filesystem identity (fsuid,
// fsgid, supplementary groups) and its file capabilities, so that the host
// kernel makes every permission check itself, exactly as it would for the
// task: DAC and the sticky bit, ownership for chmod/chown/utimes, the owner
// and group of what is created, setgid inheritance and its clearing.
//
// All of it is per thread in Linux, and the gofer serves on its main thread
// only. The calls are raw syscalls on purpose: glibc's setgroups() would
// broadcast to every thread of the process (Node's helpers included).
import koffi from 'koffi';
import { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD, E } from '../sentry/abi/linux.js';
import { NR } from '../syscall-tables/index.js';
import { MAX_GROUPS, type FsIdentity } from './protocol.js';

const libc = koffi.load('libc.so.6');
const syscallVariadic: (...args: unknown[]) => number = libc.func('long syscall(long number, ...)');

/**
 * The capabilities that decide file operations, and that the sandbox's root
 * holds in its user namespace with the same effect as the gofer's in the
 * host's (every id is mapped): nothing else is ever made effective for a
 * task. CAP_SYS_ADMIN (trusted.* xattrs) and CAP_LINUX_IMMUTABLE are not
 * here: a sandbox's root does not have them over its files natively either.
 */
export const FS_CAPABILITIES =
  (1 << CAP_CHOWN) | (1 << CAP_DAC_OVERRIDE) | (1 << CAP_DAC_READ_SEARCH) | (1 << CAP_FOWNER) | (1 << CAP_FSETID) | (1 << CAP_MKNOD);


const LINUX_CAPABILITY_VERSION_3 = 0x20080522;
/** struct __user_cap_header_struct {u32 version; i32 pid} */
const capHeader = new Uint8Array(8);
new DataView(capHeader.buffer).setUint32(0, LINUX_CAPABILITY_VERSION_3, true);
/** struct __user_cap_data_struct[2] {u32 effective, permitted, inheritable} */
const capData = new Uint8Array(24);
const capView = new DataView(capData.buffer);

function lastErrno(): number {
  const errno = koffi.errno();
  return errno > 0 ? -errno : -E.EIO;
}

/** The gofer's own capability sets, read once: what it may make effective. */
function ownCapabilities(): { permittedLow: number; permittedHigh: number; inheritableLow: number; inheritableHigh: number } | number {
  if (syscallVariadic(NR.capget, 'void *', capHeader, 'void *', capData) < 0) return lastErrno();
  return {
    permittedLow: capView.getUint32(4, true),
    inheritableLow: capView.getUint32(8, true),
    permittedHigh: capView.getUint32(16, true),
    inheritableHigh: capView.getUint32(20, true),
  };
}

export class Identity {
  private readonly own = ownCapabilities();
  private readonly groupsBuf = new Uint8Array(4 * MAX_GROUPS);
  private readonly groupsView = new DataView(this.groupsBuf.buffer);

  /**
   * Takes on `id` (its capabilities: the task's effective set, of which only
   * FS_CAPABILITIES count). Returns 0 or -errno; on failure the caller must
   * not serve as anyone.
   */
  assume(id: FsIdentity): number {
    if (typeof this.own === 'number') return this.own;
    if (id.groups.length > MAX_GROUPS) return -E.EINVAL;
    // Changing ids needs CAP_SETUID and CAP_SETGID, which the last identity
    // taken may not have left effective: raise everything permitted first.
    let r = this.setEffective(this.own.permittedLow, this.own.permittedHigh);
    if (r < 0) return r;
    id.groups.forEach((g, i) => this.groupsView.setUint32(4 * i, g, true));
    if (syscallVariadic(NR.setgroups, 'int', id.groups.length, 'void *', this.groupsBuf) < 0) return lastErrno();
    // setfs[ug]id answer the previous id, never an error: read back to know it took.
    syscallVariadic(NR.setfsgid, 'uint32_t', id.fsgid);
    if (syscallVariadic(NR.setfsgid, 'uint32_t', 0xffffffff) !== id.fsgid) return -E.EPERM;
    syscallVariadic(NR.setfsuid, 'uint32_t', id.fsuid);
    if (syscallVariadic(NR.setfsuid, 'uint32_t', 0xffffffff) !== id.fsuid) return -E.EPERM;
    // Then only the task's file capabilities stay effective: setfsuid alone
    // would get them wrong for a root that dropped some, or a non-root that
    // holds some.
    r = this.setEffective(id.capabilities & FS_CAPABILITIES & this.own.permittedLow, 0);
    if (r < 0) return r;
    return 0;
  }

  private setEffective(low: number, high: number): number {
    if (typeof this.own === 'number') return this.own;
    capView.setUint32(0, low >>> 0, true);
    capView.setUint32(4, this.own.permittedLow, true);
    capView.setUint32(8, this.own.inheritableLow, true);
    capView.setUint32(12, high >>> 0, true);
    capView.setUint32(16, this.own.permittedHigh, true);
    capView.setUint32(20, this.own.inheritableHigh, true);
    return syscallVariadic(NR.capset, 'void *', capHeader, 'void *', capData) < 0 ? lastErrno() : 0;
  }
}
