// The OCI spec parser (cli/oci/spec.ts), tsvisor's default config, and the
// state directory (cli/oci/state.ts): ids, atomic records, and per-container
// locks between real processes.
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD } from '../sentry/abi/linux.js';
import { defaultConfig, DEFAULT_CAPABILITIES, DEFAULT_HOSTNAME, DEFAULT_MASKED_PATHS, DEFAULT_NAMESPACES, DEFAULT_READONLY_PATHS, type Json } from '../cli/oci/defaults.js';
import {
  CAPABILITIES,
  CAPABILITY_NAMES,
  HOOK_NAMES,
  MOUNT_OPTIONS,
  MOUNT_TYPES,
  parseSpec,
  RLIM_INFINITY,
  RLIMIT_NAMES,
  SECCOMP_ARCHES,
  SECCOMP_OPERATORS,
  SpecError,
  SUPPORTED_NAMESPACES,
  SUPPORTED_SECCOMP_ACTIONS,
  SUPPORTED_SECCOMP_FLAGS,
  type IdMapping,
  type Mount,
  type NamespaceType,
  type Spec,
} from '../cli/oci/spec.js';
import { idError, newRecord, StateDir } from '../cli/oci/state.js';
import { CommandError } from '../cli/usage.js';

const BUNDLE = '/bundles/b1';
const tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-oci-spec-'));
afterAll(() => fs.rmSync(tmpRoot, { recursive: true, force: true }));

function ok(json: unknown, bundle = BUNDLE): Spec {
  const r = parseSpec(json, bundle);
  if (r instanceof SpecError) throw new Error(`refused: ${r.message}`);
  return r;
}

function refused(json: unknown): SpecError {
  const r = parseSpec(json, BUNDLE);
  if (!(r instanceof SpecError)) throw new Error(`accepted: ${JSON.stringify(json)}`);
  return r;
}

/** A deep copy through JSON, as a config file would give it. */
function viaJson<T>(v: T): unknown {
  return JSON.parse(JSON.stringify(v)) as unknown;
}

// ---------------------------------------------------------------------------
// Arbitraries for valid, normalized specs

const component = fc.stringMatching(/^[a-z0-9_-]{1,8}$/);
const absPath = fc.array(component, { minLength: 1, maxLength: 4 }).map((c) => '/' + c.join('/'));
const text = fc.string({ maxLength: 12 }).filter((s) => !s.includes('\0'));
const envEntry = fc.tuple(fc.stringMatching(/^[A-Z_][A-Z0-9_]{0,6}$/), text).map(([k, v]) => `${k}=${v}`);
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const int64 = fc.integer({ min: Number.MIN_SAFE_INTEGER, max: Number.MAX_SAFE_INTEGER });
const uint64 = fc.oneof(fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER }), fc.constant(RLIM_INFINITY));
const caps = fc.uniqueArray(fc.constantFrom(...CAPABILITY_NAMES), { maxLength: 5 });
const opt = <T>(a: fc.Arbitrary<T>): fc.Arbitrary<T | undefined> => fc.option(a, { nil: undefined });
const smallMap = <T>(v: fc.Arbitrary<T>): fc.Arbitrary<Record<string, T>> =>
  fc.array(fc.tuple(fc.stringMatching(/^[a-z][a-z.]{0,10}$/), v), { maxLength: 3 }).map((e) => Object.fromEntries(e));

const hook = fc.record({ path: absPath, args: fc.array(text, { maxLength: 3 }), env: fc.array(envEntry, { maxLength: 2 }), timeout: opt(fc.integer({ min: 1, max: 600 })) });

const nonBindOptions = MOUNT_OPTIONS.filter((o) => o !== 'bind' && o !== 'rbind');
const mountOption = fc.oneof(fc.constantFrom(...nonBindOptions), fc.stringMatching(/^[a-z]{1,6}=[a-z0-9]{0,6}$/));
const mount: fc.Arbitrary<Mount> = fc
  .record({ destination: absPath, type: fc.constantFrom(...MOUNT_TYPES), source: absPath, options: fc.array(mountOption, { maxLength: 4 }) })
  .map((m) => (m.type === 'bind' || m.type === 'none' ? { ...m, options: [...m.options, 'rbind'] } : m));

const seccomp = fc.record({
  defaultAction: fc.constantFrom(...SUPPORTED_SECCOMP_ACTIONS),
  defaultErrnoRet: fc.integer({ min: 1, max: 4095 }),
  architectures: fc.uniqueArray(fc.constantFrom(...SECCOMP_ARCHES), { maxLength: 3 }),
  flags: fc.uniqueArray(fc.constantFrom(...SUPPORTED_SECCOMP_FLAGS)),
  syscalls: fc.array(fc.record({
    names: fc.array(fc.stringMatching(/^[a-z0-9_]{1,12}$/), { minLength: 1, maxLength: 4 }),
    action: fc.constantFrom(...SUPPORTED_SECCOMP_ACTIONS),
    errnoRet: fc.integer({ min: 1, max: 4095 }),
    args: fc.array(fc.record({ index: fc.integer({ min: 0, max: 5 }), value: uint64, valueTwo: uint64, op: fc.constantFrom(...SECCOMP_OPERATORS) }), { maxLength: 2 }),
  }), { maxLength: 4 }),
});

const throttle = fc.array(fc.record({ major: int64, minor: int64, rate: uint64 }), { maxLength: 2 });
const resources = fc.record({
  devices: fc.array(fc.record({ allow: fc.boolean(), type: opt(fc.constantFrom('a' as const, 'c' as const, 'b' as const)), major: opt(int64), minor: opt(int64), access: opt(fc.stringMatching(/^[rwm]{0,3}$/)) }), { maxLength: 3 }),
  memory: opt(fc.record({ limit: opt(int64), reservation: opt(int64), swap: opt(int64), kernel: opt(int64), kernelTCP: opt(int64), swappiness: opt(uint64), disableOOMKiller: opt(fc.boolean()), useHierarchy: opt(fc.boolean()), checkBeforeUpdate: opt(fc.boolean()) })),
  cpu: opt(fc.record({ shares: opt(uint64), quota: opt(int64), burst: opt(uint64), period: opt(uint64), realtimeRuntime: opt(int64), realtimePeriod: opt(uint64), cpus: opt(text), mems: opt(text), idle: opt(int64) })),
  pids: opt(fc.record({ limit: int64 })),
  blockIO: opt(fc.record({
    weight: opt(fc.integer({ min: 0, max: 0xffff })),
    leafWeight: opt(fc.integer({ min: 0, max: 0xffff })),
    weightDevice: fc.array(fc.record({ major: int64, minor: int64, weight: opt(fc.integer({ min: 0, max: 1000 })), leafWeight: opt(fc.integer({ min: 0, max: 1000 })) }), { maxLength: 2 }),
    throttleReadBpsDevice: throttle, throttleWriteBpsDevice: throttle, throttleReadIOPSDevice: throttle, throttleWriteIOPSDevice: throttle,
  })),
  hugepageLimits: fc.array(fc.record({ pageSize: fc.constantFrom('2MB', '1GB'), limit: uint64 }), { maxLength: 2 }),
  network: opt(fc.record({ classID: opt(uint32), priorities: fc.array(fc.record({ name: text, priority: uint32 }), { maxLength: 2 }) })),
  rdma: smallMap(fc.record({ hcaHandles: opt(uint32), hcaObjects: opt(uint32) })),
  unified: smallMap(text),
});

const NAMESPACED_SYSCTLS = ['kernel.msgmax', 'kernel.sem', 'kernel.shmmax', 'fs.mqueue.msg_max'];
const NET_SYSCTLS = ['net.ipv4.ip_unprivileged_port_start', 'net.ipv4.ping_group_range'];

const specArb: fc.Arbitrary<Spec> = fc
  .uniqueArray(fc.constantFrom(...SUPPORTED_NAMESPACES), { maxLength: SUPPORTED_NAMESPACES.length })
  .chain((nsTypes: NamespaceType[]) => {
    const has = (t: NamespaceType): boolean => nsTypes.includes(t);
    const mapping = fc.record({ containerID: uint32, hostID: uint32, size: fc.integer({ min: 1, max: 0xffffffff }) });
    const mappings: fc.Arbitrary<IdMapping[]> = has('user') ? fc.array(mapping, { minLength: 1, maxLength: 3 }) : fc.constant([]);
    const sysctlKeys = [...NAMESPACED_SYSCTLS, ...(has('network') ? NET_SYSCTLS : [])];
    const rlimits = fc.uniqueArray(fc.constantFrom(...RLIMIT_NAMES), { maxLength: 4 }).chain((types) =>
      fc.tuple(...types.map((type) => fc.tuple(uint64, uint64).map(([a, b]) => ({ type, soft: Math.min(a, b), hard: Math.max(a, b) })))));
    return fc.record({
      ociVersion: fc.constantFrom('1.0.0', '1.0.2-dev', '1.1.0', '1.2.0', '1.2.1'),
      process: fc.record({
        terminal: fc.boolean(),
        consoleSize: opt(fc.record({ height: fc.integer({ min: 0, max: 0xffff }), width: fc.integer({ min: 0, max: 0xffff }) })),
        user: fc.record({ uid: uint32, gid: uint32, umask: opt(fc.integer({ min: 0, max: 0o777 })), additionalGids: fc.array(uint32, { maxLength: 3 }) }),
        args: fc.array(text, { minLength: 1, maxLength: 4 }),
        env: fc.array(envEntry, { maxLength: 4 }),
        cwd: absPath,
        capabilities: fc.record({ bounding: caps, effective: caps, inheritable: caps, permitted: caps, ambient: caps }),
        rlimits: rlimits.map((r) => [...r]),
        noNewPrivileges: fc.boolean(),
        oomScoreAdj: opt(fc.integer({ min: -1000, max: 1000 })),
        apparmorProfile: opt(text),
        selinuxLabel: opt(text),
      }),
      root: fc.record({ path: absPath, readonly: fc.boolean() }),
      hostname: has('uts') ? text : fc.constant(''),
      domainname: has('uts') ? text : fc.constant(''),
      mounts: fc.array(mount, { maxLength: 4 }),
      hooks: fc.record(Object.fromEntries(HOOK_NAMES.map((h) => [h, fc.array(hook, { maxLength: 2 })])) as Record<(typeof HOOK_NAMES)[number], fc.Arbitrary<Spec['hooks']['prestart']>>),
      annotations: smallMap(text),
      linux: fc.record({
        namespaces: fc.constant(nsTypes).chain((ts) => fc.tuple(...ts.map((type) =>
          type === 'network' ? fc.oneof(fc.constant({ type }), absPath.map((p) => ({ type, path: p }))) : fc.constant({ type })))).map((n) => [...n]),
        uidMappings: mappings,
        gidMappings: mappings,
        sysctl: fc.uniqueArray(fc.constantFrom(...sysctlKeys), { maxLength: 3 }).chain((ks) => fc.tuple(...ks.map((k) => text.map((v) => [k, v] as const)))).map((e) => Object.fromEntries(e)),
        resources: opt(resources),
        cgroupsPath: opt(fc.oneof(absPath, fc.stringMatching(/^[a-z]{1,5}:[a-z]{1,5}:[a-z]{1,5}$/))),
        seccomp: opt(seccomp),
        maskedPaths: fc.array(absPath, { maxLength: 3 }),
        readonlyPaths: fc.array(absPath, { maxLength: 3 }),
        mountLabel: opt(text),
        rootfsPropagation: opt(fc.constantFrom('shared' as const, 'rslave' as const, 'private' as const, 'runbindable' as const)),
        devices: fc.array(fc.oneof(
          fc.record({ type: fc.constantFrom('c' as const, 'b' as const, 'u' as const), path: absPath, major: int64, minor: int64, fileMode: opt(fc.integer({ min: 0, max: 0o7777 })), uid: opt(uint32), gid: opt(uint32) }),
          fc.record({ type: fc.constant('p' as const), path: absPath, fileMode: opt(fc.integer({ min: 0, max: 0o7777 })) }),
        ), { maxLength: 2 }),
        personality: opt(fc.record({ domain: fc.constant('LINUX' as const), flags: fc.array(text, { maxLength: 2 }) })),
      }),
    });
  });

/** Any JSON, and JSON shaped like a config with random values in its sections. */
const configish = fc.oneof(
  fc.jsonValue(),
  fc.record({
    ociVersion: fc.oneof(fc.constant('1.0.2'), fc.jsonValue()),
    process: fc.oneof(fc.jsonValue(), fc.record({ args: fc.jsonValue(), cwd: fc.jsonValue(), user: fc.jsonValue(), env: fc.jsonValue(), capabilities: fc.jsonValue(), rlimits: fc.jsonValue() })),
    root: fc.oneof(fc.jsonValue(), fc.record({ path: fc.jsonValue(), readonly: fc.jsonValue() })),
    mounts: fc.jsonValue(),
    hooks: fc.jsonValue(),
    linux: fc.oneof(fc.jsonValue(), fc.record({ namespaces: fc.jsonValue(), seccomp: fc.jsonValue(), resources: fc.jsonValue(), sysctl: fc.jsonValue() })),
  }, { requiredKeys: [] }),
);

// ---------------------------------------------------------------------------

describe('parseSpec', () => {
  it('never throws: any JSON gives a spec or a SpecError', () => {
    fc.assert(fc.property(configish, (json) => {
      const r = parseSpec(json, BUNDLE);
      expect(r instanceof SpecError || (typeof r === 'object' && r !== null && 'process' in r)).toBe(true);
    }), { numRuns: 2000 });
  });

  it('never throws on a valid spec with one value replaced by any JSON', () => {
    fc.assert(fc.property(specArb, fc.jsonValue(), fc.nat(), (spec, junk, pick) => {
      const json = viaJson(spec) as Record<string, unknown>;
      const holders: Array<[Record<string, unknown> | unknown[], string | number]> = [];
      const walk = (v: unknown): void => {
        if (Array.isArray(v)) v.forEach((e, i) => { holders.push([v, i]); walk(e); });
        else if (typeof v === 'object' && v !== null) for (const k of Object.keys(v)) { holders.push([v as Record<string, unknown>, k]); walk((v as Record<string, unknown>)[k]); }
      };
      walk(json);
      const [holder, k] = holders[pick % holders.length]!;
      (holder as Record<string | number, unknown>)[k] = junk;
      parseSpec(json, BUNDLE);
    }), { numRuns: 150 });
  });

  it('round-trips every valid spec: parse(JSON(spec)) is spec', () => {
    fc.assert(fc.property(specArb, (spec) => {
      const parsed = ok(viaJson(spec));
      expect(parsed).toEqual(spec);
      // And a normalized spec is a fixed point, whatever the bundle.
      expect(ok(viaJson(parsed), '/elsewhere')).toEqual(parsed);
    }), { numRuns: 100 });
  });

  it('accepts unknown fields and other platforms\' sections, as runc does', () => {
    const base = defaultConfig(false) as Record<string, unknown>;
    const spec = ok({ ...base, windows: { layerFolders: [] }, vm: {}, someFutureField: { x: 1 }, process: { ...(base.process as object), futureProcessField: true } });
    expect(spec.hostname).toBe(DEFAULT_HOSTNAME);
  });

  it('resolves root.path and relative bind sources against the bundle, and relative destinations against /', () => {
    const base = defaultConfig(false) as Record<string, unknown>;
    const spec = ok({ ...base, mounts: [{ destination: 'data', type: 'bind', source: 'host-data', options: ['ro'] }, { destination: '/t', type: 'tmpfs', source: 'tmpfs' }] }, '/srv/bundle');
    expect(spec.root.path).toBe('/srv/bundle/rootfs');
    expect(spec.mounts[0]).toEqual({ destination: '/data', type: 'bind', source: '/srv/bundle/host-data', options: ['ro'] });
    expect(spec.mounts[1]!.source).toBe('tmpfs');
  });

  it('fills the defaults of absent optional sections', () => {
    const spec = ok({ ociVersion: '1.0.0', process: { args: ['/bin/true'], cwd: '/', user: { uid: 0, gid: 0 } }, root: { path: 'rootfs' } });
    expect(spec.process.env).toEqual([]);
    expect(spec.process.terminal).toBe(false);
    expect(spec.process.capabilities).toEqual({ bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] });
    expect(spec.root).toEqual({ path: '/bundles/b1/rootfs', readonly: false });
    expect(spec.hooks.prestart).toEqual([]);
    expect(spec.linux.namespaces).toEqual([]);
    expect(spec.mounts).toEqual([]);
    expect(spec.linux.seccomp).toBeUndefined();
    const sc = ok({ ociVersion: '1.0.0', process: { args: ['x'], cwd: '/', user: { uid: 0, gid: 0 } }, root: { path: '/r' }, linux: { seccomp: { defaultAction: 'SCMP_ACT_ERRNO', syscalls: [{ names: ['mount'], action: 'SCMP_ACT_ERRNO' }] } } });
    // runc's default errno is EPERM.
    expect(sc.linux.seccomp?.defaultErrnoRet).toBe(1);
    expect(sc.linux.seccomp?.syscalls[0]?.errnoRet).toBe(1);
  });

  it('reads 2^64-1 (Docker\'s "unlimited") as RLIM_INFINITY', () => {
    const base = defaultConfig(false) as { process: Record<string, unknown> };
    const json = JSON.parse(JSON.stringify({ ...base, process: { ...base.process, rlimits: [] } }).replace('"rlimits":[]', '"rlimits":[{"type":"RLIMIT_CORE","hard":18446744073709551615,"soft":18446744073709551615}]')) as unknown;
    expect(ok(json).process.rlimits).toEqual([{ type: 'RLIMIT_CORE', hard: RLIM_INFINITY, soft: RLIM_INFINITY }]);
  });

  // Each case breaks one field of a valid config; the error must name it.
  const base = (): Record<string, unknown> => ({
    ...(viaJson(defaultConfig(false)) as Record<string, unknown>),
    hooks: { prestart: [{ path: '/usr/bin/hook', args: ['hook'], timeout: 5 }] },
  });
  const DELETE = Symbol('delete');
  type Edit = [at: ReadonlyArray<string | number>, value: unknown];
  const NS_WITHOUT = (t: string): Edit => [['linux', 'namespaces'], DEFAULT_NAMESPACES.filter((n) => n !== t).map((type) => ({ type }))];
  const WITH_USER: Edit = [['linux', 'namespaces', 6], { type: 'user' }];
  const ALLOW = (rule: object): Edit => [['linux', 'seccomp'], { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['clone'], action: 'SCMP_ACT_ERRNO', ...rule }] }];
  const CASES: Array<[field: string, edits: Edit[], reason?: RegExp]> = [
    ['ociVersion', [[['ociVersion'], 1]], /not a string/],
    ['ociVersion', [[['ociVersion'], '2.0.0']], /not supported/],
    ['ociVersion', [[['ociVersion'], DELETE]], /required/],
    ['process', [[['process'], DELETE]], /required/],
    ['process.args', [[['process', 'args'], []]], /empty/],
    ['process.args[1]', [[['process', 'args'], ['sh', 3]]], /not a string/],
    ['process.args[0]', [[['process', 'args'], ['s\0h']]], /NUL/],
    ['process.env[0]', [[['process', 'env'], ['NOEQUALS']]], /NAME=VALUE/],
    ['process.env[1]', [[['process', 'env'], ['A=1', '=x']]], /empty variable name/],
    ['process.cwd', [[['process', 'cwd'], 'relative']], /absolute/],
    ['process.terminal', [[['process', 'terminal'], 'yes']], /not a boolean/],
    ['process.user.uid', [[['process', 'user', 'uid'], -1]], /not a uint32/],
    ['process.user.uid', [[['process', 'user', 'uid'], 2 ** 32]], /not a uint32/],
    ['process.user.gid', [[['process', 'user', 'gid'], 1.5]], /not a uint32/],
    ['process.user.additionalGids[0]', [[['process', 'user', 'additionalGids'], ['wheel']]], /not a uint32/],
    ['process.user.umask', [[['process', 'user', 'umask'], 0o1000]]],
    ['process.consoleSize.width', [[['process', 'consoleSize'], { height: 24, width: 70000 }]], /uint16/],
    ['process.capabilities.bounding[1]', [[['process', 'capabilities', 'bounding'], ['CAP_KILL', 'CAP_FLY']]], /unknown capability 'CAP_FLY'/],
    ['process.capabilities.inheritable', [[['process', 'capabilities', 'inheritable'], 'CAP_KILL']], /not an array/],
    ['process.rlimits[0].type', [[['process', 'rlimits', 0, 'type'], 'RLIMIT_BOGUS']], /unknown rlimit/],
    ['process.rlimits[0].soft', [[['process', 'rlimits', 0, 'soft'], 2048]], /above the hard limit/],
    ['process.rlimits[1].type', [[['process', 'rlimits', 1], { type: 'RLIMIT_NOFILE', hard: 1, soft: 1 }]], /duplicate/],
    ['process.rlimits[0].hard', [[['process', 'rlimits', 0, 'hard'], 2 ** 65]], /uint64/],
    ['process.noNewPrivileges', [[['process', 'noNewPrivileges'], 1]], /not a boolean/],
    ['process.oomScoreAdj', [[['process', 'oomScoreAdj'], 1001]]],
    ['process.ioPriority', [[['process', 'ioPriority'], { class: 'IOPRIO_CLASS_RT', priority: 0 }]], /not supported/],
    ['root', [[['root'], 'rootfs']], /not an object/],
    ['root.path', [[['root', 'path'], '']], /empty/],
    ['root.readonly', [[['root', 'readonly'], 'true']], /not a boolean/],
    ['hostname', [[['hostname'], 7]], /not a string/],
    ['hostname', [NS_WITHOUT('uts')], /uts namespace/],
    ['mounts', [[['mounts'], {}]], /not an array/],
    ['mounts[2].type', [[['mounts', 2, 'type'], 'ext4']], /unknown mount type 'ext4'/],
    ['mounts[0].destination', [[['mounts', 0, 'destination'], DELETE]], /required/],
    ['mounts[1].options[0]', [[['mounts', 1, 'options', 0], 'nosiud']], /unknown mount option 'nosiud'/],
    ['mounts[1].options[2]', [[['mounts', 1, 'options', 2], 'mode=755,exec']], /comma/],
    ['mounts[7].source', [[['mounts', 7], { destination: '/x', type: 'bind', options: ['rbind'] }]], /needs a source/],
    ['mounts[7].type', [[['mounts', 7], { destination: '/x', type: 'none', source: '/y' }]], /without a bind/],
    ['hooks.prestart[0].path', [[['hooks', 'prestart', 0, 'path'], 'hook']], /absolute/],
    ['hooks.prestart[0].timeout', [[['hooks', 'prestart', 0, 'timeout'], 0]]],
    ['hooks.poststop', [[['hooks', 'poststop'], { path: '/x' }]], /not an array/],
    ['annotations["org.example/key"]', [[['annotations'], { 'org.example/key': 1 }]], /not a string/],
    ['linux', [[['linux'], []]], /not an object/],
    ['linux.namespaces[6].type', [[['linux', 'namespaces', 6], { type: 'bogus' }]], /unknown namespace type 'bogus'/],
    ['linux.namespaces[6].type', [[['linux', 'namespaces', 6], { type: 'time' }]], /not supported by tsvisor/],
    ['linux.namespaces[6].type', [[['linux', 'namespaces', 6], { type: 'pid' }]], /duplicate/],
    ['linux.namespaces[0].path', [[['linux', 'namespaces', 0, 'path'], '/proc/1/ns/pid']], /joining an existing pid namespace/],
    ['linux.namespaces[1].path', [[['linux', 'namespaces', 1, 'path'], 'netns']], /absolute/],
    ['linux.uidMappings', [[['linux', 'uidMappings'], [{ containerID: 0, hostID: 0, size: 1 }]]], /user namespace/],
    ['linux.uidMappings[0].size', [WITH_USER, [['linux', 'uidMappings'], [{ containerID: 0, hostID: 0, size: 0 }]]], /must not be 0/],
    ['linux.gidMappings[0].hostID', [WITH_USER, [['linux', 'uidMappings'], [{ containerID: 0, hostID: 0, size: 1 }]], [['linux', 'gidMappings'], [{ containerID: 0, hostID: 'root', size: 1 }]]], /uint32/],
    ['linux.namespaces', [WITH_USER], /needs linux.uidMappings/],
    ['linux.sysctl["kernel.hostname"]', [[['linux', 'sysctl'], { 'kernel.hostname': 'x' }]], /conflicts/],
    ['linux.sysctl["vm.swappiness"]', [[['linux', 'sysctl'], { 'vm.swappiness': '0' }]], /not a namespaced sysctl/],
    ['linux.sysctl["net.ipv4.ip_forward"]', [NS_WITHOUT('network'), [['linux', 'sysctl'], { 'net.ipv4.ip_forward': '1' }]], /network namespace/],
    ['linux.sysctl["kernel.sem"]', [[['linux', 'sysctl'], { 'kernel.sem': 250 }]], /not a string/],
    ['linux.resources.memory.limit', [[['linux', 'resources', 'memory'], { limit: '1g' }]], /int64/],
    ['linux.resources.pids.limit', [[['linux', 'resources', 'pids'], {}]], /required/],
    ['linux.resources.cpu.shares', [[['linux', 'resources', 'cpu'], { shares: -2 }]], /uint64/],
    ['linux.resources.devices[0].access', [[['linux', 'resources', 'devices', 0, 'access'], 'rwx']], /r, w and m/],
    ['linux.resources.devices[0].allow', [[['linux', 'resources', 'devices', 0, 'allow'], DELETE]], /required/],
    ['linux.resources.blockIO.throttleReadBpsDevice[0].rate', [[['linux', 'resources', 'blockIO'], { throttleReadBpsDevice: [{ major: 8, minor: 0 }] }]], /required/],
    ['linux.resources.unified["memory.max"]', [[['linux', 'resources', 'unified'], { 'memory.max': 5 }]], /not a string/],
    ['linux.seccomp.defaultAction', [[['linux', 'seccomp'], { defaultAction: 'SCMP_ACT_NOTIFY' }]], /not supported by tsvisor/],
    ['linux.seccomp.defaultAction', [[['linux', 'seccomp'], { defaultAction: 'SCMP_ACT_MAYBE' }]], /unknown seccomp action/],
    ['linux.seccomp.syscalls[0].action', [ALLOW({ action: 'SCMP_ACT_TRACE' })], /not supported by tsvisor/],
    ['linux.seccomp.syscalls[0].names', [ALLOW({ names: [] })], /empty/],
    ['linux.seccomp.syscalls[0].names[0]', [ALLOW({ names: ['open at'] })], /not a syscall name/],
    ['linux.seccomp.syscalls[0].args[0].op', [ALLOW({ args: [{ index: 0, value: 1, op: 'SCMP_CMP_SORTA' }] })], /unknown seccomp operator/],
    ['linux.seccomp.syscalls[0].args[0].index', [ALLOW({ args: [{ index: 6, value: 1, op: 'SCMP_CMP_EQ' }] })]],
    ['linux.seccomp.syscalls[0].errnoRet', [ALLOW({ errnoRet: 0 })]],
    ['linux.seccomp.architectures[0]', [[['linux', 'seccomp'], { defaultAction: 'SCMP_ACT_ALLOW', architectures: ['SCMP_ARCH_Z80'] }]], /unknown seccomp architecture/],
    ['linux.seccomp.flags[0]', [[['linux', 'seccomp'], { defaultAction: 'SCMP_ACT_ALLOW', flags: ['SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV'] }]], /not supported/],
    ['linux.seccomp.listenerPath', [[['linux', 'seccomp'], { defaultAction: 'SCMP_ACT_ALLOW', listenerPath: '/run/agent.sock' }]], /agents/],
    ['linux.maskedPaths[0]', [[['linux', 'maskedPaths', 0], 'proc/kcore']], /absolute/],
    ['linux.readonlyPaths', [[['linux', 'readonlyPaths'], '/proc/sys']], /not an array/],
    ['linux.rootfsPropagation', [[['linux', 'rootfsPropagation'], 'sideways']], /unknown rootfs propagation/],
    ['linux.devices[0].major', [[['linux', 'devices'], [{ type: 'c', path: '/dev/fuse', minor: 229 }]]], /required/],
    ['linux.devices[0].type', [[['linux', 'devices'], [{ type: 'x', path: '/dev/x' }]]], /unknown device type/],
    ['linux.personality.domain', [[['linux', 'personality'], { domain: 'LINUX32' }]], /not supported by tsvisor/],
    ['linux.intelRdt', [[['linux', 'intelRdt'], { closID: 'x' }]], /not supported/],
  ];

  /** Sets (or deletes) the value at `at` in plain JSON, making missing objects on the way. */
  function edit(json: unknown, [at, value]: Edit): void {
    let node = json as Record<string | number, unknown>;
    for (const k of at.slice(0, -1)) {
      if (typeof node[k] !== 'object' || node[k] === null) node[k] = {};
      node = node[k] as Record<string | number, unknown>;
    }
    const last = at[at.length - 1]!;
    if (value === DELETE) delete node[last];
    else node[last] = value;
  }

  it.each(CASES)('names %s in its error', (fieldPath, edits, reason) => {
    const c = base();
    for (const e of edits) edit(c, e);
    const err = refused(c);
    expect(err.field).toBe(fieldPath);
    expect(err.message.startsWith(`${fieldPath}: `)).toBe(true);
    if (reason !== undefined) expect(err.reason).toMatch(reason);
  });

  it('refuses a config that is not an object', () => {
    for (const v of [null, 3, 'x', [], true]) expect(refused(v).field).toBe('config');
  });
});

// ---------------------------------------------------------------------------

const runc = spawnSync('runc', ['--version'], { encoding: 'utf8' });
const hasRunc = runc.status === 0;

describe('default configs', () => {
  it('tsvisor\'s default config parses, with the defaults runc writes', () => {
    const spec = ok(viaJson(defaultConfig(false)), '/b');
    expect(spec.process.args).toEqual(['sh']);
    expect(spec.process.terminal).toBe(true);
    expect(spec.process.noNewPrivileges).toBe(true);
    expect(spec.process.capabilities).toEqual({ bounding: DEFAULT_CAPABILITIES, effective: DEFAULT_CAPABILITIES, inheritable: [], permitted: DEFAULT_CAPABILITIES, ambient: DEFAULT_CAPABILITIES });
    expect(spec.root).toEqual({ path: '/b/rootfs', readonly: true });
    expect(spec.mounts.map((m) => m.destination)).toEqual(['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue', '/sys', '/sys/fs/cgroup']);
    expect(spec.linux.namespaces.map((n) => n.type)).toEqual(DEFAULT_NAMESPACES);
    expect(spec.linux.maskedPaths).toEqual(DEFAULT_MASKED_PATHS);
    expect(spec.linux.readonlyPaths).toEqual(DEFAULT_READONLY_PATHS);
    expect(spec.linux.resources?.devices).toEqual([{ allow: false, access: 'rwm' }]);
    expect(spec.hostname).toBe('tsvisor');
  });

  it('the rootless one maps root to the caller and has no network namespace', () => {
    const spec = ok(viaJson(defaultConfig(true)));
    expect(spec.linux.namespaces.map((n) => n.type).sort()).toEqual(['cgroup', 'ipc', 'mount', 'pid', 'user', 'uts']);
    expect(spec.linux.uidMappings).toEqual([{ containerID: 0, hostID: process.getuid!(), size: 1 }]);
    expect(spec.linux.resources).toBeUndefined();
    expect(spec.mounts.find((m) => m.destination === '/sys')).toEqual({ destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] });
  });

  it.skipIf(!hasRunc).each([false, true])('`runc spec` (rootless %s) parses, and differs from tsvisor\'s only where documented', (rootless) => {
    const dir = fs.mkdtempSync(path.join(tmpRoot, 'runc-'));
    const r = spawnSync('runc', ['spec', '--bundle', dir, ...(rootless ? ['--rootless'] : [])], { encoding: 'utf8' });
    expect(r.status, r.stderr).toBe(0);
    const theirs = JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')) as Record<string, Json>;
    const spec = ok(theirs, dir);
    expect(spec.root.path).toBe(path.join(dir, 'rootfs'));
    // The documented differences (defaults.ts): version, hostname, the cgroup namespace.
    const mine = viaJson(defaultConfig(rootless)) as Record<string, Json>;
    const linux = mine.linux as { namespaces: Array<{ type: string }> };
    linux.namespaces = linux.namespaces.filter((n) => n.type !== 'cgroup');
    expect({ ...mine, ociVersion: theirs.ociVersion, hostname: theirs.hostname }).toEqual(theirs);
  });

  it('capability numbers agree with sentry/abi', () => {
    expect([CAPABILITIES.CAP_CHOWN, CAPABILITIES.CAP_DAC_OVERRIDE, CAPABILITIES.CAP_DAC_READ_SEARCH, CAPABILITIES.CAP_FOWNER, CAPABILITIES.CAP_FSETID, CAPABILITIES.CAP_MKNOD])
      .toEqual([CAP_CHOWN, CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH, CAP_FOWNER, CAP_FSETID, CAP_MKNOD]);
    expect(Object.values(CAPABILITIES)).toEqual(CAPABILITY_NAMES.map((_, i) => i));
  });
});

// ---------------------------------------------------------------------------

describe('container ids', () => {
  it('accepts what runc accepts', () => {
    for (const id of ['a', 'my-container_1', 'x.y', 'a+b', 'a,b', '...', 'A'.repeat(255), 'c0ffee']) expect(idError(id), id).toBeUndefined();
  });

  it('refuses the rest with runc\'s message', () => {
    expect(idError('')).toBe('container id cannot be empty');
    for (const id of ['.', '..', 'a/b', '../x', 'a b', 'a:b', 'é', 'a\0b', 'a\n', '@locks', '-x/']) expect(idError(id), id).toBe(`invalid id format: ${id}`);
    expect(idError('A'.repeat(256))).toMatch(/longer than 255/);
  });

  it('agrees with runc\'s regexp on random strings', () => {
    fc.assert(fc.property(fc.string({ maxLength: 6 }), (id) => {
      // Go's `^[\w+-\.]+$`, written out: word characters and '+' to '.'.
      const runcOk = id.length > 0 && [...id].every((ch) => /\w/.test(ch) || (ch >= '+' && ch <= '.')) && id !== '.' && id !== '..';
      expect(idError(id) === undefined).toBe(runcOk);
    }), { numRuns: 3000 });
  });

  it('every path under the state root refuses a bad id', () => {
    const dir = new StateDir(path.join(tmpRoot, 'ids'));
    for (const f of [(id: string) => dir.containerDir(id), (id: string) => dir.lockFile(id), (id: string) => dir.read(id), (id: string) => dir.lock(id)]) {
      expect(() => f('../etc')).toThrow(CommandError);
      expect(() => f('../etc')).toThrow('invalid id format: ../etc');
    }
  });
});

// ---------------------------------------------------------------------------

const STATE_JS = path.resolve(__dirname, '..', 'dist', 'cli', 'oci', 'state.js');

/** Runs an ES module script in a fresh node, with `S` bound to dist's state.js. */
function nodeScript(body: string): string {
  return `import * as S from ${JSON.stringify(STATE_JS)}; import fs from 'node:fs';\n${body}`;
}

describe('the state directory', () => {
  it('writes, reads, lists and removes records', () => {
    const dir = new StateDir(path.join(tmpRoot, 'crud'));
    expect(dir.list()).toEqual([]);
    expect(dir.read('c1')).toBeUndefined();
    expect(() => dir.get('c1')).toThrow('container "c1" does not exist');
    for (const id of ['c2', 'c1']) {
      dir.createContainerDir(id);
      dir.write({ ...newRecord(id, '/bundles/x', { 'org.example': 'y' }), sandboxPid: 42 });
    }
    expect(() => dir.createContainerDir('c1')).toThrow('container with id exists: c1');
    const rec = dir.get('c1');
    expect(rec.state).toEqual({ ociVersion: '1.2.0', id: 'c1', status: 'creating', bundle: '/bundles/x', annotations: { 'org.example': 'y' } });
    expect(rec.sandboxPid).toBe(42);
    dir.write({ ...rec, state: { ...rec.state, status: 'running', pid: 1234 } });
    expect(dir.get('c1').state.status).toBe('running');
    expect(dir.list().map((r) => r.state.id)).toEqual(['c1', 'c2']);
    // No temporary file is left beside the record.
    expect(fs.readdirSync(dir.containerDir('c1'))).toEqual(['state.json']);
    dir.removeContainerDir('c2');
    expect(dir.list().map((r) => r.state.id)).toEqual(['c1']);
  });

  it('names a corrupt record, and list goes on without it', () => {
    const dir = new StateDir(path.join(tmpRoot, 'corrupt'));
    dir.createContainerDir('bad');
    dir.createContainerDir('good');
    dir.write(newRecord('good', '/b', {}));
    fs.writeFileSync(dir.stateFile('bad'), '{"state":{"ociVersion":"1.2.0","id":"bad","status":"sleeping","bundle":"/b"},"created":"x"}');
    expect(() => dir.get('bad')).toThrow(/state\.json is corrupt: state\.status: unknown status 'sleeping'/);
    fs.writeFileSync(dir.stateFile('bad'), '{"sta');
    expect(() => dir.get('bad')).toThrow(/is corrupt: not JSON/);
    expect(dir.list().map((r) => r.state.id)).toEqual(['good']);
  });

  it('a failed write leaves the old record and no temporary file', () => {
    const dir = new StateDir(path.join(tmpRoot, 'failed'));
    dir.createContainerDir('c');
    dir.write(newRecord('c', '/b', {}));
    fs.chmodSync(dir.containerDir('c'), 0o500);
    try {
      // Root ignores the mode: make the folder's place a file instead.
      if (process.getuid?.() === 0) {
        fs.chmodSync(dir.containerDir('c'), 0o711);
        fs.renameSync(dir.containerDir('c'), dir.containerDir('c') + '-moved');
        fs.writeFileSync(dir.containerDir('c'), '');
      }
      expect(() => dir.write({ ...newRecord('c', '/b', {}), created: 'new' })).toThrow(CommandError);
    } finally {
      if (fs.statSync(dir.containerDir('c')).isFile()) {
        fs.rmSync(dir.containerDir('c'));
        fs.renameSync(dir.containerDir('c') + '-moved', dir.containerDir('c'));
      }
      fs.chmodSync(dir.containerDir('c'), 0o711);
    }
    expect(dir.get('c').created).not.toBe('new');
    expect(fs.readdirSync(dir.containerDir('c'))).toEqual(['state.json']);
  });

  it('a reader never sees part of a record while another process rewrites it', async () => {
    const root = path.join(tmpRoot, 'atomic');
    const dir = new StateDir(root);
    dir.createContainerDir('c');
    dir.write(newRecord('c', '/b', {}));
    // Large records: a non-atomic rewrite would be seen half written.
    const writer = spawn(process.execPath, ['--input-type=module', '-e', nodeScript(`
      const d = new S.StateDir(${JSON.stringify(root)});
      const big = { note: 'x'.repeat(256 * 1024) };
      for (let i = 0; i < 300; i++) d.write({ ...S.newRecord('c', '/b', { ...big, n: String(i) }) });
    `)], { stdio: ['ignore', 'inherit', 'inherit'] });
    const done = new Promise<number | null>((resolve) => writer.on('exit', resolve));
    let exited = false;
    void done.then(() => { exited = true; });
    let reads = 0;
    while (!exited) {
      const rec = dir.get('c');
      expect(rec.state.id).toBe('c');
      reads++;
      await new Promise((r) => setImmediate(r));
    }
    expect(await done).toBe(0);
    expect(reads).toBeGreaterThan(10);
    expect(dir.get('c').state.annotations?.n).toBe('299');
    expect(fs.readdirSync(dir.containerDir('c'))).toEqual(['state.json']);
  });

  it('commands on one id take turns under its lock, across processes', async () => {
    const root = path.join(tmpRoot, 'lock');
    const log = path.join(tmpRoot, 'lock.log');
    const run = (n: number): Promise<number | null> => new Promise((resolve) => {
      const p = spawn(process.execPath, ['--input-type=module', '-e', nodeScript(`
        const d = new S.StateDir(${JSON.stringify(root)});
        const l = d.lock('c');
        fs.appendFileSync(${JSON.stringify(log)}, 'in ${n}\\n');
        Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 150);
        fs.appendFileSync(${JSON.stringify(log)}, 'out ${n}\\n');
        l.release();
      `)], { stdio: ['ignore', 'inherit', 'inherit'] });
      p.on('exit', resolve);
    });
    const codes = await Promise.all([0, 1, 2, 3].map(run));
    expect(codes).toEqual([0, 0, 0, 0]);
    const lines = fs.readFileSync(log, 'utf8').trim().split('\n');
    expect(lines).toHaveLength(8);
    for (let i = 0; i < 8; i += 2) {
      expect(lines[i]).toMatch(/^in \d$/);
      expect(lines[i + 1]).toBe(lines[i]!.replace('in', 'out'));
    }
  });

  it('a waiter whose lock file was deleted under it locks the new one', async () => {
    const root = path.join(tmpRoot, 'lock-delete');
    const dir = new StateDir(root);
    const held = dir.lock('c');
    const waiter = spawn(process.execPath, ['--input-type=module', '-e', nodeScript(`
      const d = new S.StateDir(${JSON.stringify(root)});
      const l = d.lock('c');
      const st = fs.statSync(d.lockFile('c'));
      process.stdout.write(String(st.ino));
      l.release();
    `)], { stdio: ['ignore', 'pipe', 'inherit'] });
    let out = '';
    waiter.stdout.on('data', (b: Buffer) => { out += b.toString(); });
    const done = new Promise<number | null>((resolve) => waiter.on('exit', resolve));
    const oldIno = fs.statSync(held.file).ino;
    // Let the waiter block in flock on the old file, then delete the container.
    await new Promise((r) => setTimeout(r, 500));
    held.remove();
    expect(await done).toBe(0);
    expect(fs.existsSync(held.file)).toBe(true);
    expect(Number(out)).toBe(fs.statSync(held.file).ino);
    expect(Number(out)).not.toBe(0);
    void oldIno;
  });

  it('without waiting, a held lock is "busy"', () => {
    const dir = new StateDir(path.join(tmpRoot, 'busy'));
    const held = dir.lock('c');
    const r = spawnSync(process.execPath, ['--input-type=module', '-e', nodeScript(`
      try { new S.StateDir(${JSON.stringify(dir.root)}).lock('c', { wait: false }); process.exit(0); }
      catch (e) { process.stdout.write(e.message); process.exit(1); }
    `)], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stdout).toBe('container "c" is busy: another tsvisor command holds it');
    held.release();
    // Released: taken at once.
    dir.lock('c', { wait: false }).remove();
  });
});
