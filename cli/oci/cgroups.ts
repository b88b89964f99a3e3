// The cgroups an OCI container has beyond those of every sandbox. cgroup v1:
// a freezer cgroup (pause, resume) and, when the spec limits the CPU, a cpu
// cgroup, at <controller>/tsvisor/oci-<id>; the memory and pids cgroups are
// runSandbox's own (sentry/kernel/cgroup.ts). cgroup v2 (a unified host):
// one cgroup, tsvisor/oci-<id>, for all of it (a process is in one v2
// cgroup): cgroup.freeze pauses, cpu.weight and cpu.max limit the CPU, and
// runSandbox writes the memory and pids limits into it. Each function below
// tells the versions apart by the cgroup it is given (isV2Cgroup). Only
// cgroups that isTsvisorCgroup() accepts are ever written or removed: never
// one tsvisor did not create, and nothing is remounted.
import fs from 'node:fs';
import path from 'node:path';
import { CgroupError, hostCgroupVersion, isV2Cgroup, makeV2Cgroup } from '../../sentry/kernel/cgroup.js';
import { CommandError } from '../usage.js';
import { isTsvisorCgroup, type CgroupController } from './state.js';
import type { CpuLimits } from './translate.js';

const ROOT = '/sys/fs/cgroup';

function dirFor(controller: CgroupController, id: string): string {
  return path.join(ROOT, controller, 'tsvisor', `oci-${id}`);
}

function hasController(controller: CgroupController): boolean {
  return fs.existsSync(path.join(ROOT, controller, 'cgroup.procs'));
}

/** What the container's spec limits, beyond the CPU: v2 enables these controllers for its cgroup. */
export interface OtherLimits {
  readonly memory: boolean;
  readonly pids: boolean;
}

/**
 * Makes the container's cgroups: v1, the freezer cgroup (where the host has
 * that controller) and a cpu cgroup when limits are given; v2, its one
 * cgroup. Returns them by controller. All or nothing.
 */
export function createOciCgroups(id: string, cpu: CpuLimits, other: OtherLimits): Partial<Record<CgroupController, string>> {
  if (hostCgroupVersion() === 2) return createV2(id, cpu, other);
  const made: Partial<Record<CgroupController, string>> = {};
  try {
    if (hasController('freezer')) made.freezer = makeDir('freezer', id);
    if (Object.keys(cpu).length > 0) {
      if (!hasController('cpu')) throw new CommandError('linux.resources.cpu: this host has no cgroup v1 cpu controller');
      made.cpu = makeDir('cpu', id);
      applyCpu(made.cpu, cpu);
    }
    return made;
  } catch (e) {
    removeCgroups(made);
    throw e;
  }
}

function createV2(id: string, cpu: CpuLimits, other: OtherLimits): Partial<Record<CgroupController, string>> {
  const wanted = new Map<string, string>();
  if (Object.keys(cpu).length > 0) wanted.set('cpu', 'linux.resources.cpu');
  if (other.memory) wanted.set('memory', 'linux.resources.memory');
  if (other.pids) wanted.set('pids', 'linux.resources.pids');
  let dir: string;
  try {
    dir = makeV2Cgroup(`oci-${id}`, wanted);
  } catch (e) {
    throw e instanceof CgroupError ? new CommandError(e.message) : e;
  }
  // The memory and pids limits are written in by runSandbox, which records them.
  const made: Partial<Record<CgroupController, string>> = { freezer: dir };
  try {
    if (wanted.has('cpu')) {
      made.cpu = dir;
      applyCpu(dir, cpu);
    }
    return made;
  } catch (e) {
    removeCgroups(made);
    throw e;
  }
}

/** cgroup v2: the container's one cgroup, where runSandbox puts the memory and pids limits too; undefined on v1. */
export function v2CgroupOf(cgroups: Partial<Record<CgroupController, string>>): string | undefined {
  return hostCgroupVersion() === 2 ? cgroups.freezer : undefined;
}

function makeDir(controller: CgroupController, id: string): string {
  const dir = dirFor(controller, id);
  try {
    fs.mkdirSync(path.dirname(dir), { recursive: true });
    fs.mkdirSync(dir);
  } catch (e) {
    throw new CommandError(`cannot create the ${controller} cgroup ${dir}: ${(e as Error).message}`);
  }
  return dir;
}

/** Writes one setting of a cgroup tsvisor made. */
export function writeSetting(controller: CgroupController, dir: string, file: string, value: string | number): void {
  if (!isTsvisorCgroup(controller, dir)) throw new CommandError(`${dir} is not a cgroup tsvisor made`);
  try {
    fs.writeFileSync(path.join(dir, file), String(value));
  } catch (e) {
    throw new CommandError(`cannot set ${file} to ${value} in ${dir}: ${(e as Error).message}`);
  }
}

/**
 * cgroup v2's cpu.weight for a v1 cpu.shares, as runc and crun convert it:
 * the shares range [2, 262144] onto the weight range [1, 10000], linearly.
 */
export function cpuWeightOfShares(shares: number): number {
  if (shares <= 0) return 100;
  const clamped = Math.min(Math.max(shares, 2), 262144);
  return 1 + Math.floor(((clamped - 2) * 9999) / 262142);
}

/** cgroup v2's cpu.max ("QUOTA PERIOD", "max" for no quota) from the one in force and the limits given; -1 or below: no quota. */
export function cpuMaxText(current: string, cpu: CpuLimits): string {
  const [quotaNow = 'max', periodNow = '100000'] = current.trim().split(/\s+/);
  const quota = cpu.quota === undefined ? quotaNow : cpu.quota < 0 ? 'max' : String(cpu.quota);
  const period = cpu.period === undefined ? periodNow : String(cpu.period);
  return `${quota} ${period}`;
}

export function applyCpu(dir: string, cpu: CpuLimits): void {
  if (isV2Cgroup(dir)) {
    if (cpu.shares !== undefined) writeSetting('cpu', dir, 'cpu.weight', cpuWeightOfShares(cpu.shares));
    if (cpu.quota !== undefined || cpu.period !== undefined) writeSetting('cpu', dir, 'cpu.max', cpuMaxText(fs.readFileSync(path.join(dir, 'cpu.max'), 'latin1'), cpu));
    return;
  }
  if (cpu.shares !== undefined) writeSetting('cpu', dir, 'cpu.shares', cpu.shares);
  // The period first: a quota is checked against the period in force.
  if (cpu.period !== undefined) writeSetting('cpu', dir, 'cpu.cfs_period_us', cpu.period);
  if (cpu.quota !== undefined) writeSetting('cpu', dir, 'cpu.cfs_quota_us', cpu.quota);
}

/** The procs files the launcher joins (v2: the one cgroup, once). */
export function procsFiles(cgroups: Partial<Record<CgroupController, string>>): string[] {
  return [...new Set(Object.values(cgroups))].map((d) => path.join(d, 'cgroup.procs'));
}

/**
 * rmdir each (a cgroup is removed only when empty: a process still in one
 * keeps it, EBUSY). Returns those left.
 */
export function removeCgroups(cgroups: Partial<Record<CgroupController, string>>): string[] {
  const left: string[] = [];
  const seen = new Set<string>();
  for (const [c, dir] of Object.entries(cgroups) as [CgroupController, string][]) {
    if (!isTsvisorCgroup(c, dir) || seen.has(dir)) continue;
    seen.add(dir);
    try {
      fs.rmdirSync(dir);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') left.push(dir);
    }
  }
  return left;
}

/** Retries removeCgroups while the last processes leave. */
export async function removeCgroupsWhenEmpty(cgroups: Partial<Record<CgroupController, string>>, timeoutMs = 5000): Promise<string[]> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const left = removeCgroups(cgroups);
    if (left.length === 0 || Date.now() >= end) return left;
    await new Promise<void>((r) => setTimeout(r, 20));
  }
}

/**
 * THAWED, FREEZING or FROZEN, as v1's freezer.state says; v2's cgroup.freeze
 * (what was asked) and the frozen line of cgroup.events (what is done) give
 * the same three.
 */
export function freezerState(dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  try {
    if (!isV2Cgroup(dir)) return fs.readFileSync(path.join(dir, 'freezer.state'), 'latin1').trim();
    const asked = fs.readFileSync(path.join(dir, 'cgroup.freeze'), 'latin1').trim() === '1';
    const frozen = /^frozen 1$/m.test(fs.readFileSync(path.join(dir, 'cgroup.events'), 'latin1'));
    return frozen ? 'FROZEN' : asked ? 'FREEZING' : 'THAWED';
  } catch {
    return undefined;
  }
}

/** Freezes (FROZEN) or thaws (THAWED), and waits until the kernel says it is done. */
export async function setFrozen(dir: string, frozen: boolean): Promise<void> {
  const want = frozen ? 'FROZEN' : 'THAWED';
  const v2 = isV2Cgroup(dir);
  for (let i = 0; ; i++) {
    if (v2) writeSetting('freezer', dir, 'cgroup.freeze', frozen ? 1 : 0);
    else writeSetting('freezer', dir, 'freezer.state', want);
    if (freezerState(dir) === want) return;
    // FREEZING: tasks are still on their way into the fridge; write again, as runc does.
    if (i > 1000) throw new CommandError(`the freezer cgroup ${dir} stays ${freezerState(dir) ?? 'unreadable'}`);
    await new Promise<void>((r) => setTimeout(r, 10));
  }
}

/** A number from a cgroup file, or undefined ("max" reads as undefined too). */
export function readNumber(dir: string | undefined, file: string): number | undefined {
  if (dir === undefined) return undefined;
  try {
    const v = Number(fs.readFileSync(path.join(dir, file), 'latin1').trim());
    return Number.isFinite(v) ? v : undefined;
  } catch {
    return undefined;
  }
}
