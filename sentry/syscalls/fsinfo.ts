// The obsolete calls that name filesystems rather than files: sysfs(2)
// (filesystem types by index) and ustat(2) (a mounted filesystem by device
// number). Both are answered from what the sandbox itself can see.
import fs from 'node:fs';
import type { Trap } from '../../platform/platform.js';
import { E } from '../abi/linux.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { parseMountInfo } from '../vfs/mountinfo.js';
import { copyOut, readString } from './args.js';
import { CONTINUE, type HandlerTable, type SyscallReturn } from './types.js';

/**
 * The kernel's registered filesystem types, in registration order (sysfs's
 * index order). The sandbox runs on the host's kernel, so its list is the
 * host's, as /proc/filesystems shows the sandbox too.
 */
function filesystemTypes(): string[] {
  const text = fs.readFileSync('/proc/filesystems', 'latin1');
  return text.split('\n').filter((l) => l.length > 0).map((l) => l.slice(l.indexOf('\t') + 1));
}

const SYSFS_INDEX_OF_NAME = 1;
const SYSFS_NAME_OF_INDEX = 2;
const SYSFS_COUNT = 3;
/** getname()'s limit on the name argument. */
const NAME_LIMIT = 4095;

function sysfs(k: Kernel, _t: Task, trap: Trap): SyscallReturn {
  const option = trap.argI32(0);
  switch (option) {
    case SYSFS_INDEX_OF_NAME: {
      const name = readString(k, trap, 1, NAME_LIMIT);
      if (typeof name === 'number') return name;
      const index = filesystemTypes().indexOf(name);
      return index < 0 ? -E.EINVAL : index;
    }
    case SYSFS_NAME_OF_INDEX: {
      const types = filesystemTypes();
      const index = trap.argU32(1);
      if (index >= types.length) return -E.EINVAL;
      const bytes = Buffer.from(`${types[index]!}\0`, 'latin1');
      return copyOut(k, trap, trap.argPtr(2), bytes, bytes.length);
    }
    case SYSFS_COUNT:
      return filesystemTypes().length;
    default:
      return -E.EINVAL;
  }
}

/** new_decode_dev(): the 32-bit device number ustat takes, as major:minor. */
function decodeDev(dev: number): string {
  const major = (dev & 0xfff00) >>> 8;
  const minor = (dev & 0xff) | ((dev >>> 12) & 0xfff00);
  return `${major}:${minor}`;
}

/**
 * ustat: only a device mounted in the sandbox is known to it (EINVAL
 * otherwise, as for a device nothing has mounted). The kernel then fills
 * struct ustat itself.
 */
function ustat(k: Kernel, _t: Task, trap: Trap): SyscallReturn {
  const wanted = decodeDev(trap.argU32(0));
  let mountinfo: string;
  try {
    mountinfo = fs.readFileSync(`/proc/${k.initHostPid}/mountinfo`, 'latin1');
  } catch {
    return -E.EINVAL;
  }
  const mounted = parseMountInfo(mountinfo).some((m) => m.device === wanted);
  return mounted ? CONTINUE : -E.EINVAL;
}

export const fsinfoHandlers: HandlerTable = { sysfs, ustat };
