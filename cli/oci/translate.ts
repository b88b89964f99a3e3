// From a parsed OCI spec to what the sandbox runs: the rootfs and its
// mounts, the program, its ids, limits and terminal. Pure: `create` runs it
// before it makes anything, so a spec tsvisor cannot honour is refused
// (naming the field) with nothing left behind; the daemon runs it again.
import fs from 'node:fs';
import path from 'node:path';
import type { ExtraMount, OverlayMode, TmpfsMount } from '../../sentry/sandbox.js';
import { IdMap, type IdMappings, type IdRange } from '../../sentry/kernel/idmap.js';
import type { RootOverlay } from './overlay2.js';
import { compileSeccompProfile, type CompiledProfile } from './seccomp-profile.js';
import { CAPABILITIES, parseSpec, SpecError, type Capabilities, type Capability, type Mount, type Rlimit, type Spec } from './spec.js';

/** The OCI global flags that change how a container runs (runsc's names). */
export interface RunFlags {
  readonly platform?: 'seccomp' | 'ptrace';
  /** runsc's --network: none (own namespace, loopback), host, or sandbox (as the spec says). */
  readonly network?: 'none' | 'host' | 'sandbox';
  readonly strace: boolean;
  /** runsc's --overlay2, as it applies to the root; absent: none (the writes land in the rootfs, as runc's). */
  readonly overlay2?: RootOverlay;
}

export interface ContainerPlan {
  readonly rootfs: string;
  readonly overlay: OverlayMode;
  readonly mounts: ExtraMount[];
  readonly network: 'none' | 'host';
  readonly argv: string[];
  readonly env: Record<string, string>;
  readonly cwd: string;
  /** The launcher's --user UID:GID[:GROUPS], or undefined for root with no extra groups. */
  readonly user?: string;
  /** The launcher's --caps B:E:P:I:A: process.capabilities as hex masks (absent in the spec: none at all, as runc). */
  readonly caps: string;
  readonly terminal: boolean;
  readonly consoleSize?: { readonly rows: number; readonly cols: number };
  readonly hostname?: string;
  readonly memoryLimit?: number;
  readonly pidsLimit?: number;
  readonly cpu: CpuLimits;
  readonly rlimits: readonly Rlimit[];
  readonly oomScoreAdj?: number;
  /** linux.seccomp compiled: the launcher installs it last before the program's exec and each exec'd process's. */
  readonly seccomp?: CompiledProfile;
  /** linux.sysctl, written by the launcher in the sandbox's own namespaces before the program starts. */
  readonly sysctl: ReadonlyArray<readonly [key: string, value: string]>;
  /** linux.uidMappings / gidMappings (a user namespace in the spec); absent: the sandbox maps ids one to one. */
  readonly idMappings?: IdMappings;
}

/** cpu controller settings (cgroup v1 names), each only when the spec gives it. */
export interface CpuLimits {
  readonly shares?: number;
  readonly quota?: number;
  readonly period?: number;
}

/** Where a mount type is already provided by every sandbox (its own procfs, devpts, /sys, /dev). */
const BUILT_IN: Readonly<Record<string, string>> = {
  proc: '/proc', sysfs: '/sys', devpts: '/dev/pts', cgroup: '/sys/fs/cgroup', cgroup2: '/sys/fs/cgroup',
};

const SIZE_SHIFT: Readonly<Record<string, number>> = { '': 0, k: 10, m: 20, g: 30 };
const PAGE = 4096;

export function planContainer(spec: Spec, flags: RunFlags): ContainerPlan | SpecError {
  try {
    return plan(spec, flags);
  } catch (e) {
    if (e instanceof SpecError) return e;
    throw e;
  }
}

/** process.capabilities as the launcher's --caps B:E:P:I:A (hex masks). */
export function capabilityMasks(c: Capabilities): string {
  const mask = (names: readonly Capability[]): string =>
    names.reduce((m, n) => m | (1n << BigInt(CAPABILITIES[n])), 0n).toString(16);
  return [c.bounding, c.effective, c.permitted, c.inheritable, c.ambient].map(mask).join(':');
}

function plan(spec: Spec, flags: RunFlags): ContainerPlan {
  const rootfs = spec.root.path;
  if (!isDirectory(rootfs)) throw new SpecError('root.path', `${rootfs}: not a directory`);
  const idMappings = userNamespaceMappings(spec);
  const p = spec.process;
  const res = spec.linux.resources;
  const memory = res?.memory?.limit;
  const pids = res?.pids?.limit;
  const ownNet = spec.linux.namespaces.some((n) => n.type === 'network');
  const network = flags.network === 'host' ? 'host' : flags.network === 'none' ? 'none' : ownNet ? 'none' : 'host';
  const user = p.user.uid === 0 && p.user.gid === 0 && p.user.additionalGids.length === 0
    ? undefined
    : `${p.user.uid}:${p.user.gid}${p.user.additionalGids.length > 0 ? ':' + p.user.additionalGids.join(',') : ''}`;
  return {
    rootfs,
    overlay: rootOverlay(spec, flags.overlay2 ?? { medium: 'none' }),
    mounts: [
      ...spec.mounts.flatMap((m, i) => translateMount(m, `mounts[${i}]`)),
      ...maskedMounts(spec.linux.maskedPaths, rootfs),
      ...readonlyMounts(spec.linux.readonlyPaths, rootfs),
    ],
    network,
    argv: p.args,
    env: envObject(p.env),
    cwd: p.cwd,
    ...(user !== undefined ? { user } : {}),
    caps: capabilityMasks(p.capabilities),
    terminal: p.terminal,
    ...(p.consoleSize ? { consoleSize: { rows: p.consoleSize.height, cols: p.consoleSize.width } } : {}),
    ...(spec.hostname !== '' ? { hostname: spec.hostname } : {}),
    ...(memory !== undefined && memory > 0 ? { memoryLimit: Math.ceil(memory / PAGE) * PAGE } : {}),
    ...(pids !== undefined && pids > 0 ? { pidsLimit: pids } : {}),
    cpu: cpuLimits(spec),
    rlimits: p.rlimits,
    ...(p.oomScoreAdj !== undefined ? { oomScoreAdj: p.oomScoreAdj } : {}),
    ...(spec.linux.seccomp ? { seccomp: seccompProgram(spec) } : {}),
    sysctl: sysctls(spec),
    ...(idMappings ? { idMappings } : {}),
  };
}

/**
 * linux.sysctl, each key checked against the host's /proc/sys: a namespaced
 * sysctl the kernel has is there in every namespace (but for keys of network
 * interfaces the sandbox lacks, which the launcher refuses when it writes).
 */
function sysctls(spec: Spec): Array<readonly [string, string]> {
  return Object.entries(spec.linux.sysctl).map(([key, value]) => {
    if (!fs.existsSync(path.join('/proc/sys', key.replaceAll('.', '/')))) {
      throw new SpecError(`linux.sysctl[${JSON.stringify(key)}]`, 'this kernel has no such sysctl');
    }
    return [key, value] as const;
  });
}

function seccompProgram(spec: Spec): CompiledProfile {
  try {
    return compileSeccompProfile(spec.linux.seccomp!);
  } catch (e) {
    throw new SpecError('linux.seccomp', (e as Error).message);
  }
}

/**
 * A read-only root has no writable layer, whatever --overlay2 says (as
 * runsc); a writable one is the rootfs itself, written in place as runc does
 * (Docker's and Podman's rootfs is already their container's layer: `docker
 * diff`, `commit` and `cp` read the writes there), or under an overlay
 * --overlay2 asks for.
 */
function rootOverlay(spec: Spec, o: RootOverlay): OverlayMode {
  if (spec.root.readonly) return { kind: 'none' };
  switch (o.medium) {
    case 'none': return { kind: 'direct' };
    case 'memory': return { kind: 'memory' };
    // The rootfs's own folder (the bundle, usually): a fresh folder there holds the upper layer.
    case 'self': return { kind: 'dir', dir: path.dirname(spec.root.path) };
    case 'dir': return { kind: 'dir', dir: o.dir };
  }
}

/**
 * A user namespace's id mappings, which the sandbox's own user namespace
 * takes instead of its one-to-one map; checked as the kernel checks a
 * uid_map (the parser already refuses mappings without a user namespace,
 * and a user namespace without both mappings).
 */
function userNamespaceMappings(spec: Spec): IdMappings | undefined {
  if (!spec.linux.namespaces.some((n) => n.type === 'user')) return undefined;
  const ranges = (field: 'uidMappings' | 'gidMappings'): IdRange[] => {
    const r = spec.linux[field].map((m) => ({ nsId: m.containerID, hostId: m.hostID, size: m.size }));
    const checked = IdMap.of(r);
    if (typeof checked === 'string') throw new SpecError(`linux.${field}`, checked);
    return r;
  };
  return { uid: ranges('uidMappings'), gid: ranges('gidMappings') };
}

function cpuLimits(spec: Spec): CpuLimits {
  const cpu = spec.linux.resources?.cpu;
  if (!cpu) return {};
  return {
    ...(cpu.shares !== undefined && cpu.shares > 0 ? { shares: cpu.shares } : {}),
    ...(cpu.quota !== undefined && cpu.quota !== 0 ? { quota: cpu.quota } : {}),
    ...(cpu.period !== undefined && cpu.period > 0 ? { period: cpu.period } : {}),
  };
}

/** The environment as an object; a later entry for a name wins, as in execve's consumers. */
export function envObject(env: readonly string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const e of env) {
    const eq = e.indexOf('=');
    out[e.slice(0, eq)] = e.slice(eq + 1);
  }
  return out;
}

function translateMount(m: Mount, field: string): ExtraMount[] {
  const dest = path.posix.normalize(m.destination).replace(/(.)\/+$/, '$1');
  if (m.type === 'bind' || m.options.includes('bind') || m.options.includes('rbind')) return [bindMount(m, dest, field)];
  const builtIn = BUILT_IN[m.type];
  if (builtIn !== undefined) {
    if (dest === builtIn) return [];
    throw new SpecError(`${field}.destination`, `a ${m.type} mount is supported at ${builtIn} only (the sandbox's own), not at ${dest}`);
  }
  if (m.type === 'mqueue') {
    checkTarget(dest, field);
    return [{ kind: 'mqueue', target: dest }];
  }
  if (m.type === 'tmpfs') {
    // The sandbox's /dev is a tmpfs of its own already, with its devices.
    if (dest === '/dev') return [];
    return [tmpfsMount(m, dest, field)];
  }
  throw new SpecError(`${field}.type`, `mount type ${m.type} is not supported by tsvisor`);
}

function bindMount(m: Mount, dest: string, field: string): ExtraMount {
  checkTarget(dest, field);
  try {
    fs.statSync(m.source);
  } catch {
    throw new SpecError(`${field}.source`, `${m.source}: no such file or directory`);
  }
  return { kind: 'bind', source: m.source, target: dest, readOnly: m.options.includes('ro') };
}

function tmpfsMount(m: Mount, dest: string, field: string): TmpfsMount {
  checkTarget(dest, field);
  let size: number | undefined;
  let mode: number | undefined;
  for (const o of m.options) {
    if (o.startsWith('size=')) size = tmpfsSize(o.slice(5), `${field}.options`);
    else if (o.startsWith('mode=')) {
      if (!/^[0-7]{1,4}$/.test(o.slice(5))) throw new SpecError(`${field}.options`, `mode must be octal, not '${o.slice(5)}'`);
      mode = parseInt(o.slice(5), 8);
    }
    // nosuid and nodev are always on; the other flags are accepted as the sandbox's tmpfs defaults.
  }
  return { kind: 'tmpfs', target: dest, ...(size !== undefined ? { size } : {}), ...(mode !== undefined ? { mode } : {}) };
}

function tmpfsSize(text: string, field: string): number {
  const m = /^([0-9]+)([kmg]?)$/i.exec(text);
  const bytes = m ? Number(m[1]) * 2 ** SIZE_SHIFT[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new SpecError(field, `bad tmpfs size '${text}'`);
  return bytes;
}

function checkTarget(dest: string, field: string): void {
  if (dest === '/') throw new SpecError(`${field}.destination`, 'cannot mount over the root');
  if (dest === '/proc' || dest.startsWith('/proc/')) throw new SpecError(`${field}.destination`, `cannot mount in /proc (the sandbox's own procfs): ${dest}`);
}

/**
 * linux.maskedPaths: under /proc and /sys the sandbox's own procfs and its
 * minimal /sys already hide them; elsewhere a file is covered by /dev/null
 * (read-only) and a directory by an empty tmpfs of mode 0.
 */
function maskedMounts(paths: readonly string[], rootfs: string): ExtraMount[] {
  return paths.flatMap((p): ExtraMount[] => {
    if (isSandboxOwn(p)) return [];
    const st = statIn(rootfs, p);
    if (!st) return [];
    return st.isDirectory()
      ? [{ kind: 'tmpfs', target: p, size: PAGE, mode: 0 }]
      : [{ kind: 'bind', source: '/dev/null', target: p, readOnly: true }];
  });
}

/** linux.readonlyPaths: the rootfs's own file or folder bound read-only over itself. */
function readonlyMounts(paths: readonly string[], rootfs: string): ExtraMount[] {
  return paths.flatMap((p): ExtraMount[] => {
    if (isSandboxOwn(p) || !statIn(rootfs, p)) return [];
    return [{ kind: 'bind', source: path.join(rootfs, p), target: p, readOnly: true }];
  });
}

function isSandboxOwn(p: string): boolean {
  return p === '/proc' || p.startsWith('/proc/') || p === '/sys' || p.startsWith('/sys/');
}

/** lstat below the rootfs, never following a symlink out of it (a symlink is skipped). */
function statIn(rootfs: string, p: string): fs.Stats | undefined {
  const full = path.join(rootfs, path.posix.normalize('/' + p));
  try {
    // A symlink anywhere on the way could lead out of the rootfs: skipped, never followed.
    if (fs.realpathSync(full) !== full) return undefined;
    return fs.lstatSync(full);
  } catch {
    return undefined;
  }
}

function isDirectory(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

/** The bundle's spec and its plan; a SpecError (thrown) names what is wrong. */
export function loadPlan(bundle: string, flags: RunFlags): { plan: ContainerPlan; spec: Spec } {
  const file = path.join(bundle, 'config.json');
  let json: unknown;
  try {
    json = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (e) {
    throw new SpecError('', `${file}: ${(e as Error).message}`);
  }
  const spec = parseSpec(json, bundle);
  if (spec instanceof SpecError) throw spec;
  const plan = planContainer(spec, flags);
  if (plan instanceof SpecError) throw plan;
  return { plan, spec };
}
