// What `tsvisor spec` writes and what `tsvisor features` prints, both built
// from the constants of spec.ts so that neither can offer what the parser
// refuses.
import {
  CAPABILITY_NAMES,
  HOOK_NAMES,
  MOUNT_OPTIONS,
  OCI_VERSION,
  OCI_VERSION_MAX,
  OCI_VERSION_MIN,
  SECCOMP_ARCHES,
  SECCOMP_FLAGS,
  SECCOMP_OPERATORS,
  SUPPORTED_NAMESPACES,
  SUPPORTED_SECCOMP_ACTIONS,
  SUPPORTED_SECCOMP_FLAGS,
  type Capability,
  type NamespaceType,
} from './spec.js';

/** A JSON value: what config.json and the features document are made of. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

/** runc's default set: what Docker's default drops to, minus the rest. */
export const DEFAULT_CAPABILITIES: readonly Capability[] = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

export const DEFAULT_MASKED_PATHS: readonly string[] = [
  '/proc/acpi', '/proc/asound', '/proc/kcore', '/proc/keys', '/proc/latency_stats', '/proc/timer_list',
  '/proc/timer_stats', '/proc/sched_debug', '/sys/firmware', '/proc/scsi',
];
export const DEFAULT_READONLY_PATHS: readonly string[] = ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'];

/** runc 1.2's list: runc 1.1's, plus a cgroup namespace (tsvisor makes one anyway). */
export const DEFAULT_NAMESPACES: readonly NamespaceType[] = ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup'];

export const DEFAULT_HOSTNAME = 'tsvisor';

/**
 * The starter config.json of `tsvisor spec`, in runc's shape and field order
 * (`runc spec` on Debian's runc 1.1.5), with the differences:
 * - ociVersion is the version tsvisor implements, not "1.0.2-dev";
 * - hostname "tsvisor", not "runc";
 * - a cgroup namespace, as runc 1.2 adds (the sandbox has one whether listed or not);
 * - `--rootless` maps container root to the caller's uid and gid with
 *   process.getuid()/getgid(), as runc does with geteuid()/getegid().
 */
export function defaultConfig(rootless: boolean): Json {
  const caps = (): Json => [...DEFAULT_CAPABILITIES];
  const devpts = ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620'];
  // A rootless container cannot chown its ptys to a group it has no mapping for.
  if (!rootless) devpts.push('gid=5');
  const mounts: Json[] = [
    { destination: '/proc', type: 'proc', source: 'proc' },
    { destination: '/dev', type: 'tmpfs', source: 'tmpfs', options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'] },
    { destination: '/dev/pts', type: 'devpts', source: 'devpts', options: devpts },
    { destination: '/dev/shm', type: 'tmpfs', source: 'shm', options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'] },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    // Without its own network namespace a container may not mount a sysfs
    // (the kernel refuses it), so a rootless one binds the host's, as runc does.
    rootless
      ? { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] }
      : { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    { destination: '/sys/fs/cgroup', type: 'cgroup', source: 'cgroup', options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'] },
  ];
  const linux: { [key: string]: Json } = {};
  if (rootless) {
    // As runc: container root is the caller, no network namespace of its own,
    // and no cgroup resources (a rootless caller cannot make cgroups).
    linux.uidMappings = [{ containerID: 0, hostID: process.getuid?.() ?? 0, size: 1 }];
    linux.gidMappings = [{ containerID: 0, hostID: process.getgid?.() ?? 0, size: 1 }];
    linux.namespaces = [...DEFAULT_NAMESPACES.filter((n) => n !== 'network'), 'user'].map((type) => ({ type }));
  } else {
    linux.resources = { devices: [{ allow: false, access: 'rwm' }] };
    linux.namespaces = DEFAULT_NAMESPACES.map((type) => ({ type }));
  }
  linux.maskedPaths = [...DEFAULT_MASKED_PATHS];
  linux.readonlyPaths = [...DEFAULT_READONLY_PATHS];
  return {
    ociVersion: OCI_VERSION,
    process: {
      terminal: true,
      user: { uid: 0, gid: 0 },
      args: ['sh'],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: { bounding: caps(), effective: caps(), permitted: caps(), ambient: caps() },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: DEFAULT_HOSTNAME,
    mounts,
    linux,
  };
}

/**
 * The runtime-spec `features` document (features.md, spec v1.1+): what this
 * tsvisor accepts. Each list is the parser's own.
 */
export function features(version: string): Json {
  return {
    ociVersionMin: OCI_VERSION_MIN,
    ociVersionMax: OCI_VERSION_MAX,
    hooks: [...HOOK_NAMES],
    mountOptions: [...MOUNT_OPTIONS],
    linux: {
      // The sandbox always has a user namespace of its own, mapping ids one to
      // one; a spec that asks for one (with its mappings) is refused (translate.ts).
      namespaces: SUPPORTED_NAMESPACES.filter((n) => n !== 'user'),
      capabilities: [...CAPABILITY_NAMES],
      // v1 controllers are what this host has; v2 where the host has it is
      // issue 6's plan. The systemd drivers are accepted as a flag only.
      cgroup: { v1: true, v2: false, systemd: false, systemdUser: false, rdma: false },
      seccomp: {
        enabled: true,
        actions: [...SUPPORTED_SECCOMP_ACTIONS],
        operators: [...SECCOMP_OPERATORS],
        archs: [...SECCOMP_ARCHES],
        knownFlags: [...SECCOMP_FLAGS],
        supportedFlags: [...SUPPORTED_SECCOMP_FLAGS],
      },
      // Profiles and labels are accepted and not applied (see Process in spec.ts).
      apparmor: { enabled: false },
      selinux: { enabled: false },
      intelRdt: { enabled: false },
      mountExtensions: { idmap: { enabled: false } },
    },
    annotations: {
      'dev.tsvisor.version': version,
    },
  };
}
