// The sentry's kernel object: the state every syscall handler works on.
import os from 'node:os';
import type { Logger } from 'pino';
import type { TaskMemory } from '../../platform/platform.js';
import type { MountTable } from '../vfs/mounts.js';
import type { HostView } from '../vfs/lookup.js';
import type { MemoryLimit } from './cgroup.js';
import type { FsIdentity } from '../../gofer/protocol.js';
import { TaskTable, type Task } from './task.js';
import type { NetStack } from '../net/stack.js';

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
  readonly tasks = new TaskTable();
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
  /** Scratch buffer for small copies to and from task memory (never kept across calls). */
  readonly scratch = new Uint8Array(4096);

  constructor(
    readonly memory: TaskMemory,
    readonly mounts: MountTable,
    readonly log: Logger,
    /** Host tgid of the sandbox's pid 1. */
    readonly initHostPid: number,
    /** Reads cwd and fd paths from the host's /proc as the sandbox sees them. */
    readonly hostView: HostView,
    /** The sandbox's memory limit (tsvisor do --memory); null: the host's memory. */
    readonly memoryLimit: MemoryLimit | null = null,
  ) {}

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
