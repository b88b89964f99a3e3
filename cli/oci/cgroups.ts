// The cgroups an OCI container has beyond those of every sandbox: a freezer
// cgroup (pause, resume) and, when the spec limits the CPU, a cpu cgroup,
// both cgroup v1 at <controller>/tsvisor/oci-<id>. The memory and pids
// cgroups are runSandbox's own (sentry/kernel/cgroup.ts). Only cgroups that
// isTsvisorCgroup() accepts are ever written or removed: never one tsvisor
// did not create, and the hierarchy is never remounted.
import fs from 'node:fs';
import path from 'node:path';
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

/**
 * Makes the freezer cgroup (where the host has that controller) and a cpu
 * cgroup when limits are given; returns them by controller. All or nothing.
 */
export function createOciCgroups(id: string, cpu: CpuLimits): Partial<Record<CgroupController, string>> {
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

export function applyCpu(dir: string, cpu: CpuLimits): void {
  if (cpu.shares !== undefined) writeSetting('cpu', dir, 'cpu.shares', cpu.shares);
  // The period first: a quota is checked against the period in force.
  if (cpu.period !== undefined) writeSetting('cpu', dir, 'cpu.cfs_period_us', cpu.period);
  if (cpu.quota !== undefined) writeSetting('cpu', dir, 'cpu.cfs_quota_us', cpu.quota);
}

/** The procs files the launcher joins. */
export function procsFiles(cgroups: Partial<Record<CgroupController, string>>): string[] {
  return Object.values(cgroups).map((d) => path.join(d, 'cgroup.procs'));
}

/**
 * rmdir each (a cgroup is removed only when empty: a process still in one
 * keeps it, EBUSY). Returns those left.
 */
export function removeCgroups(cgroups: Partial<Record<CgroupController, string>>): string[] {
  const left: string[] = [];
  for (const [c, dir] of Object.entries(cgroups) as [CgroupController, string][]) {
    if (!isTsvisorCgroup(c, dir)) continue;
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

export function freezerState(dir: string | undefined): string | undefined {
  if (dir === undefined) return undefined;
  try {
    return fs.readFileSync(path.join(dir, 'freezer.state'), 'latin1').trim();
  } catch {
    return undefined;
  }
}

/** Freezes (FROZEN) or thaws (THAWED), and waits until the kernel says it is done. */
export async function setFrozen(dir: string, frozen: boolean): Promise<void> {
  const want = frozen ? 'FROZEN' : 'THAWED';
  for (let i = 0; ; i++) {
    writeSetting('freezer', dir, 'freezer.state', want);
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
