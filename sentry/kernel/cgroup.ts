// A sandbox's memory limit (`tsvisor do --memory SIZE`), enforced by the host
// kernel with a cgroup v1 memory cgroup that tsvisor creates for the sandbox
// and removes at its end. The sentry reads the same cgroup's accounting to
// show the limit in /proc/meminfo.
//
// Only cgroups under <memory controller>/tsvisor/ are ever created, written
// or removed here: the host's other cgroups (the machine's own supervisor
// lives in one) are never touched, and the hierarchy is never remounted.
import fs from 'node:fs';
import path from 'node:path';

/** Where the cgroup v1 memory controller is mounted. */
export const MEMORY_CONTROLLER = '/sys/fs/cgroup/memory';
/** The folder holding one cgroup per running sandbox; left in place when empty. */
export const TSVISOR_MEMORY_CGROUPS = path.join(MEMORY_CONTROLLER, 'tsvisor');

/**
 * Below this a program cannot even be started (the launcher, the sandbox's
 * init and a dynamic loader need a few MiB): refusing it gives a clear
 * message instead of an OOM kill before the program's first instruction.
 */
export const MIN_MEMORY_LIMIT = 8 * 1024 * 1024;
/** The largest limit the kernel keeps as a number (PAGE_COUNTER_MAX pages is higher; this is JS's exact range). */
const MAX_MEMORY_LIMIT = Number.MAX_SAFE_INTEGER - (Number.MAX_SAFE_INTEGER % 4096);
const PAGE_SIZE = 4096;

const UNIT_SHIFT: Readonly<Record<string, number>> = { '': 0, k: 10, m: 20, g: 30, t: 40 };

/** A memory size on the command line that is not one. */
export class MemorySizeError extends Error {}

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

/** The memory cgroup of one sandbox, from its creation to its removal. */
export class MemoryCgroup implements MemoryLimit {
  private constructor(readonly cgroupDir: string, readonly limitBytes: number) {}

  /**
   * Creates <controller>/tsvisor/<id> with the limit on memory and, where the
   * kernel accounts swap, on memory+swap too (else the program would swap
   * past its limit instead of being stopped at it).
   */
  static create(id: string, limitBytes: number): MemoryCgroup {
    if (!/^[A-Za-z0-9_-]+$/.test(id)) throw new CgroupError(`bad sandbox id '${id}'`);
    if (!fs.existsSync(path.join(MEMORY_CONTROLLER, 'memory.limit_in_bytes'))) {
      throw new CgroupError(`--memory needs the cgroup v1 memory controller at ${MEMORY_CONTROLLER}, which this host does not have`);
    }
    const dir = path.join(TSVISOR_MEMORY_CGROUPS, id);
    try {
      fs.mkdirSync(TSVISOR_MEMORY_CGROUPS, { recursive: true });
      fs.mkdirSync(dir);
    } catch (err) {
      throw new CgroupError(`cannot create the memory cgroup ${dir}: ${errnoText(err)}`);
    }
    try {
      fs.writeFileSync(path.join(dir, 'memory.limit_in_bytes'), String(limitBytes));
      const memsw = path.join(dir, 'memory.memsw.limit_in_bytes');
      if (fs.existsSync(memsw)) fs.writeFileSync(memsw, String(limitBytes));
      // Read back: the kernel applies the limit in whole pages.
      const applied = Number(fs.readFileSync(path.join(dir, 'memory.limit_in_bytes'), 'latin1').trim());
      if (!Number.isSafeInteger(applied) || applied <= 0) throw new Error(`the kernel reports a limit of '${applied}'`);
      return new MemoryCgroup(dir, applied);
    } catch (err) {
      try {
        fs.rmdirSync(dir);
      } catch { /* empty and ours: removed by the next run's sweep at worst */ }
      throw new CgroupError(`cannot set the memory limit on ${dir}: ${errnoText(err)}`);
    }
  }

  /** Writing a pid here moves that process (all its threads) into the cgroup. */
  get procsFile(): string {
    return path.join(this.cgroupDir, 'cgroup.procs');
  }

  /** The limit's data for the sentry. */
  toLimit(): MemoryLimit {
    return { limitBytes: this.limitBytes, cgroupDir: this.cgroupDir };
  }

  /**
   * Removes the cgroup. A cgroup with processes in it cannot be removed
   * (EBUSY): when the launcher exits, the last processes of the sandbox's pid
   * namespace may still be on their way out, so this retries for a while.
   * Returns whether it is gone.
   */
  async remove(timeoutMs = 5000): Promise<boolean> {
    const end = Date.now() + timeoutMs;
    for (;;) {
      try {
        fs.rmdirSync(this.cgroupDir);
        return true;
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code;
        if (code === 'ENOENT') return true;
        if (code !== 'EBUSY' || Date.now() >= end) return false;
      }
      await new Promise<void>((r) => setTimeout(r, 20));
    }
  }
}

/**
 * A tsvisor killed with -9 leaves its (by then empty) cgroup behind. Removes
 * those whose sandbox is gone (isLive answers for an id); rmdir never removes
 * a cgroup that still holds a process, so a sandbox still running is safe
 * even if isLive were wrong.
 */
export function removeStaleMemoryCgroups(isLive: (id: string) => boolean): void {
  let names: string[];
  try {
    names = fs.readdirSync(TSVISOR_MEMORY_CGROUPS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return;
  }
  for (const name of names) {
    if (isLive(name)) continue;
    try {
      fs.rmdirSync(path.join(TSVISOR_MEMORY_CGROUPS, name));
    } catch { /* still in use, or not ours to judge: leave it */ }
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


