// The sentry's kernel object: the state every syscall handler works on.
import os from 'node:os';
import type { Log } from '../log.js';
import type { TaskMemory } from '../../platform/platform.js';
import type { MountTable } from '../vfs/mounts.js';
import type { HostView } from '../vfs/lookup.js';
import type { MemoryLimit } from './cgroup.js';
import type { FsIdentity } from '../../gofer/protocol.js';
import { TaskTable, type Task } from './task.js';
import { IDENTITY_IDS, type IdMaps } from './idmap.js';
import type { NetStack } from '../net/stack.js';
import type { GoferClient } from '../../gofer/client.js';

/** The sandbox's UTS namespace, as uname(2) reports it. */
export interface Uts {
  sysname: string;
  nodename: string;
  release: string;
  version: string;
  machine: string;
  domainname: string;
}

export class Kernel {
  readonly tasks: TaskTable;
  readonly uts: Uts = {
    sysname: 'Linux',
    nodename: os.hostname(),
    release: os.release(),
    version: os.version(),
    machine: 'x86_64',
    domainname: '(none)',
  };
  /**
   * The task whose syscall is being handled (Linux's `current`): file
   * operations run with its credentials. null between traps.
   */
  current: Task | null = null;
  /** Set for the length of one check that runs as other ids than the task's (access(2)). */
  private identityOverride: FsIdentity | null = null;
  /** The socket subsystem (sentry/net/); null where a kernel is built without one (unit tests). */
  net: NetStack | null = null;
  /**
   * The gofer, for changes to a file the program names by fd (fchmodat2 with
   * AT_EMPTY_PATH and the like): it makes them with the task's identity, so
   * that the host kernel checks them. null where a kernel is built without
   * one: those calls are then EPERM.
   */
  gofer: GoferClient | null = null;
  /** Scratch buffer for small copies to and from task memory (never kept across calls). */
  readonly scratch = new Uint8Array(4096);

  constructor(
    readonly memory: TaskMemory,
    readonly mounts: MountTable,
    readonly log: Log,
    /** Host tgid of the sandbox's pid 1. */
    readonly initHostPid: number,
    /** Reads cwd and fd paths from the host's /proc as the sandbox sees them. */
    readonly hostView: HostView,
    /** The sandbox's memory limit (tsvisor do --memory); null: the host's memory. */
    readonly memoryLimit: MemoryLimit | null = null,
    /** The sandbox's user namespace id mappings (OCI linux.uidMappings); default: one to one. */
    readonly ids: IdMaps = IDENTITY_IDS,
  ) {
    this.tasks = new TaskTable(ids);
  }

  /** The identity file operations run with now: current's, unless a check overrides it. */
  fsIdentity(): FsIdentity | undefined {
    return this.identityOverride ?? this.current?.creds().fsIdentity;
  }

  /** Runs fn with file operations done as `identity` (override_creds() in Linux). */
  withIdentity<T>(identity: FsIdentity, fn: () => T): T {
    const saved = this.identityOverride;
    this.identityOverride = identity;
    try {
      return fn();
    } finally {
      this.identityOverride = saved;
    }
  }
}
