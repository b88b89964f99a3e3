// The OCI runtime spec (config.json, runtime-spec v1.0 to v1.2) as tsvisor
// reads it: the types, the parser, and the constants that say what tsvisor
// accepts. This is the one place these facts live (DESIGN.md, principle 6):
// `tsvisor features` and `tsvisor spec` are built from the same constants the
// parser checks against, so what tsvisor advertises is what it accepts.
//
// The parser follows runc where runc is a good guide: unknown fields are
// ignored (a config written for a newer spec still runs), and so are the
// sections for other platforms (windows, solaris, vm, zos). What tsvisor
// cannot honour is refused with a message naming the field, never silently
// dropped: a container that asked for a seccomp action, a namespace or a mount
// type it would not get must not start looking as if it had them.
import path from 'node:path';

// ---------------------------------------------------------------------------
// Versions

/** The spec version tsvisor writes (`tsvisor spec`) and the range it reads. */
export const OCI_VERSION = '1.2.0';
export const OCI_VERSION_MIN = '1.0.0';
export const OCI_VERSION_MAX = '1.2.0';

// ---------------------------------------------------------------------------
// What tsvisor accepts. Every list here is also printed by `tsvisor features`.

/** The lifecycle hooks, in the order the runtime runs them. */
export const HOOK_NAMES = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'] as const;
export type HookName = (typeof HOOK_NAMES)[number];

/** Namespace types of the spec. */
export const NAMESPACE_TYPES = ['pid', 'network', 'mount', 'ipc', 'uts', 'user', 'cgroup', 'time'] as const;
export type NamespaceType = (typeof NAMESPACE_TYPES)[number];
/**
 * Those tsvisor honours. The sandbox always gets fresh user, mount, pid, ipc,
 * uts and cgroup namespaces (the second wall, DESIGN.md principle 3), whether
 * listed or not; leaving `network` out means the host's network, as with
 * `--network host`. A time namespace is not made: refused, not faked.
 */
export const SUPPORTED_NAMESPACES: readonly NamespaceType[] = ['cgroup', 'ipc', 'mount', 'network', 'pid', 'user', 'uts'];
/**
 * Namespaces a spec may name by path (join an existing one). Only the network
 * one: the sandbox's other namespaces are its own walls, and joining another
 * container's pid or mount namespace would put the sandbox beside processes
 * the sentry does not see.
 */
export const JOINABLE_NAMESPACES: readonly NamespaceType[] = ['network'];

/** Linux capabilities by name, with their numbers (linux/capability.h). */
export const CAPABILITIES = {
  CAP_CHOWN: 0, CAP_DAC_OVERRIDE: 1, CAP_DAC_READ_SEARCH: 2, CAP_FOWNER: 3, CAP_FSETID: 4, CAP_KILL: 5,
  CAP_SETGID: 6, CAP_SETUID: 7, CAP_SETPCAP: 8, CAP_LINUX_IMMUTABLE: 9, CAP_NET_BIND_SERVICE: 10,
  CAP_NET_BROADCAST: 11, CAP_NET_ADMIN: 12, CAP_NET_RAW: 13, CAP_IPC_LOCK: 14, CAP_IPC_OWNER: 15,
  CAP_SYS_MODULE: 16, CAP_SYS_RAWIO: 17, CAP_SYS_CHROOT: 18, CAP_SYS_PTRACE: 19, CAP_SYS_PACCT: 20,
  CAP_SYS_ADMIN: 21, CAP_SYS_BOOT: 22, CAP_SYS_NICE: 23, CAP_SYS_RESOURCE: 24, CAP_SYS_TIME: 25,
  CAP_SYS_TTY_CONFIG: 26, CAP_MKNOD: 27, CAP_LEASE: 28, CAP_AUDIT_WRITE: 29, CAP_AUDIT_CONTROL: 30,
  CAP_SETFCAP: 31, CAP_MAC_OVERRIDE: 32, CAP_MAC_ADMIN: 33, CAP_SYSLOG: 34, CAP_WAKE_ALARM: 35,
  CAP_BLOCK_SUSPEND: 36, CAP_AUDIT_READ: 37, CAP_PERFMON: 38, CAP_BPF: 39, CAP_CHECKPOINT_RESTORE: 40,
} as const;
export type Capability = keyof typeof CAPABILITIES;
export const CAPABILITY_NAMES = Object.keys(CAPABILITIES) as Capability[];

/** Resource limits by name, with their numbers (asm-generic/resource.h). */
export const RLIMITS = {
  RLIMIT_CPU: 0, RLIMIT_FSIZE: 1, RLIMIT_DATA: 2, RLIMIT_STACK: 3, RLIMIT_CORE: 4, RLIMIT_RSS: 5,
  RLIMIT_NPROC: 6, RLIMIT_NOFILE: 7, RLIMIT_MEMLOCK: 8, RLIMIT_AS: 9, RLIMIT_LOCKS: 10,
  RLIMIT_SIGPENDING: 11, RLIMIT_MSGQUEUE: 12, RLIMIT_NICE: 13, RLIMIT_RTPRIO: 14, RLIMIT_RTTIME: 15,
} as const;
export type RlimitType = keyof typeof RLIMITS;
export const RLIMIT_NAMES = Object.keys(RLIMITS) as RlimitType[];

/**
 * Mount types tsvisor mounts. `none` and `""` are bind mounts when the options
 * say bind/rbind (as runc reads them; Docker and runc's rootless spec write
 * that form).
 */
export const MOUNT_TYPES = ['bind', 'tmpfs', 'proc', 'sysfs', 'devpts', 'mqueue', 'cgroup', 'cgroup2', 'none'] as const;
export type MountType = (typeof MOUNT_TYPES)[number];

/**
 * Mount options that are flags (mount(2) flags or propagation), as runc knows
 * them. Anything of the form key=value is filesystem data (size=, mode=, gid=)
 * and is passed on to that filesystem, which checks it.
 */
export const MOUNT_FLAG_OPTIONS = [
  'acl', 'async', 'atime', 'bind', 'defaults', 'dev', 'diratime', 'dirsync', 'exec', 'iversion', 'lazytime',
  'loud', 'mand', 'noacl', 'noatime', 'nodev', 'nodiratime', 'noexec', 'noiversion', 'nolazytime', 'nomand',
  'norelatime', 'nostrictatime', 'nosuid', 'nosymfollow', 'private', 'ratime', 'rbind', 'rdev', 'rdiratime',
  'relatime', 'remount', 'rexec', 'rnoatime', 'rnodev', 'rnodiratime', 'rnoexec', 'rnorelatime',
  'rnostrictatime', 'rnosuid', 'rnosymfollow', 'ro', 'rprivate', 'rrelatime', 'rro', 'rrw', 'rshared',
  'rslave', 'rstrictatime', 'rsuid', 'rsymfollow', 'runbindable', 'rw', 'shared', 'silent', 'slave',
  'strictatime', 'suid', 'symfollow', 'sync', 'tmpcopyup', 'unbindable',
] as const;
/** Filesystem data words without a value that tsvisor passes on (devpts's). */
export const MOUNT_DATA_WORDS = ['newinstance'] as const;
export const MOUNT_OPTIONS: readonly string[] = [...MOUNT_FLAG_OPTIONS, ...MOUNT_DATA_WORDS].sort();

export const ROOTFS_PROPAGATIONS = ['shared', 'slave', 'private', 'unbindable', 'rshared', 'rslave', 'rprivate', 'runbindable'] as const;
export type RootfsPropagation = (typeof ROOTFS_PROPAGATIONS)[number];

/** Every seccomp action of the spec. */
export const SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_TRAP', 'SCMP_ACT_ERRNO',
  'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG', 'SCMP_ACT_NOTIFY',
] as const;
export type SeccompAction = (typeof SECCOMP_ACTIONS)[number];
/**
 * The ones tsvisor enforces. The spec's profile is a second filter on top of
 * tsvisor's own, which the host kernel can run for each of these. NOTIFY needs
 * a listener, and the kernel allows one per filter chain: tsvisor's. TRACE
 * needs a tracer, which on the ptrace platform is the sentry itself.
 */
export const SUPPORTED_SECCOMP_ACTIONS: readonly SeccompAction[] = [
  'SCMP_ACT_ALLOW', 'SCMP_ACT_ERRNO', 'SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD',
  'SCMP_ACT_LOG', 'SCMP_ACT_TRAP',
];
export const SECCOMP_OPERATORS = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
] as const;
export type SeccompOperator = (typeof SECCOMP_OPERATORS)[number];
/**
 * Architectures a profile may name. tsvisor runs x86_64 programs only; a rule
 * for another architecture never matches one of them, so naming it is
 * harmless, and clients' default profiles list several.
 */
export const SECCOMP_ARCHES = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64', 'SCMP_ARCH_MIPS',
  'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64', 'SCMP_ARCH_MIPSEL64N32',
  'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_S390', 'SCMP_ARCH_S390X',
  'SCMP_ARCH_PARISC', 'SCMP_ARCH_PARISC64', 'SCMP_ARCH_RISCV64',
] as const;
export type SeccompArch = (typeof SECCOMP_ARCHES)[number];
export const SECCOMP_FLAGS = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW', 'SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] as const;
export type SeccompFlag = (typeof SECCOMP_FLAGS)[number];
/**
 * Flags tsvisor honours. TSYNC is implied (the filter goes on before the
 * program's first instruction, when it has one thread); WAIT_KILLABLE_RECV
 * applies to listeners, and a spec's filter has none.
 */
export const SUPPORTED_SECCOMP_FLAGS: readonly SeccompFlag[] = ['SECCOMP_FILTER_FLAG_TSYNC', 'SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'];

export const PERSONALITY_DOMAINS = ['LINUX', 'LINUX32'] as const;
/** x86_64 programs only: LINUX32 (an i386 uname) is not offered. */
export const SUPPORTED_PERSONALITY_DOMAINS: readonly string[] = ['LINUX'];

/**
 * Sysctls that are per namespace, so a container may set them (runc's rule).
 * The sentry emulates them; a host-wide one would change the host.
 */
const NAMESPACED_SYSCTLS = new Set(['kernel.msgmax', 'kernel.msgmnb', 'kernel.msgmni', 'kernel.sem', 'kernel.shmall', 'kernel.shmmax', 'kernel.shmmni', 'kernel.shm_rmid_forced']);
const NAMESPACED_SYSCTL_PREFIXES = ['fs.mqueue.', 'net.'];

/**
 * Known fields of the spec that tsvisor does not honour, refused rather than
 * ignored: each changes how the program runs.
 */
const REFUSED_FIELDS: ReadonlyArray<readonly [parent: string, field: string, why: string]> = [
  ['process', 'ioPriority', 'I/O priorities are not supported by tsvisor'],
  ['process', 'scheduler', 'scheduling policies are not supported by tsvisor'],
  ['process', 'execCPUAffinity', 'CPU affinity is not supported by tsvisor'],
  ['linux', 'intelRdt', 'Intel RDT is not supported by tsvisor'],
  ['linux', 'timeOffsets', 'time namespaces are not supported by tsvisor'],
];

// ---------------------------------------------------------------------------
// The types. A parsed Spec is normalized: lists and maps that the spec lets be
// absent are present (empty), so that the code that runs a container has one
// shape to read. Fields whose absence means something (no seccomp, no limit)
// stay optional.

export interface Spec {
  ociVersion: string;
  process: Process;
  /** `path` is absolute: resolved against the bundle. */
  root: Root;
  hostname: string;
  domainname: string;
  mounts: Mount[];
  hooks: Hooks;
  annotations: Record<string, string>;
  linux: Linux;
}

export interface Process {
  terminal: boolean;
  consoleSize?: ConsoleSize;
  user: User;
  args: string[];
  /** Each entry is NAME=VALUE with a non-empty NAME. */
  env: string[];
  /** Absolute. */
  cwd: string;
  capabilities: Capabilities;
  rlimits: Rlimit[];
  noNewPrivileges: boolean;
  oomScoreAdj?: number;
  /**
   * Accepted and not applied, as runsc does: the sandbox's processes are
   * confined by the sentry and tsvisor's own filter, and Docker and Podman
   * send a profile name on every host with AppArmor or SELinux.
   */
  apparmorProfile?: string;
  selinuxLabel?: string;
}

export interface ConsoleSize { height: number; width: number }

export interface User {
  uid: number;
  gid: number;
  umask?: number;
  additionalGids: number[];
}

export interface Capabilities {
  bounding: Capability[];
  effective: Capability[];
  inheritable: Capability[];
  permitted: Capability[];
  ambient: Capability[];
}
export const CAPABILITY_SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;

/**
 * `hard` and `soft` are uint64. JSON numbers above 2^53 are not exact in
 * JavaScript; the one such value that matters, RLIM_INFINITY (2^64-1), reads
 * as 2^64 (`RLIM_INFINITY` here).
 */
export interface Rlimit { type: RlimitType; hard: number; soft: number }
export const RLIM_INFINITY = 2 ** 64;

export interface Root { path: string; readonly: boolean }

export interface Mount {
  /** Absolute (runc makes a relative one absolute; so does tsvisor). */
  destination: string;
  type: MountType;
  /** For bind mounts, absolute: resolved against the bundle. */
  source: string;
  options: string[];
}

export interface Hook {
  /** Absolute. */
  path: string;
  args: string[];
  env: string[];
  /** Seconds, > 0. */
  timeout?: number;
}
export type Hooks = Record<HookName, Hook[]>;

export interface Linux {
  namespaces: Namespace[];
  uidMappings: IdMapping[];
  gidMappings: IdMapping[];
  sysctl: Record<string, string>;
  resources?: Resources;
  cgroupsPath?: string;
  seccomp?: Seccomp;
  maskedPaths: string[];
  readonlyPaths: string[];
  mountLabel?: string;
  rootfsPropagation?: RootfsPropagation;
  devices: Device[];
  personality?: Personality;
}

export interface Namespace { type: NamespaceType; path?: string }
export interface IdMapping { containerID: number; hostID: number; size: number }

export interface Resources {
  devices: DeviceCgroupRule[];
  memory?: MemoryResources;
  cpu?: CpuResources;
  pids?: { limit: number };
  blockIO?: BlockIO;
  hugepageLimits: { pageSize: string; limit: number }[];
  network?: { classID?: number; priorities: { name: string; priority: number }[] };
  rdma: Record<string, { hcaHandles?: number; hcaObjects?: number }>;
  /** cgroup v2 files by name. */
  unified: Record<string, string>;
}

export interface DeviceCgroupRule {
  allow: boolean;
  /** a (all), c or b. */
  type?: 'a' | 'c' | 'b';
  major?: number;
  minor?: number;
  /** Some of r, w, m. */
  access?: string;
}

/** Byte counts are int64; -1 means no limit. */
export interface MemoryResources {
  limit?: number;
  reservation?: number;
  swap?: number;
  kernel?: number;
  kernelTCP?: number;
  swappiness?: number;
  disableOOMKiller?: boolean;
  useHierarchy?: boolean;
  checkBeforeUpdate?: boolean;
}

export interface CpuResources {
  shares?: number;
  quota?: number;
  burst?: number;
  period?: number;
  realtimeRuntime?: number;
  realtimePeriod?: number;
  cpus?: string;
  mems?: string;
  idle?: number;
}

export interface BlockIO {
  weight?: number;
  leafWeight?: number;
  weightDevice: { major: number; minor: number; weight?: number; leafWeight?: number }[];
  throttleReadBpsDevice: ThrottleDevice[];
  throttleWriteBpsDevice: ThrottleDevice[];
  throttleReadIOPSDevice: ThrottleDevice[];
  throttleWriteIOPSDevice: ThrottleDevice[];
}
export interface ThrottleDevice { major: number; minor: number; rate: number }
export const THROTTLE_LISTS = ['throttleReadBpsDevice', 'throttleWriteBpsDevice', 'throttleReadIOPSDevice', 'throttleWriteIOPSDevice'] as const;

export interface Seccomp {
  defaultAction: SeccompAction;
  /** The errno of an ERRNO default action; EPERM when absent (runc's default). */
  defaultErrnoRet: number;
  architectures: SeccompArch[];
  flags: SeccompFlag[];
  syscalls: SeccompRule[];
}

export interface SeccompRule {
  /** Names the host kernel may not have are kept: libseccomp skips them. */
  names: string[];
  action: SeccompAction;
  /** EPERM when absent. */
  errnoRet: number;
  args: SeccompArg[];
}

export interface SeccompArg { index: number; value: number; valueTwo: number; op: SeccompOperator }

export interface Device {
  type: 'c' | 'b' | 'u' | 'p';
  /** Absolute. */
  path: string;
  major?: number;
  minor?: number;
  fileMode?: number;
  uid?: number;
  gid?: number;
}

export interface Personality { domain: 'LINUX'; flags: string[] }

/** The OCI state, as `tsvisor state` prints it. */
/** runc's set: the spec's four, and paused (a frozen container, as runc reports it). */
export type Status = 'creating' | 'created' | 'running' | 'stopped' | 'paused';
export const STATUSES: readonly Status[] = ['creating', 'created', 'running', 'stopped', 'paused'];
export interface State {
  ociVersion: string;
  id: string;
  status: Status;
  /** The container's init as the host sees it; absent once stopped. */
  pid?: number;
  /** Absolute. */
  bundle: string;
  annotations?: Record<string, string>;
}

// ---------------------------------------------------------------------------
// Errors

/** Why a config was refused: the field (a path like `mounts[2].type`) and the reason. */
export class SpecError {
  constructor(readonly field: string, readonly reason: string) {}
  get message(): string {
    return this.field === '' ? this.reason : `${this.field}: ${this.reason}`;
  }
  toString(): string {
    return this.message;
  }
}

/** Thrown inside the parser only; parseSpec turns it into a returned SpecError. */
class Refusal {
  constructor(readonly error: SpecError) {}
}

function refuse(field: string, reason: string): never {
  throw new Refusal(new SpecError(field, reason));
}

// ---------------------------------------------------------------------------
// Readers. Each takes the value and its field path, checks it and returns it
// typed, or refuses naming the field.

type Obj = Record<string, unknown>;

function isObject(v: unknown): v is Obj {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/**
 * Own fields only: a config's JSON has no prototype to speak of, and a field
 * named like an Object.prototype member must read as absent, not as a method.
 */
function field(o: Obj, name: string): unknown {
  return Object.prototype.hasOwnProperty.call(o, name) ? o[name] : undefined;
}

function join(parent: string, name: string): string {
  return parent === '' ? name : `${parent}.${name}`;
}

/** A key of a free-form map, quoted when it is not a plain identifier. */
function key(parent: string, k: string): string {
  return /^[A-Za-z_][A-Za-z0-9_]*$/.test(k) ? `${parent}.${k}` : `${parent}[${JSON.stringify(k)}]`;
}

function obj(v: unknown, p: string): Obj {
  if (!isObject(v)) refuse(p, 'not an object');
  return v;
}

function arr(v: unknown, p: string): unknown[] {
  if (!Array.isArray(v)) refuse(p, 'not an array');
  return v;
}

function str(v: unknown, p: string): string {
  if (typeof v !== 'string') refuse(p, 'not a string');
  return v;
}

/** A string that reaches the kernel as a C string: no NUL inside. */
function cstr(v: unknown, p: string): string {
  const s = str(v, p);
  if (s.includes('\0')) refuse(p, 'contains a NUL byte');
  return s;
}

function bool(v: unknown, p: string): boolean {
  if (typeof v !== 'boolean') refuse(p, 'not a boolean');
  return v;
}

function uint32(v: unknown, p: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff_ffff) refuse(p, 'not a uint32');
  return v;
}

function uint16(v: unknown, p: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 0xffff) refuse(p, 'not a uint16');
  return v;
}

/** Up to 2^64: 2^64-1 (RLIM_INFINITY, ~0 masks) reads as 2^64 from JSON. */
function uint64(v: unknown, p: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 2 ** 64) refuse(p, 'not a uint64');
  return v;
}

function int64(v: unknown, p: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -(2 ** 63) || v > 2 ** 63) refuse(p, 'not an int64');
  return v;
}

function int(v: unknown, p: string, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) refuse(p, `not an integer from ${min} to ${max}`);
  return v;
}

function oneOf<T extends string>(v: unknown, p: string, all: readonly T[], what: string, supported: readonly T[] = all): T {
  const s = str(v, p);
  if (!(all as readonly string[]).includes(s)) refuse(p, `unknown ${what} '${s}' (known: ${all.join(', ')})`);
  if (!(supported as readonly string[]).includes(s)) {
    refuse(p, `${what} '${s}' is not supported by tsvisor (supported: ${supported.join(', ')})`);
  }
  return s as T;
}

function absPath(v: unknown, p: string): string {
  const s = cstr(v, p);
  if (!s.startsWith('/')) refuse(p, `not an absolute path: '${s}'`);
  return s;
}

/** Reads an optional field: absent (or null, as Go writes a nil slice or map) gives undefined. */
function opt<T>(o: Obj, parent: string, name: string, read: (v: unknown, p: string) => T): T | undefined {
  const v = field(o, name);
  return v === undefined || v === null ? undefined : read(v, join(parent, name));
}

function req<T>(o: Obj, parent: string, name: string, read: (v: unknown, p: string) => T): T {
  const v = field(o, name);
  if (v === undefined || v === null) refuse(join(parent, name), 'required');
  return read(v, join(parent, name));
}

function list<T>(read: (v: unknown, p: string) => T): (v: unknown, p: string) => T[] {
  return (v, p) => arr(v, p).map((e, i) => read(e, `${p}[${i}]`));
}

/** A map of strings, built so that a key like `__proto__` stays a plain key. */
function stringMap(v: unknown, p: string): Record<string, string> {
  const o = obj(v, p);
  return Object.fromEntries(Object.keys(o).map((k) => [k, str(o[k], key(p, k))]));
}

function setIfDefined<T extends object, K extends keyof T>(target: T, k: K, v: T[K] | undefined): void {
  if (v !== undefined) target[k] = v;
}

// ---------------------------------------------------------------------------
// The parser

/**
 * Reads a config.json (already JSON-parsed) of the bundle `bundleDir`. Never
 * throws: a config tsvisor cannot run gives a SpecError naming the field.
 */
export function parseSpec(json: unknown, bundleDir: string): Spec | SpecError {
  try {
    return readSpec(json, path.resolve(bundleDir));
  } catch (e) {
    if (e instanceof Refusal) return e.error;
    // A RangeError from a pathologically deep value is still the config's
    // fault, not tsvisor's; anything else is a bug and is reported as one.
    if (e instanceof RangeError) return new SpecError('', `config is not readable: ${e.message}`);
    throw e;
  }
}

function readSpec(json: unknown, bundle: string): Spec {
  const o = obj(json, 'config');
  for (const [parent, name, why] of REFUSED_FIELDS) {
    const section = field(o, parent);
    if (isObject(section) && field(section, name) !== undefined && field(section, name) !== null) refuse(`${parent}.${name}`, why);
  }
  const ociVersion = req(o, '', 'ociVersion', readVersion);
  const process = req(o, '', 'process', readProcess);
  const root = req(o, '', 'root', (v, p) => readRoot(v, p, bundle));
  const linux = opt(o, '', 'linux', readLinux) ?? emptyLinux();
  const spec: Spec = {
    ociVersion,
    process,
    root,
    hostname: opt(o, '', 'hostname', cstr) ?? '',
    domainname: opt(o, '', 'domainname', cstr) ?? '',
    mounts: opt(o, '', 'mounts', list((v, p) => readMount(v, p, bundle))) ?? [],
    hooks: opt(o, '', 'hooks', readHooks) ?? emptyHooks(),
    annotations: opt(o, '', 'annotations', stringMap) ?? {},
    linux,
  };
  checkConsistency(spec);
  return spec;
}

function readVersion(v: unknown, p: string): string {
  const s = str(v, p);
  // Semantic versioning, as the spec asks; runc writes "1.0.2-dev".
  const m = /^(\d+)\.(\d+)\.(\d+)(?:-[0-9A-Za-z.-]+)?(?:\+[0-9A-Za-z.-]+)?$/.exec(s);
  if (m === null) refuse(p, `not a semantic version: '${s}'`);
  if (m[1] !== '1') refuse(p, `version ${s} is not supported (tsvisor reads ${OCI_VERSION_MIN} to ${OCI_VERSION_MAX} and later 1.x)`);
  return s;
}

function readProcess(v: unknown, p: string): Process {
  const o = obj(v, p);
  const args = req(o, p, 'args', list(cstr));
  if (args.length === 0) refuse(join(p, 'args'), 'must not be empty');
  const process: Process = {
    terminal: opt(o, p, 'terminal', bool) ?? false,
    user: req(o, p, 'user', readUser),
    args,
    env: opt(o, p, 'env', list(readEnv)) ?? [],
    cwd: req(o, p, 'cwd', absPath),
    capabilities: opt(o, p, 'capabilities', readCapabilities) ?? emptyCapabilities(),
    rlimits: opt(o, p, 'rlimits', readRlimits) ?? [],
    noNewPrivileges: opt(o, p, 'noNewPrivileges', bool) ?? false,
  };
  setIfDefined(process, 'consoleSize', opt(o, p, 'consoleSize', readConsoleSize));
  setIfDefined(process, 'oomScoreAdj', opt(o, p, 'oomScoreAdj', (x, q) => int(x, q, -1000, 1000)));
  setIfDefined(process, 'apparmorProfile', opt(o, p, 'apparmorProfile', str));
  setIfDefined(process, 'selinuxLabel', opt(o, p, 'selinuxLabel', str));
  return process;
}

/** Reads a process object alone (`tsvisor exec --process FILE`), naming bad fields from `process`. */
export function parseProcess(json: unknown): Process | SpecError {
  try {
    return readProcess(json, 'process');
  } catch (e) {
    if (e instanceof Refusal) return e.error;
    throw e;
  }
}

function readEnv(v: unknown, p: string): string {
  const s = cstr(v, p);
  // runc refuses these too: execve would pass them on, and no program can read them back.
  const eq = s.indexOf('=');
  if (eq < 0) refuse(p, `not NAME=VALUE: '${s}'`);
  if (eq === 0) refuse(p, `empty variable name: '${s}'`);
  return s;
}

function readUser(v: unknown, p: string): User {
  const o = obj(v, p);
  const user: User = {
    uid: req(o, p, 'uid', uint32),
    gid: req(o, p, 'gid', uint32),
    additionalGids: opt(o, p, 'additionalGids', list(uint32)) ?? [],
  };
  setIfDefined(user, 'umask', opt(o, p, 'umask', (x, q) => int(x, q, 0, 0o777)));
  return user;
}

function readConsoleSize(v: unknown, p: string): ConsoleSize {
  const o = obj(v, p);
  // A window size is two unsigned shorts (struct winsize).
  return { height: req(o, p, 'height', uint16), width: req(o, p, 'width', uint16) };
}

function readCapabilities(v: unknown, p: string): Capabilities {
  const o = obj(v, p);
  const cap = (x: unknown, q: string): Capability => oneOf(x, q, CAPABILITY_NAMES, 'capability');
  const caps = emptyCapabilities();
  for (const set of CAPABILITY_SETS) caps[set] = opt(o, p, set, list(cap)) ?? [];
  return caps;
}

function readRlimits(v: unknown, p: string): Rlimit[] {
  const seen = new Set<string>();
  return arr(v, p).map((e, i) => {
    const q = `${p}[${i}]`;
    const o = obj(e, q);
    const type = req(o, q, 'type', (x, r) => oneOf(x, r, RLIMIT_NAMES, 'rlimit'));
    if (seen.has(type)) refuse(join(q, 'type'), `duplicate rlimit ${type}`);
    seen.add(type);
    const hard = req(o, q, 'hard', uint64);
    const soft = req(o, q, 'soft', uint64);
    // setrlimit(2) says EINVAL for this; say it here, naming the field.
    if (soft > hard) refuse(join(q, 'soft'), `soft limit ${soft} is above the hard limit ${hard}`);
    return { type, hard, soft };
  });
}

function readRoot(v: unknown, p: string, bundle: string): Root {
  const o = obj(v, p);
  const rootPath = req(o, p, 'path', cstr);
  if (rootPath === '') refuse(join(p, 'path'), 'must not be empty');
  return { path: path.resolve(bundle, rootPath), readonly: opt(o, p, 'readonly', bool) ?? false };
}

function isBind(type: string, options: readonly string[]): boolean {
  return type === 'bind' || options.includes('bind') || options.includes('rbind');
}

function readMount(v: unknown, p: string, bundle: string): Mount {
  const o = obj(v, p);
  const dest = req(o, p, 'destination', cstr);
  if (dest === '') refuse(join(p, 'destination'), 'must not be empty');
  const options = opt(o, p, 'options', list(readMountOption)) ?? [];
  // A mount with no type is a bind mount in runc when its options say so (the
  // spec leaves `type` optional on Linux since 1.1).
  const type = opt(o, p, 'type', (x, q) => oneOf<MountType | ''>(x, q, [...MOUNT_TYPES, ''], 'mount type')) ?? '';
  const bind = isBind(type, options);
  if ((type === 'none' || type === '') && !bind) refuse(join(p, 'type'), `'${type}' without a bind or rbind option: nothing to mount`);
  let source = opt(o, p, 'source', cstr) ?? '';
  if (bind) {
    if (source === '') refuse(join(p, 'source'), 'a bind mount needs a source');
    // runc resolves a relative source from the bundle (it runs there).
    source = path.resolve(bundle, source);
  }
  return {
    // runc makes a relative destination absolute (with a warning); so does tsvisor.
    destination: dest.startsWith('/') ? dest : `/${dest}`,
    type: type === '' ? 'none' : type,
    source,
    options,
  };
}

function readMountOption(v: unknown, p: string): string {
  const s = cstr(v, p);
  if (s.includes('=')) {
    // Filesystem data: the filesystem checks the value. A comma would smuggle
    // a second option past this check.
    if (s.includes(',')) refuse(p, `contains a comma: '${s}'`);
    return s;
  }
  if (!MOUNT_OPTIONS.includes(s)) refuse(p, `unknown mount option '${s}' (see \`tsvisor features\`)`);
  return s;
}

function readHooks(v: unknown, p: string): Hooks {
  const o = obj(v, p);
  const hooks = emptyHooks();
  for (const name of HOOK_NAMES) hooks[name] = opt(o, p, name, list(readHook)) ?? [];
  return hooks;
}

function readHook(v: unknown, p: string): Hook {
  const o = obj(v, p);
  const hook: Hook = {
    path: req(o, p, 'path', absPath),
    args: opt(o, p, 'args', list(cstr)) ?? [],
    env: opt(o, p, 'env', list(readEnv)) ?? [],
  };
  setIfDefined(hook, 'timeout', opt(o, p, 'timeout', (x, q) => int(x, q, 1, 2 ** 31 - 1)));
  return hook;
}

function readLinux(v: unknown, p: string): Linux {
  const o = obj(v, p);
  const linux: Linux = {
    namespaces: opt(o, p, 'namespaces', readNamespaces) ?? [],
    uidMappings: opt(o, p, 'uidMappings', list(readIdMapping)) ?? [],
    gidMappings: opt(o, p, 'gidMappings', list(readIdMapping)) ?? [],
    sysctl: opt(o, p, 'sysctl', stringMap) ?? {},
    maskedPaths: opt(o, p, 'maskedPaths', list(absPath)) ?? [],
    readonlyPaths: opt(o, p, 'readonlyPaths', list(absPath)) ?? [],
    devices: opt(o, p, 'devices', list(readDevice)) ?? [],
  };
  setIfDefined(linux, 'resources', opt(o, p, 'resources', readResources));
  setIfDefined(linux, 'cgroupsPath', opt(o, p, 'cgroupsPath', cstr));
  setIfDefined(linux, 'seccomp', opt(o, p, 'seccomp', readSeccomp));
  setIfDefined(linux, 'mountLabel', opt(o, p, 'mountLabel', str));
  const propagation = opt(o, p, 'rootfsPropagation', str);
  // runc reads "" as "not set".
  if (propagation !== undefined && propagation !== '') {
    linux.rootfsPropagation = oneOf(propagation, join(p, 'rootfsPropagation'), ROOTFS_PROPAGATIONS, 'rootfs propagation');
  }
  setIfDefined(linux, 'personality', opt(o, p, 'personality', readPersonality));
  return linux;
}

function readNamespaces(v: unknown, p: string): Namespace[] {
  const seen = new Set<string>();
  return arr(v, p).map((e, i) => {
    const q = `${p}[${i}]`;
    const o = obj(e, q);
    const type = req(o, q, 'type', (x, r) => oneOf(x, r, NAMESPACE_TYPES, 'namespace type', SUPPORTED_NAMESPACES));
    if (seen.has(type)) refuse(join(q, 'type'), `duplicate namespace ${type}`);
    seen.add(type);
    const nsPath = opt(o, q, 'path', cstr);
    if (nsPath === undefined || nsPath === '') return { type };
    if (!JOINABLE_NAMESPACES.includes(type)) {
      refuse(join(q, 'path'), `joining an existing ${type} namespace is not supported by tsvisor (only: ${JOINABLE_NAMESPACES.join(', ')})`);
    }
    return { type, path: absPath(nsPath, join(q, 'path')) };
  });
}

function readIdMapping(v: unknown, p: string): IdMapping {
  const o = obj(v, p);
  const m = { containerID: req(o, p, 'containerID', uint32), hostID: req(o, p, 'hostID', uint32), size: req(o, p, 'size', uint32) };
  if (m.size === 0) refuse(join(p, 'size'), 'must not be 0');
  return m;
}

function readDevice(v: unknown, p: string): Device {
  const o = obj(v, p);
  const type = req(o, p, 'type', (x, q) => oneOf(x, q, ['c', 'b', 'u', 'p'] as const, 'device type'));
  const dev: Device = { type, path: req(o, p, 'path', absPath) };
  // A FIFO has no numbers; every other device needs both.
  const need = type !== 'p';
  const major = need ? req(o, p, 'major', int64) : opt(o, p, 'major', int64);
  const minor = need ? req(o, p, 'minor', int64) : opt(o, p, 'minor', int64);
  setIfDefined(dev, 'major', major);
  setIfDefined(dev, 'minor', minor);
  setIfDefined(dev, 'fileMode', opt(o, p, 'fileMode', (x, q) => int(x, q, 0, 0o7777)));
  setIfDefined(dev, 'uid', opt(o, p, 'uid', uint32));
  setIfDefined(dev, 'gid', opt(o, p, 'gid', uint32));
  return dev;
}

function readResources(v: unknown, p: string): Resources {
  const o = obj(v, p);
  const r: Resources = {
    devices: opt(o, p, 'devices', list(readDeviceRule)) ?? [],
    hugepageLimits: opt(o, p, 'hugepageLimits', list((x, q) => {
      const h = obj(x, q);
      return { pageSize: req(h, q, 'pageSize', str), limit: req(h, q, 'limit', uint64) };
    })) ?? [],
    rdma: opt(o, p, 'rdma', (x, q) => {
      const m = obj(x, q);
      return Object.fromEntries(Object.keys(m).map((k) => {
        const kp = key(q, k);
        const e = obj(m[k], kp);
        const entry: { hcaHandles?: number; hcaObjects?: number } = {};
        setIfDefined(entry, 'hcaHandles', opt(e, kp, 'hcaHandles', uint32));
        setIfDefined(entry, 'hcaObjects', opt(e, kp, 'hcaObjects', uint32));
        return [k, entry];
      }));
    }) ?? {},
    unified: opt(o, p, 'unified', stringMap) ?? {},
  };
  setIfDefined(r, 'memory', opt(o, p, 'memory', readMemory));
  setIfDefined(r, 'cpu', opt(o, p, 'cpu', readCpu));
  setIfDefined(r, 'pids', opt(o, p, 'pids', (x, q) => ({ limit: req(obj(x, q), q, 'limit', int64) })));
  setIfDefined(r, 'blockIO', opt(o, p, 'blockIO', readBlockIO));
  setIfDefined(r, 'network', opt(o, p, 'network', (x, q) => {
    const n = obj(x, q);
    const net: NonNullable<Resources['network']> = {
      priorities: opt(n, q, 'priorities', list((y, r2) => {
        const e = obj(y, r2);
        return { name: req(e, r2, 'name', str), priority: req(e, r2, 'priority', uint32) };
      })) ?? [],
    };
    setIfDefined(net, 'classID', opt(n, q, 'classID', uint32));
    return net;
  }));
  return r;
}

function readDeviceRule(v: unknown, p: string): DeviceCgroupRule {
  const o = obj(v, p);
  const rule: DeviceCgroupRule = { allow: req(o, p, 'allow', bool) };
  setIfDefined(rule, 'type', opt(o, p, 'type', (x, q) => oneOf(x, q, ['a', 'c', 'b'] as const, 'device rule type')));
  setIfDefined(rule, 'major', opt(o, p, 'major', int64));
  setIfDefined(rule, 'minor', opt(o, p, 'minor', int64));
  setIfDefined(rule, 'access', opt(o, p, 'access', (x, q) => {
    const s = str(x, q);
    if (!/^[rwm]*$/.test(s)) refuse(q, `not some of r, w and m: '${s}'`);
    return s;
  }));
  return rule;
}

function readMemory(v: unknown, p: string): MemoryResources {
  const o = obj(v, p);
  const m: MemoryResources = {};
  for (const k of ['limit', 'reservation', 'swap', 'kernel', 'kernelTCP'] as const) setIfDefined(m, k, opt(o, p, k, int64));
  setIfDefined(m, 'swappiness', opt(o, p, 'swappiness', uint64));
  for (const k of ['disableOOMKiller', 'useHierarchy', 'checkBeforeUpdate'] as const) setIfDefined(m, k, opt(o, p, k, bool));
  return m;
}

function readCpu(v: unknown, p: string): CpuResources {
  const o = obj(v, p);
  const c: CpuResources = {};
  for (const k of ['shares', 'burst', 'period', 'realtimePeriod'] as const) setIfDefined(c, k, opt(o, p, k, uint64));
  for (const k of ['quota', 'realtimeRuntime', 'idle'] as const) setIfDefined(c, k, opt(o, p, k, int64));
  for (const k of ['cpus', 'mems'] as const) setIfDefined(c, k, opt(o, p, k, str));
  return c;
}

function readBlockIO(v: unknown, p: string): BlockIO {
  const o = obj(v, p);
  const b: BlockIO = {
    weightDevice: opt(o, p, 'weightDevice', list((x, q) => {
      const d = obj(x, q);
      const wd: BlockIO['weightDevice'][number] = { major: req(d, q, 'major', int64), minor: req(d, q, 'minor', int64) };
      setIfDefined(wd, 'weight', opt(d, q, 'weight', uint16));
      setIfDefined(wd, 'leafWeight', opt(d, q, 'leafWeight', uint16));
      return wd;
    })) ?? [],
    throttleReadBpsDevice: [],
    throttleWriteBpsDevice: [],
    throttleReadIOPSDevice: [],
    throttleWriteIOPSDevice: [],
  };
  for (const k of THROTTLE_LISTS) {
    b[k] = opt(o, p, k, list((x, q) => {
      const d = obj(x, q);
      return { major: req(d, q, 'major', int64), minor: req(d, q, 'minor', int64), rate: req(d, q, 'rate', uint64) };
    })) ?? [];
  }
  setIfDefined(b, 'weight', opt(o, p, 'weight', uint16));
  setIfDefined(b, 'leafWeight', opt(o, p, 'leafWeight', uint16));
  return b;
}

/** An errno a filter may return: SECCOMP_RET_DATA is 16 bits, and errno 0 would mean success. */
function errnoRet(v: unknown, p: string): number {
  return int(v, p, 1, 4095);
}

function readSeccomp(v: unknown, p: string): Seccomp {
  const o = obj(v, p);
  const action = (x: unknown, q: string): SeccompAction => oneOf(x, q, SECCOMP_ACTIONS, 'seccomp action', SUPPORTED_SECCOMP_ACTIONS);
  const seccomp: Seccomp = {
    defaultAction: req(o, p, 'defaultAction', action),
    defaultErrnoRet: opt(o, p, 'defaultErrnoRet', errnoRet) ?? EPERM,
    architectures: opt(o, p, 'architectures', list((x, q) => oneOf(x, q, SECCOMP_ARCHES, 'seccomp architecture'))) ?? [],
    flags: opt(o, p, 'flags', list((x, q) => oneOf(x, q, SECCOMP_FLAGS, 'seccomp flag', SUPPORTED_SECCOMP_FLAGS))) ?? [],
    syscalls: opt(o, p, 'syscalls', list((x, q) => readSeccompRule(x, q, action))) ?? [],
  };
  // A listener only serves a NOTIFY action, which tsvisor refuses above.
  const listener = opt(o, p, 'listenerPath', str);
  if (listener !== undefined && listener !== '') refuse(join(p, 'listenerPath'), 'seccomp agents are not supported by tsvisor');
  return seccomp;
}

const EPERM = 1;

function readSeccompRule(v: unknown, p: string, action: (v: unknown, p: string) => SeccompAction): SeccompRule {
  const o = obj(v, p);
  const names = req(o, p, 'names', list((x, q) => {
    const s = str(x, q);
    if (!/^[a-z0-9_]+$/.test(s)) refuse(q, `not a syscall name: '${s}'`);
    return s;
  }));
  if (names.length === 0) refuse(join(p, 'names'), 'must not be empty');
  return {
    names,
    action: req(o, p, 'action', action),
    errnoRet: opt(o, p, 'errnoRet', errnoRet) ?? EPERM,
    args: opt(o, p, 'args', list((x, q) => {
      const a = obj(x, q);
      return {
        index: req(a, q, 'index', (y, r) => int(y, r, 0, 5)),
        value: req(a, q, 'value', uint64),
        valueTwo: opt(a, q, 'valueTwo', uint64) ?? 0,
        op: req(a, q, 'op', (y, r) => oneOf(y, r, SECCOMP_OPERATORS, 'seccomp operator')),
      };
    })) ?? [],
  };
}

function readPersonality(v: unknown, p: string): Personality {
  const o = obj(v, p);
  const domain = req(o, p, 'domain', (x, q) => oneOf(x, q, PERSONALITY_DOMAINS, 'personality domain', ['LINUX'] as const));
  return { domain: domain as 'LINUX', flags: opt(o, p, 'flags', list(str)) ?? [] };
}

/** Rules between fields, after each field was read on its own (runc's validate). */
function checkConsistency(spec: Spec): void {
  const linux = spec.linux;
  const has = (t: NamespaceType): boolean => linux.namespaces.some((n) => n.type === t);
  if ((linux.uidMappings.length > 0 || linux.gidMappings.length > 0) && !has('user')) {
    refuse('linux.uidMappings', 'id mappings need a user namespace in linux.namespaces');
  }
  if (has('user') && (linux.uidMappings.length === 0 || linux.gidMappings.length === 0)) {
    refuse('linux.namespaces', 'a user namespace needs linux.uidMappings and linux.gidMappings');
  }
  if (spec.hostname !== '' && !has('uts')) refuse('hostname', 'setting the hostname needs a uts namespace in linux.namespaces');
  if (spec.domainname !== '' && !has('uts')) refuse('domainname', 'setting the domainname needs a uts namespace in linux.namespaces');
  for (const k of Object.keys(linux.sysctl)) {
    const p = key('linux.sysctl', k);
    if (k === 'kernel.hostname' || k === 'kernel.domainname') refuse(p, `conflicts with the spec's ${k.slice(7)} field`);
    if (k.startsWith('net.')) {
      if (!has('network')) refuse(p, 'a net.* sysctl needs a network namespace of its own');
      continue;
    }
    if (!NAMESPACED_SYSCTLS.has(k) && !NAMESPACED_SYSCTL_PREFIXES.some((pre) => k.startsWith(pre))) {
      refuse(p, 'not a namespaced sysctl: setting it would change the host');
    }
  }
}

// ---------------------------------------------------------------------------
// Empty sections

function emptyCapabilities(): Capabilities {
  return { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };
}

export function emptyHooks(): Hooks {
  return { prestart: [], createRuntime: [], createContainer: [], startContainer: [], poststart: [], poststop: [] };
}

function emptyLinux(): Linux {
  return { namespaces: [], uidMappings: [], gidMappings: [], sysctl: {}, maskedPaths: [], readonlyPaths: [], devices: [] };
}

// ---------------------------------------------------------------------------
// The OCI state

/** Reads a state document (tsvisor's own file, or another runtime's `state` output). */
export function parseState(json: unknown): State | SpecError {
  try {
    const o = obj(json, 'state');
    const state: State = {
      ociVersion: req(o, '', 'ociVersion', readVersion),
      id: req(o, '', 'id', str),
      status: req(o, '', 'status', (v, p) => oneOf(v, p, STATUSES, 'status')),
      bundle: req(o, '', 'bundle', absPath),
    };
    setIfDefined(state, 'pid', opt(o, '', 'pid', (v, p) => int(v, p, 0, 2 ** 22)));
    setIfDefined(state, 'annotations', opt(o, '', 'annotations', stringMap));
    return state;
  } catch (e) {
    if (e instanceof Refusal) return e.error;
    throw e;
  }
}
