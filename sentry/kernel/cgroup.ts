// A sandbox's resource limits, enforced by the host kernel with cgroups that
// tsvisor creates for the sandbox and removes at its end: `tsvisor do
// --memory SIZE` (the memory controller; the sentry reads the same cgroup's
// accounting to show the limit in /proc/meminfo) and `--pids-limit N` (the
// pids controller: a fork bomb stops at N tasks with EAGAIN, as Linux
// answers at its limit).
//
// Either cgroup version, chosen as runc chooses: v2 when /sys/fs/cgroup is a
// cgroup2 mount (a unified host), else v1 (a hybrid host's controllers are
// its v1 ones). v1: one cgroup per controller, <controller>/tsvisor/<id>.
// v2: one cgroup for everything, tsvisor/<id>, with the controllers it needs
// enabled in tsvisor/'s cgroup.subtree_control; tsvisor uses only the
// controllers the root already hands to its children, and never writes the
// root.
//
// Only cgroups under tsvisor/ (v1: <controller>/tsvisor/) are ever created,
// written or removed here: the host's other cgroups (the machine's own
// supervisor lives in one) are never touched, and nothing is remounted.
import fs from 'node:fs';
import path from 'node:path';
import { PAGE_SIZE } from '../abi/linux.js';

/** Where the cgroup v1 controllers are mounted, one folder each; or, on a unified host, the cgroup2 hierarchy. */
export const CGROUP_V1_ROOT = '/sys/fs/cgroup';
/** cgroup v2: the folder of tsvisor's cgroups, one per sandbox (<id>) or OCI container (oci-<id>). */
export const V2_TSVISOR_DIR = path.join(CGROUP_V1_ROOT, 'tsvisor');
/** statfs's f_type of a cgroup2 mount. */
const CGROUP2_SUPER_MAGIC = 0x63677270;

let version: 1 | 2 | undefined;

/** 2 when /sys/fs/cgroup is cgroup2 (runc's test for a unified host), else 1. */
export function hostCgroupVersion(): 1 | 2 {
  if (version === undefined) {
    try {
      version = fs.statfsSync(CGROUP_V1_ROOT).type === CGROUP2_SUPER_MAGIC ? 2 : 1;
    } catch {
      version = 1;
    }
  }
  return version;
}

/** cgroup v2: the controllers the root hands to its children (its cgroup.subtree_control); tsvisor can use only these. */
export function v2DelegatedControllers(): Set<string> {
  try {
    return new Set(fs.readFileSync(path.join(CGROUP_V1_ROOT, 'cgroup.subtree_control'), 'latin1').trim().split(/\s+/).filter((c) => c !== ''));
  } catch {
    return new Set();
  }
}

/**
 * cgroup v2: makes tsvisor/<name>, with the controllers given enabled for
 * it in tsvisor/'s cgroup.subtree_control (tsvisor/ itself never holds a
 * process, as v2 wants of a cgroup that hands controllers down). what
 * names the setting that wants each controller, for the message when the
 * root does not delegate it.
 */
export function makeV2Cgroup(name: string, controllers: ReadonlyMap<string, string>): string {
  const delegated = v2DelegatedControllers();
  for (const [controller, what] of controllers) {
    if (!delegated.has(controller)) {
      throw new CgroupError(`${what} needs the ${controller} controller, which this host's cgroup v2 root does not hand to its children (${path.join(CGROUP_V1_ROOT, 'cgroup.subtree_control')})`);
    }
  }
  const dir = path.join(V2_TSVISOR_DIR, name);
  try {
    fs.mkdirSync(V2_TSVISOR_DIR, { recursive: true });
    if (controllers.size > 0) fs.writeFileSync(path.join(V2_TSVISOR_DIR, 'cgroup.subtree_control'), [...controllers.keys()].map((c) => `+${c}`).join(' '));
    fs.mkdirSync(dir);
  } catch (err) {
    throw new CgroupError(`cannot create the cgroup ${dir}: ${errnoText(err)}`);
  }
  return dir;
}
/** The controllers tsvisor makes cgroups in. */
export type Controller = 'memory' | 'pids';
const CONTROLLERS: readonly Controller[] = ['memory', 'pids'];
/** A file only a mounted controller of that kind has at its root. */
const CONTROLLER_PROBE: Readonly<Record<Controller, string>> = { memory: 'memory.limit_in_bytes', pids: 'cgroup.procs' };

/** The folder holding one cgroup per running sandbox under a controller; left in place when empty. */
export function tsvisorCgroups(controller: Controller): string {
  return path.join(CGROUP_V1_ROOT, controller, 'tsvisor');
}
/** Where the cgroup v1 memory controller is mounted. */
export const MEMORY_CONTROLLER = path.join(CGROUP_V1_ROOT, 'memory');
/** Where the cgroup v1 pids controller is mounted. */
export const PIDS_CONTROLLER = path.join(CGROUP_V1_ROOT, 'pids');

/**
 * Below this a program cannot even be started (the launcher, the sandbox's
 * init and a dynamic loader need a few MiB): refusing it gives a clear
 * message instead of an OOM kill before the program's first instruction.
 */
export const MIN_MEMORY_LIMIT = 8 * 1024 * 1024;
/** The largest limit the kernel keeps as a number (PAGE_COUNTER_MAX pages is higher; this is JS's exact range). */
const MAX_MEMORY_LIMIT = Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % PAGE_SIZE);

/**
 * The default --pids-limit. Every task counts (a thread too), so it must sit
 * well above what real work uses (a parallel build's compilers, a JVM's or
 * Node's thread pools) while a fork bomb stops far below the host's own
 * limits: it is an eighth of the default pid_max (32768), and close to what
 * systemd gives a service by default (TasksMax=15% of that, 4915). Podman's
 * default is 2048, which large builds have been known to hit.
 */
export const DEFAULT_PIDS_LIMIT = 4096;
/**
 * The launcher, the sandbox's init and the program are tasks of the cgroup
 * before the program runs a line: below this it could not even start.
 */
export const MIN_PIDS_LIMIT = 8;
/** The kernel's own ceiling (PID_MAX_LIMIT, 4M on 64-bit): a pids.max above it is refused. */
const MAX_PIDS_LIMIT = 4 * 1024 * 1024;

const UNIT_SHIFT: Readonly<Record<string, number>> = { '': 0, k: 10, m: 20, g: 30, t: 40 };

/** A memory size on the command line that is not one. */
export class MemorySizeError extends Error {}
/** A --pids-limit on the command line that is not one. */
export class PidsLimitError extends Error {}

/**
 * Parses "512m", "2g", "262144k", "1073741824" (bytes), with an optional
 * "b"/"ib" after the unit ("512MiB", "2GB": powers of 1024 either way, as
 * docker and runc read them). Rounded up to whole pages, as the kernel
 * charges memory in pages.
 */
export function parseMemorySize(text: string): number {
  const m = /^([0-9]+)([kmgt]?)(i?b)?$/i.exec(text.trim());
  if (!m || text.trim() === '' || (m[2] === '' && m[3] !== undefined && m[3].toLowerCase() === 'ib')) {
    throw new MemorySizeError(`--memory: '${text}' is not a size (examples: 512m, 2g, 262144k, 1073741824)`);
  }
  const shift = UNIT_SHIFT[m[2]!.toLowerCase()]!;
  const bytes = Number(m[1]!) * 2 ** shift;
  if (!Number.isSafeInteger(bytes) || bytes > MAX_MEMORY_LIMIT) {
    throw new MemorySizeError(`--memory: '${text}' is too large`);
  }
  if (bytes < MIN_MEMORY_LIMIT) {
    throw new MemorySizeError(`--memory: '${text}' is below the minimum of ${MIN_MEMORY_LIMIT / (1024 * 1024)}m`);
  }
  return Math.ceil(bytes / PAGE_SIZE) * PAGE_SIZE;
}

/** Parses --pids-limit: a whole number of tasks, or "max" for no limit (null). */
export function parsePidsLimit(text: string): number | null {
  if (text === 'max') return null;
  if (!/^[0-9]+$/.test(text)) {
    throw new PidsLimitError(`--pids-limit: '${text}' is not a whole number of processes (or max, for no limit)`);
  }
  const n = Number(text);
  if (n < MIN_PIDS_LIMIT) throw new PidsLimitError(`--pids-limit: '${text}' is below the minimum of ${MIN_PIDS_LIMIT}`);
  if (!Number.isSafeInteger(n) || n > MAX_PIDS_LIMIT) {
    throw new PidsLimitError(`--pids-limit: '${text}' is above the kernel's ceiling of ${MAX_PIDS_LIMIT}`);
  }
  return n;
}

/** What the sentry needs to know of a sandbox's memory limit (plain data: it crosses to the worker). */
export interface MemoryLimit {
  /** The limit as the kernel applies it, in bytes. */
  readonly limitBytes: number;
  /** The sandbox's memory cgroup (memory.usage_in_bytes and memory.stat are read from it). */
  readonly cgroupDir: string;
}

/** Something that went wrong creating or entering the cgroup: a message for the user. */
export class CgroupError extends Error {}

function errnoText(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Whether tsvisor can use the controller here: v1, mounted where tsvisor looks for it; v2, handed down by the root. */
export function hasController(controller: Controller): boolean {
  if (hostCgroupVersion() === 2) return v2DelegatedControllers().has(controller);
  return fs.existsSync(path.join(CGROUP_V1_ROOT, controller, CONTROLLER_PROBE[controller]));
}

/** The limits a sandbox asks for; an absent one makes no cgroup. */
export interface CgroupLimits {
  /** Bytes (already page-rounded by parseMemorySize). */
  readonly memoryBytes?: number;
  /** Tasks (processes and threads). */
  readonly pids?: number;
}

/** The option that asks for a controller, for messages. */
const OPTION_OF: Readonly<Record<Controller, string>> = { memory: '--memory', pids: '--pids-limit' };

/**
 * The cgroups of one sandbox, one per limited controller, from their creation
 * to their removal. The launcher joins every one of them (procsFiles) before
 * it clones the sandbox's pid 1, so the whole sandbox lives in them.
 */
export class SandboxCgroups {
  private constructor(
    private readonly dirs: ReadonlyMap<Controller, string>,
    /** The memory limit as the kernel applied it, or null without --memory. */
    readonly memory: MemoryLimit | null,
    /** cgroup v2 with a cgroup the caller made (an OCI container's): the caller removes it. */
    private readonly owned = true,
  ) {}

  /**
   * Creates the cgroups for the limits given: v1, <controller>/tsvisor/<id>
   * for each; v2, tsvisor/<id>, or the limits go into v2Dir, the caller's
   * cgroup (an OCI container's one cgroup: a process is in one v2 cgroup).
   * Memory is limited on memory and, where the kernel accounts swap, swap is
   * kept from it too (else the program would swap past its limit instead of
   * being stopped at it). All or nothing: on an error the cgroups made so far
   * are removed.
   */
  static create(id: string, limits: CgroupLimits, v2Dir?: string): SandboxCgroups {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new CgroupError(`bad sandbox id '${id}'`);
    if (hostCgroupVersion() === 2) return SandboxCgroups.createV2(id, limits, v2Dir);
    const dirs = new Map<Controller, string>();
    try {
      let memory: MemoryLimit | null = null;
      if (limits.memoryBytes !== undefined) {
        memory = limitMemory(makeCgroup('memory', id, dirs), limits.memoryBytes);
      }
      if (limits.pids !== undefined) writeSetting(makeCgroup('pids', id, dirs), 'pids.max', limits.pids);
      return new SandboxCgroups(dirs, memory);
    } catch (err) {
      for (const dir of dirs.values()) {
        try {
          fs.rmdirSync(dir);
        } catch { /* empty and ours: removed by the next run's sweep at worst */ }
      }
      throw err;
    }
  }

  private static createV2(id: string, limits: CgroupLimits, v2Dir: string | undefined): SandboxCgroups {
    const wanted = new Map<string, string>();
    if (limits.memoryBytes !== undefined) wanted.set('memory', OPTION_OF.memory);
    if (limits.pids !== undefined) wanted.set('pids', OPTION_OF.pids);
    const dir = v2Dir ?? makeV2Cgroup(id, wanted);
    const dirs = new Map<Controller, string>();
    try {
      let memory: MemoryLimit | null = null;
      if (limits.memoryBytes !== undefined) {
        memory = limitMemory(dir, limits.memoryBytes);
        dirs.set('memory', dir);
      }
      if (limits.pids !== undefined) {
        writeSetting(dir, 'pids.max', limits.pids);
        dirs.set('pids', dir);
      }
      return new SandboxCgroups(dirs, memory, v2Dir === undefined);
    } catch (err) {
      if (v2Dir === undefined) removeIfEmpty(dir, true);
      throw err;
    }
  }

  /** The cgroup made under a controller, or undefined. */
  dir(controller: Controller): string | undefined {
    return this.dirs.get(controller);
  }

  /** Writing a pid to each of these moves that process (all its threads) into the sandbox's cgroups. */
  get procsFiles(): string[] {
    return [...new Set(this.dirs.values())].map((dir) => path.join(dir, 'cgroup.procs'));
  }

  /**
   * Removes the cgroups. A cgroup with processes in it cannot be removed
   * (EBUSY): when the launcher exits, the last processes of the sandbox's pid
   * namespace may still be on their way out, so this retries for a while.
   * Returns the cgroups still there.
   */
  async remove(timeoutMs = 5000): Promise<string[]> {
    if (!this.owned) return [];
    const end = Date.now() + timeoutMs;
    let left = [...new Set(this.dirs.values())];
    for (;;) {
      left = left.filter((dir) => !removeIfEmpty(dir, true));
      if (left.length === 0 || Date.now() >= end) return left;
      await new Promise<void>((r) => setTimeout(r, 20));
    }
  }
}

/** mkdir <controller>/tsvisor/<id>, recorded in dirs for the cleanup. */
function makeCgroup(controller: Controller, id: string, dirs: Map<Controller, string>): string {
  if (!hasController(controller)) {
    throw new CgroupError(`${OPTION_OF[controller]} needs the cgroup v1 ${controller} controller at ${path.join(CGROUP_V1_ROOT, controller)}, which this host does not have`);
  }
  const parent = tsvisorCgroups(controller);
  const dir = path.join(parent, id);
  try {
    fs.mkdirSync(parent, { recursive: true });
    fs.mkdirSync(dir);
  } catch (err) {
    throw new CgroupError(`cannot create the ${controller} cgroup ${dir}: ${errnoText(err)}`);
  }
  dirs.set(controller, dir);
  return dir;
}

/** Whether dir is a cgroup v2 cgroup: every v2 cgroup has cgroup.controllers, no v1 one does. */
export function isV2Cgroup(dir: string): boolean {
  return fs.existsSync(path.join(dir, 'cgroup.controllers'));
}

/**
 * Limits a memory cgroup to bytes, with no swap beyond it where the kernel
 * accounts swap (v1: memory+swap at the same value; v2: swap at 0), and
 * returns the limit as the kernel applied it (in whole pages).
 */
function limitMemory(dir: string, bytes: number): MemoryLimit {
  const v2 = isV2Cgroup(dir);
  const limitFile = v2 ? 'memory.max' : 'memory.limit_in_bytes';
  const swapFile = v2 ? 'memory.swap.max' : 'memory.memsw.limit_in_bytes';
  writeSetting(dir, limitFile, bytes);
  if (fs.existsSync(path.join(dir, swapFile))) writeSetting(dir, swapFile, v2 ? 0 : bytes);
  const applied = Number(fs.readFileSync(path.join(dir, limitFile), 'latin1').trim());
  if (!Number.isSafeInteger(applied) || applied <= 0) throw new CgroupError(`${dir}: the kernel reports a memory limit of '${applied}'`);
  return { limitBytes: applied, cgroupDir: dir };
}

function writeSetting(dir: string, file: string, value: number): void {
  try {
    fs.writeFileSync(path.join(dir, file), String(value));
  } catch (err) {
    throw new CgroupError(`cannot set ${file} to ${value} in ${dir}: ${errnoText(err)}`);
  }
}

/** rmdir, which the kernel refuses (EBUSY) for a cgroup that holds a process: true when it is gone. */
function removeIfEmpty(dir: string, goneIsRemoved: boolean): boolean {
  try {
    fs.rmdirSync(dir);
    return true;
  } catch (err) {
    return goneIsRemoved && (err as NodeJS.ErrnoException).code === 'ENOENT';
  }
}

/**
 * A tsvisor killed with -9 leaves its (by then empty) cgroups behind. Removes
 * those whose sandbox is gone (isLive answers for an id), under every
 * controller; rmdir never removes a cgroup that still holds a process, so a
 * sandbox still running is safe even if isLive were wrong.
 */
export function removeStaleCgroups(isLive: (id: string) => boolean): void {
  // v2: one folder for sandboxes and OCI containers, whose oci-<id> cgroups are not a sandbox's to judge.
  const parents = hostCgroupVersion() === 2 ? [V2_TSVISOR_DIR] : CONTROLLERS.map(tsvisorCgroups);
  for (const parent of parents) {
    let names: string[];
    try {
      names = fs.readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!name.startsWith('oci-') && !isLive(name)) removeIfEmpty(path.join(parent, name), false);
    }
  }
}

/** memory.stat's v2 names of the fields /proc/meminfo shows, by their v1 names (which MemoryUsage keeps). */
const V1_NAME_OF_V2_STAT: Readonly<Record<string, string>> = {
  anon: 'rss', file: 'cache', file_mapped: 'mapped_file', anon_thp: 'rss_huge', file_dirty: 'dirty', file_writeback: 'writeback',
};

/** The cgroup's memory accounting, in bytes (v1: memory.usage_in_bytes and memory.stat; v2: memory.current and memory.stat). */
export interface MemoryUsage {
  readonly usage: number;
  /** memory.stat, hierarchical totals where the kernel gives them ("cache" is "total_cache"). */
  readonly stat: ReadonlyMap<string, number>;
}

/**
 * Reads the accounting of a sandbox's memory cgroup; null when it cannot be
 * read (the cgroup is being removed as the sandbox ends).
 */
export function readMemoryUsage(cgroupDir: string): MemoryUsage | null {
  const v2 = isV2Cgroup(cgroupDir);
  let usageText: string;
  let statText: string;
  try {
    usageText = fs.readFileSync(path.join(cgroupDir, v2 ? 'memory.current' : 'memory.usage_in_bytes'), 'latin1');
    statText = fs.readFileSync(path.join(cgroupDir, 'memory.stat'), 'latin1');
  } catch {
    return null;
  }
  const usage = Number(usageText.trim());
  if (!Number.isFinite(usage)) return null;
  const own = new Map<string, number>();
  const total = new Map<string, number>();
  for (const line of statText.split('\n')) {
    const [key, value] = line.split(' ');
    if (key === undefined || value === undefined) continue;
    const n = Number(value);
    if (!Number.isFinite(n)) continue;
    if (v2) own.set(V1_NAME_OF_V2_STAT[key] ?? key, n);
    else if (key.startsWith('total_')) total.set(key.slice('total_'.length), n);
    else own.set(key, n);
  }
  // v1 with use_hierarchy checks the limit against the totals (own plus
  // sub-cgroups), so they are the numbers that match it; v2's are those already.
  for (const [k, v] of total) own.set(k, v);
  return { usage, stat: own };
}
