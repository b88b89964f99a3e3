// Tasks: the sentry's record of each thread of the sandbox.
//
// Processes are real host processes in the sandbox's pid namespace, so the
// host kernel owns scheduling, fd numbers, memory and the parent/child tree.
// The sentry learns a task when it first traps (a fork is not answered with
// the child's pid under seccomp notification) and reads what it needs from the
// host's /proc: its thread group, its parent, and its pid in the sandbox's
// namespace (NSpid). Everything a program sees is a namespace pid.
import fs from 'node:fs';
import { native } from '../../native/index.js';
import type { FsIdentity } from '../../gofer/protocol.js';
import { IDENTITY_IDS, type IdMaps } from './idmap.js';

/**
 * A task's credentials. The ids are the program's view, in the sandbox's
 * user namespace (a host id with no mapping shows as 65534); `host` holds
 * host ids, for what the host kernel decides from the host's namespace.
 * `fsIdentity` is in namespace ids too: the gofer of a mapped sandbox serves
 * from a user namespace with the sandbox's maps (native/gofer/main.c), where
 * the kernel takes them (one to one, they are the host's).
 */
export interface Credentials {
  readonly uid: number;
  readonly euid: number;
  readonly suid: number;
  readonly fsuid: number;
  readonly gid: number;
  readonly egid: number;
  readonly sgid: number;
  readonly fsgid: number;
  readonly groups: readonly number[];
  /** The effective and permitted capability sets (bit n: capability n), in the sandbox's user namespace. */
  readonly capEffective: number;
  readonly capPermitted: number;
  /** What the gofer acts with for this task: the file-system side of the above, in namespace ids. */
  readonly fsIdentity: FsIdentity;
  /** The real and effective ids as the host knows them. */
  readonly host: { readonly uid: number; readonly euid: number; readonly gid: number; readonly egid: number; readonly groups: readonly number[] };
}

export class ThreadGroup {
  /** The process's pidfd, opened on first need (pidfd_getfd wants it). */
  private pidfdCache = -1;
  /** Path of the program it executed, as the sandbox sees it. */
  exe: string;
  /** Parent-death signal the program asked for (pid 1 keeps SIGKILL for real). */
  requestedPdeathsig = 0;

  constructor(
    readonly hostTgid: number,
    readonly nsTgid: number,
    public nsParentTgid: number,
    public hostParentTgid: number,
    exe: string,
  ) {
    this.exe = exe;
  }

  pidfd(): number {
    if (this.pidfdCache < 0) this.pidfdCache = native.pidfdOpen(this.hostTgid, 0);
    return this.pidfdCache;
  }

  /** A pidfd of the parent, to learn cheaply (one poll) whether it is gone. */
  private parentPidfd = -1;

  /**
   * True while the parent the sentry knows is alive. A parent can die without
   * trapping (SIGKILL); then its children were reparented and must be re-read.
   */
  parentStillAlive(): boolean {
    if (this.parentPidfd < 0) {
      this.parentPidfd = native.pidfdOpen(this.hostParentTgid, 0);
      if (this.parentPidfd < 0) return false;
    }
    return native.fdReadable(this.parentPidfd) === 0;
  }

  /** Forgets the parent's pidfd (after a reparenting). */
  parentChanged(): void {
    if (this.parentPidfd >= 0) native.close(this.parentPidfd);
    this.parentPidfd = -1;
  }

  release(): void {
    if (this.pidfdCache >= 0) native.close(this.pidfdCache);
    this.pidfdCache = -1;
    this.parentChanged();
  }
}

export class Task {
  private credsCache: Credentials | null = null;

  constructor(
    readonly hostTid: number,
    readonly nsTid: number,
    readonly group: ThreadGroup,
    /** The sandbox's id mappings. */
    readonly ids: IdMaps = IDENTITY_IDS,
  ) {}

  /** The kernel holds the truth (set*id run natively); we re-read after a change. */
  creds(): Credentials {
    if (!this.credsCache) this.credsCache = readCredentials(this.hostTid, this.ids);
    return this.credsCache;
  }

  credsChanged(): void {
    this.credsCache = null;
  }

  /** The task's umask, from the kernel (umask runs natively). */
  umask(): number {
    const status = readStatus(this.hostTid);
    const m = status?.get('Umask');
    return m ? parseInt(m, 8) : 0o022;
  }

  /** The permission bits a file this task creates gets: mode less the umask. */
  creationMode(mode: number): number {
    return mode & ~this.umask() & 0o7777;
  }
}

/** Fields of /proc/<tid>/status, or null if the task is gone. */
export function readStatus(hostTid: number): Map<string, string> | null {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${hostTid}/status`, 'latin1');
  } catch {
    return null;
  }
  const fields = new Map<string, string>();
  for (const line of text.split('\n')) {
    const colon = line.indexOf(':');
    if (colon > 0) fields.set(line.slice(0, colon), line.slice(colon + 1).trim());
  }
  return fields;
}

function numbers(field: string | undefined): number[] {
  if (!field) return [];
  return field.split(/\s+/).filter((s) => s.length > 0).map((s) => Number(s));
}

/** The credentials of any task by host tid, from the kernel (for checks on another task). */
export function readCredentials(hostTid: number, ids: IdMaps): Credentials {
  const st = readStatus(hostTid);
  const [uid = 0, euid = 0, suid = 0, fsuid = 0] = numbers(st?.get('Uid'));
  const [gid = 0, egid = 0, sgid = 0, fsgid = 0] = numbers(st?.get('Gid'));
  const groups = numbers(st?.get('Groups'));
  // Capabilities reach bit 40: a JS number holds them exactly.
  const capEffective = Number.parseInt(st?.get('CapEff') ?? '0', 16) || 0;
  const capPermitted = Number.parseInt(st?.get('CapPrm') ?? '0', 16) || 0;
  // The host's /proc shows host ids; the program sees them through the namespace's maps.
  const u = (id: number): number => ids.uid.toNs(id);
  const g = (id: number): number => ids.gid.toNs(id);
  return {
    uid: u(uid), euid: u(euid), suid: u(suid), fsuid: u(fsuid),
    gid: g(gid), egid: g(egid), sgid: g(sgid), fsgid: g(fsgid), groups: groups.map(g),
    capEffective, capPermitted,
    fsIdentity: { fsuid: u(fsuid), fsgid: g(fsgid), groups: groups.map(g), capabilities: capEffective },
    host: { uid, euid, gid, egid, groups },
  };
}

/** The table of live tasks, keyed by host tid. */
export class TaskTable {
  private readonly tasks = new Map<number, Task>();
  /** The sandbox's id mappings, which every task's credentials are read through. */
  readonly ids: IdMaps;
  private readonly groups = new Map<number, ThreadGroup>();
  private registeredSinceSweep = 0;

  constructor(ids: IdMaps = IDENTITY_IDS) {
    this.ids = ids;
  }

  get size(): number {
    return this.tasks.size;
  }

  /** The task for a trapping host tid, learned from /proc on first sight. */
  get(hostTid: number): Task | null {
    const known = this.tasks.get(hostTid);
    if (known) return known;
    return this.learn(hostTid);
  }

  groupByNsPid(nsPid: number): ThreadGroup | undefined {
    for (const g of this.groups.values()) if (g.nsTgid === nsPid) return g;
    return undefined;
  }

  /**
   * The host tid and tgid of a thread the sandbox names by its namespace tid
   * (what Linux's find_task_by_vpid() finds), or null if there is none. A
   * task that has not trapped yet (a child that only just forked) is not in
   * the table: then the sandbox's process tree is walked from its init
   * (rootHostPid), through each thread's children list in the host's /proc,
   * so only the sandbox's own processes can ever be found.
   */
  resolveNsTid(nsTid: number, rootHostPid: number): { hostTid: number; hostTgid: number } | null {
    if (nsTid <= 0) return null;
    for (const t of this.tasks.values()) {
      if (t.nsTid === nsTid && fs.existsSync(`/proc/${t.hostTid}`)) return { hostTid: t.hostTid, hostTgid: t.group.hostTgid };
    }
    const seen = new Set<number>();
    const queue = [rootHostPid];
    while (queue.length > 0) {
      const pid = queue.shift()!;
      if (seen.has(pid)) continue;
      seen.add(pid);
      let tids: string[];
      try {
        tids = fs.readdirSync(`/proc/${pid}/task`);
      } catch {
        continue; // gone meanwhile
      }
      for (const tidName of tids) {
        const tid = Number(tidName);
        const nsPids = numbers(readStatus(tid)?.get('NSpid'));
        if (pid !== rootHostPid && nsPids[nsPids.length - 1] === nsTid) return { hostTid: tid, hostTgid: pid };
        try {
          for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'latin1').split(' ')) {
            if (c.trim() !== '') queue.push(Number(c));
          }
        } catch {
          // the thread ended meanwhile
        }
      }
    }
    return nsTid === 1 ? { hostTid: rootHostPid, hostTgid: rootHostPid } : null;
  }

  allGroups(): IterableIterator<ThreadGroup> {
    return this.groups.values();
  }

  private learn(hostTid: number): Task | null {
    const st = readStatus(hostTid);
    if (!st) return null;
    const hostTgid = Number(st.get('Tgid'));
    const nsPids = numbers(st.get('NSpid'));
    const nsTgids = numbers(st.get('NStgid'));
    const nsTid = nsPids[nsPids.length - 1] ?? hostTid;
    let group = this.groups.get(hostTgid);
    if (!group) {
      const hostParent = Number(st.get('PPid'));
      const parent = this.groups.get(hostParent);
      // Outside the sandbox (the launcher) the parent is 0, as Linux shows pid 1's parent.
      const nsParent = parent ? parent.nsTgid : nsParentFromHost(hostParent);
      const exe = parent ? parent.exe : '';
      group = new ThreadGroup(hostTgid, nsTgids[nsTgids.length - 1] ?? hostTgid, nsParent, hostParent, exe);
      this.groups.set(hostTgid, group);
    }
    const task = new Task(hostTid, nsTid, group, this.ids);
    this.tasks.set(hostTid, task);
    if (++this.registeredSinceSweep >= 256) this.sweep();
    return task;
  }

  /** A thread ended (exit). */
  threadExited(task: Task): void {
    this.tasks.delete(task.hostTid);
  }

  /** A whole thread group ended (exit_group): its children are reparented. */
  groupExited(group: ThreadGroup): void {
    for (const [tid, t] of this.tasks) if (t.group === group) this.tasks.delete(tid);
    this.groups.delete(group.hostTgid);
    group.release();
    for (const g of this.groups.values()) {
      if (g.hostParentTgid === group.hostTgid) this.refreshParent(g);
    }
  }

  /** Re-reads who a group's parent is now (after reparenting). */
  refreshParent(group: ThreadGroup): void {
    const st = readStatus(group.hostTgid);
    if (!st) return;
    const hostParent = Number(st.get('PPid'));
    group.hostParentTgid = hostParent;
    group.parentChanged();
    const parent = this.groups.get(hostParent);
    group.nsParentTgid = parent ? parent.nsTgid : nsParentFromHost(hostParent);
  }

  /** Drops tasks killed without trapping exit (a SIGKILL never traps). */
  private sweep(): void {
    this.registeredSinceSweep = 0;
    for (const tid of this.tasks.keys()) {
      if (!fs.existsSync(`/proc/${tid}`)) this.tasks.delete(tid);
    }
    const live = new Set<ThreadGroup>();
    for (const t of this.tasks.values()) live.add(t.group);
    for (const [tgid, g] of this.groups) {
      if (live.has(g)) continue;
      this.groups.delete(tgid);
      g.release();
    }
  }
}

/** A parent the sentry has not seen trap: ask the host for its namespace pid. */
function nsParentFromHost(hostParent: number): number {
  const st = readStatus(hostParent);
  const ns = numbers(st?.get('NSpid'));
  // One level only: the parent is outside the sandbox (pid 1's launcher).
  return ns.length >= 2 ? ns[ns.length - 1]! : 0;
}
