// A sandbox's resource limits, enforced by the host kernel with cgroup v1
// cgroups that tsvisor creates for the sandbox (one per controller, all named
// after the sandbox) and removes at its end: `tsvisor do --memory SIZE` (the
// memory controller; the sentry reads the same cgroup's accounting to show
// the limit in /proc/meminfo) and `--pids-limit N` (the pids controller: a
// fork bomb stops at N tasks with EAGAIN, as Linux answers at its limit).
//
// Only cgroups under <controller>/tsvisor/ are ever created, written or
// removed here: the host's other cgroups (the machine's own supervisor lives
// in one) are never touched, and the hierarchy is never remounted.
import fs from 'node:fs';
import path from 'node:path';
import { PAGE_SIZE } from '../abi/linux.js';

/** Where the cgroup v1 controllers are mounted, one folder each. */
export const CGROUP_V1_ROOT = '/sys/fs/cgroup';
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

/** Whether this host has the v1 controller mounted where tsvisor looks for it. */
export function hasController(controller: Controller): boolean {
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
  ) {}

  /**
   * Creates <controller>/tsvisor/<id> for each limit given. Memory is limited
   * on memory and, where the kernel accounts swap, on memory+swap too (else
   * the program would swap past its limit instead of being stopped at it).
   * All or nothing: on an error the cgroups made so far are removed.
   */
  static create(id: string, limits: CgroupLimits): SandboxCgroups {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new CgroupError(`bad sandbox id '${id}'`);
    const dirs = new Map<Controller, string>();
    try {
      let memory: MemoryLimit | null = null;
      if (limits.memoryBytes !== undefined) {
        const dir = makeCgroup('memory', id, dirs);
        writeSetting(dir, 'memory.limit_in_bytes', limits.memoryBytes);
        const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
        if (fs.existsSync(memsw)) writeSetting(dir, 'memory.memsw.limit_in_bytes', limits.memoryBytes);
        // Read back: the kernel applies the limit in whole pages.
        const applied = Number(fs.readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'latin1').trim());
        if (!Number.isSafeInteger(applied) || applied <= 0) throw new CgroupError(`${dir}: the kernel reports a memory limit of '${applied}'`);
        memory = { limitBytes: applied, cgroupDir: dir };
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

  /** The cgroup made under a controller, or undefined. */
  dir(controller: Controller): string | undefined {
    return this.dirs.get(controller);
  }

  /** Writing a pid to each of these moves that process (all its threads) into the sandbox's cgroups. */
  get procsFiles(): string[] {
    return [...this.dirs.values()].map((dir) => path.join(dir, 'cgroup.procs'));
  }

  /**
   * Removes the cgroups. A cgroup with processes in it cannot be removed
   * (EBUSY): when the launcher exits, the last processes of the sandbox's pid
   * namespace may still be on their way out, so this retries for a while.
   * Returns the cgroups still there.
   */
  async remove(timeoutMs = 5000): Promise<string[]> {
    const end = Date.now() + timeoutMs;
    let left = [...this.dirs.values()];
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
  for (const controller of CONTROLLERS) {
    const parent = tsvisorCgroups(controller);
    let names: string[];
    try {
      names = fs.readdirSync(parent, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
    } catch {
      continue;
    }
    for (const name of names) {
      if (!isLive(name)) removeIfEmpty(path.join(parent, name), false);
    }
  }
}

/** The cgroup's memory accounting, in bytes (memory.usage_in_bytes and memory.stat). */
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
  let usageText: string;
  let statText: string;
  try {
    usageText = fs.readFileSync(path.join(cgroupDir, 'memory.usage_in_bytes'), 'latin1');
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
    if (key.startsWith('total_')) total.set(key.slice('total_'.length), n);
    else own.set(key, n);
  }
  // With use_hierarchy the limit is checked against the totals (own plus
  // sub-cgroups), so they are the numbers that match it.
  for (const [k, v] of total) own.set(k, v);
  return { usage, stat: own };
}


