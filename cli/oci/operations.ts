// Commands on a living container: ps, pause, resume, update, events, exec.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI_MAIN } from '../../native/paths.js';
import { ownNodeEnv } from '../client-env.js';
import { isV2Cgroup } from '../../sentry/kernel/cgroup.js';
import { CommandError, UsageError } from '../usage.js';
import { applyCpu, freezerState, readNumber, setFrozen, writeSetting } from './cgroups.js';
import { controlSocketPath, request, type ExecRequest } from './control.js';
import { idArg, last, parseFlags, type Parsed } from './flags.js';
import { liveStatus, loadSpecQuiet } from './lifecycle.js';
import { isSameProcess, sandboxProcesses, signalProcess, startTime } from './procs.js';
import { EXEC_WAIT_COMMAND, type GlobalOptions } from './runtime.js';
import { CAPABILITY_NAMES, parseProcess, SpecError, type Capabilities, type Capability, type Process } from './spec.js';
import { StateDir, type ContainerRecord } from './state.js';
import { capabilityMasks, type CpuLimits } from './translate.js';


export async function operationCommand(g: GlobalOptions, cmd: string, args: string[]): Promise<number> {
  const dir = new StateDir(g.root);
  switch (cmd) {
    case 'ps': return psCommand(dir, args);
    case 'pause': return pauseCommand(dir, args, true);
    case 'resume': return pauseCommand(dir, args, false);
    case 'update': return updateCommand(dir, args);
    case 'events': return eventsCommand(dir, args);
    case 'exec': return execCommand(dir, args);
    default: throw new UsageError(`unknown command '${cmd}'`);
  }
}

/** The record of a container that has processes (created, running or paused). */
function living(dir: StateDir, id: string): ContainerRecord {
  const rec = dir.get(id);
  const st = liveStatus(rec);
  if (st === 'stopped' || st === 'creating') throw new CommandError('container not running');
  return rec;
}

// ---------------------------------------------------------------------------
// ps

/**
 * The host pids of the container's processes: every process of the
 * sandbox's pid namespace but tsvisor's own two (the sandbox's init, pid 1
 * there, and the exec helper).
 */
export function containerPids(rec: ContainerRecord): number[] {
  if (rec.initPid === undefined) return [];
  return sandboxProcesses(rec.initPid)
    .filter((p) => p.nsPid !== 1 && comm(p.hostPid) !== 'tsvisor-exec')
    .map((p) => p.hostPid);
}

function comm(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/comm`, 'latin1').trim();
  } catch {
    return '';
  }
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'latin1').split('\0').filter((s) => s !== '').join(' ');
  } catch {
    return '';
  }
}

function psCommand(dir: StateDir, args: string[]): number {
  const p = parseFlags('ps', args, { values: [['format', 'f']] });
  const id = idArg('ps', p);
  const format = last(p, 'format') ?? 'table';
  if (format !== 'table' && format !== 'json') throw new UsageError(`ps: --format must be table or json, not '${format}'`);
  const pids = containerPids(living(dir, id));
  if (format === 'json') {
    process.stdout.write(JSON.stringify(pids) + '\n');
    return 0;
  }
  process.stdout.write('PID     CMD\n' + pids.map((pid) => `${String(pid).padEnd(8)}${cmdline(pid) || `[${comm(pid)}]`}\n`).join(''));
  return 0;
}

// ---------------------------------------------------------------------------
// pause, resume

async function pauseCommand(dir: StateDir, args: string[], pause: boolean): Promise<number> {
  const cmd = pause ? 'pause' : 'resume';
  const id = idArg(cmd, parseFlags(cmd, args, {}));
  const lock = dir.lock(id);
  try {
    const rec = living(dir, id);
    const freezer = rec.cgroups?.freezer;
    if (freezer === undefined) throw new CommandError(`${cmd}: the container has no freezer (this host has neither cgroup v2 nor cgroup v1's freezer controller)`);
    const status = liveStatus(rec);
    if (pause && status !== 'running') throw new CommandError(`container not running`);
    if (!pause && status !== 'paused') throw new CommandError('container not paused');
    await setFrozen(freezer, pause);
  } finally {
    lock.done();
  }
  return 0;
}

// ---------------------------------------------------------------------------
// update

const UPDATE_FLAGS = {
  values: [['memory', 'm'], ['memory-swap'], ['memory-reservation'], ['kernel-memory'], ['pids-limit'], ['cpu-shares'], ['cpu-quota'], ['cpu-period'],
    ['cpuset-cpus'], ['cpuset-mems'], ['blkio-weight'], ['resources', 'r'], ['l3-cache-schema'], ['mem-bw-schema'], ['cpu-rt-period'], ['cpu-rt-runtime']],
} as const;

interface Update {
  memory?: number;
  memorySwap?: number;
  pids?: number;
  cpu: { shares?: number; quota?: number; period?: number };
}

function updateCommand(dir: StateDir, args: string[]): number {
  const p = parseFlags('update', args, UPDATE_FLAGS);
  const id = idArg('update', p);
  const u = readUpdate(p);
  const lock = dir.lock(id);
  try {
    applyUpdate(living(dir, id), u);
  } finally {
    lock.done();
  }
  return 0;
}

function readUpdate(p: Parsed): Update {
  const u: Update = { cpu: {} };
  const file = last(p, 'resources');
  if (file !== undefined) {
    // runc's -r: linux.resources as JSON, "-" for stdin.
    const json = JSON.parse(fs.readFileSync(file === '-' ? 0 : file, 'utf8')) as {
      memory?: { limit?: number; swap?: number }; pids?: { limit?: number }; cpu?: { shares?: number; quota?: number; period?: number };
    };
    if (json.memory?.limit !== undefined) u.memory = json.memory.limit;
    if (json.memory?.swap !== undefined) u.memorySwap = json.memory.swap;
    if (json.pids?.limit !== undefined) u.pids = json.pids.limit;
    Object.assign(u.cpu, json.cpu ?? {});
  }
  const num = (k: string): number | undefined => {
    const v = last(p, k);
    if (v === undefined) return undefined;
    const n = k.startsWith('memory') ? sizeBytes(v) : Number(v);
    if (!Number.isSafeInteger(n)) throw new UsageError(`update: --${k}: not a number: '${v}'`);
    return n;
  };
  u.memory = num('memory') ?? u.memory;
  u.memorySwap = num('memory-swap') ?? u.memorySwap;
  u.pids = num('pids-limit') ?? u.pids;
  u.cpu.shares = num('cpu-shares') ?? u.cpu.shares;
  u.cpu.quota = num('cpu-quota') ?? u.cpu.quota;
  u.cpu.period = num('cpu-period') ?? u.cpu.period;
  return u;
}

/** 512m, 1g, 1048576; -1 for no limit. */
function sizeBytes(v: string): number {
  if (v === '-1') return -1;
  const m = /^([0-9]+)([kmg]?)b?$/i.exec(v);
  if (!m) return NaN;
  return Number(m[1]) * 1024 ** ' kmg'.indexOf(m[2]!.toLowerCase() || ' ');
}

function applyUpdate(rec: ContainerRecord, u: Update): void {
  const cg = rec.cgroups ?? {};
  if (u.memory !== undefined || u.memorySwap !== undefined) {
    if (cg.memory === undefined) throw new CommandError('update --memory: the container was created without a memory limit, so it has no memory cgroup to change');
    setMemory(cg.memory, u.memory, u.memorySwap);
  }
  if (u.pids !== undefined) {
    if (cg.pids === undefined) throw new CommandError('update --pids-limit: the container has no pids cgroup');
    writeSetting('pids', cg.pids, 'pids.max', u.pids <= 0 ? 'max' : u.pids);
  }
  const cpu: CpuLimits = Object.fromEntries(Object.entries(u.cpu).filter(([, v]) => v !== undefined));
  if (Object.keys(cpu).length > 0) {
    if (cg.cpu === undefined) throw new CommandError('update --cpu-*: the container was created without CPU limits, so it has no cpu cgroup to change');
    applyCpu(cg.cpu, cpu);
  }
}

/**
 * memory and memory+swap (runc's --memory-swap: the two together; -1: no
 * limit). v1, in the order the kernel accepts: memsw may never be below
 * memory, so a raise sets memsw first and a cut sets memory first. v2 limits
 * swap alone (memory.swap.max): the total less the memory limit.
 */
function setMemory(dir: string, memory: number | undefined, swap: number | undefined): void {
  if (isV2Cgroup(dir)) return setMemoryV2(dir, memory, swap);
  const hasSw = fs.existsSync(path.join(dir, 'memory.memsw.limit_in_bytes'));
  const mem = memory !== undefined ? memory : undefined;
  const sw = swap ?? mem;
  const current = readNumber(dir, 'memory.limit_in_bytes') ?? 0;
  const raise = mem === undefined || mem === -1 || mem > current;
  if (raise && hasSw && sw !== undefined) writeSetting('memory', dir, 'memory.memsw.limit_in_bytes', sw);
  if (mem !== undefined) writeSetting('memory', dir, 'memory.limit_in_bytes', mem);
  if (!raise && hasSw && sw !== undefined) writeSetting('memory', dir, 'memory.memsw.limit_in_bytes', sw);
}

function setMemoryV2(dir: string, memory: number | undefined, swap: number | undefined): void {
  if (memory !== undefined) writeSetting('memory', dir, 'memory.max', memory === -1 ? 'max' : memory);
  if (swap === undefined || !fs.existsSync(path.join(dir, 'memory.swap.max'))) return;
  const limit = memory ?? readNumber(dir, 'memory.max');
  writeSetting('memory', dir, 'memory.swap.max', swap === -1 || limit === undefined || limit === -1 ? 'max' : Math.max(0, swap - limit));
}

// ---------------------------------------------------------------------------
// events

async function eventsCommand(dir: StateDir, args: string[]): Promise<number> {
  const p = parseFlags('events', args, { values: [['interval']], bools: [['stats']] });
  const id = idArg('events', p);
  if (p.bools.has('stats')) {
    process.stdout.write(JSON.stringify(statsEvent(living(dir, id))) + '\n');
    return 0;
  }
  const ms = intervalMs(last(p, 'interval') ?? '5s');
  for (;;) {
    const rec = dir.read(id);
    if (!rec || liveStatus(rec) === 'stopped') return 0;
    process.stdout.write(JSON.stringify(statsEvent(rec)) + '\n');
    await new Promise<void>((r) => setTimeout(r, ms));
  }
}

function intervalMs(text: string): number {
  const m = /^([0-9.]+)(ms|s|m)?$/.exec(text);
  if (!m) throw new UsageError(`events: --interval: not a duration: '${text}'`);
  return Number(m[1]) * ({ ms: 1, s: 1000, m: 60_000 }[m[2] ?? 's'] ?? 1000);
}

/** A "key N" line of a flat-keyed cgroup v2 file (cpu.stat, memory.events), or undefined. */
function keyedNumber(dir: string | undefined, file: string, key: string): number | undefined {
  if (dir === undefined) return undefined;
  try {
    const m = new RegExp(`^${key} ([0-9]+)$`, 'm').exec(fs.readFileSync(path.join(dir, file), 'latin1'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** runc's stats event, with what the container's cgroups hold. */
function statsEvent(rec: ContainerRecord): unknown {
  const cg = rec.cgroups ?? {};
  const limit = (v: number | undefined): number => v ?? 0;
  // One cgroup v2 holds every controller's files under their v2 names.
  if (cg.freezer !== undefined && isV2Cgroup(cg.freezer)) {
    const dir = cg.freezer;
    const usec = keyedNumber(dir, 'cpu.stat', 'usage_usec');
    return {
      type: 'stats',
      id: rec.state.id,
      data: {
        cpu: { usage: { total: usec === undefined ? 0 : usec * 1000 }, throttling: {} },
        memory: {
          usage: { usage: limit(readNumber(dir, 'memory.current')), limit: limit(readNumber(dir, 'memory.max')), max: limit(readNumber(dir, 'memory.peak')), failcnt: limit(keyedNumber(dir, 'memory.events', 'max')) },
        },
        pids: { current: limit(readNumber(dir, 'pids.current') ?? containerPids(rec).length), limit: limit(readNumber(dir, 'pids.max')) },
        freezer: freezerState(dir) ?? '',
      },
    };
  }
  return {
    type: 'stats',
    id: rec.state.id,
    data: {
      cpu: { usage: { total: limit(readNumber(cg.cpu, 'cpuacct.usage')) }, throttling: {} },
      memory: {
        usage: { usage: limit(readNumber(cg.memory, 'memory.usage_in_bytes')), limit: limit(readNumber(cg.memory, 'memory.limit_in_bytes')), max: limit(readNumber(cg.memory, 'memory.max_usage_in_bytes')), failcnt: limit(readNumber(cg.memory, 'memory.failcnt')) },
      },
      pids: { current: cg.pids ? limit(readNumber(cg.pids, 'pids.current')) : containerPids(rec).length, limit: limit(readNumber(cg.pids, 'pids.max')) },
      freezer: freezerState(cg.freezer) ?? '',
    },
  };
}

// ---------------------------------------------------------------------------
// exec

const EXEC_FLAGS = {
  values: [['process', 'p'], ['console-socket'], ['pid-file'], ['cwd'], ['env', 'e'], ['user', 'u'], ['additional-gids', 'g'], ['cap', 'c'],
    ['process-label'], ['apparmor'], ['preserve-fds'], ['cgroup']],
  bools: [['detach', 'd'], ['tty', 't'], ['no-new-privs'], ['ignore-paused']],
} as const;

async function execCommand(dir: StateDir, args: string[]): Promise<number> {
  const p = parseFlags('exec', args, EXEC_FLAGS);
  const id = idArg('exec', p);
  const rec = living(dir, id);
  const proc = execProcess(p, (await loadSpecQuiet(rec.state.bundle))?.process.capabilities ?? NO_CAPABILITIES);
  if (liveStatus(rec) === 'paused') throw new CommandError('cannot exec in a paused container (resume it first)');
  const consoleSocket = last(p, 'console-socket');
  if (proc.terminal && consoleSocket === undefined) throw new CommandError('exec: a terminal (--tty) needs --console-socket');
  const req: ExecRequest = {
    callerPid: process.pid, args: proc.args, env: proc.env, cwd: proc.cwd, uid: proc.user.uid, gid: proc.user.gid,
    groups: proc.user.additionalGids, tty: proc.terminal, caps: capabilityMasks(proc.capabilities),
    ...(consoleSocket !== undefined ? { consoleSocket: path.resolve(consoleSocket) } : {}),
    ...(proc.consoleSize ? { consoleSize: { rows: proc.consoleSize.height, cols: proc.consoleSize.width } } : {}),
  };
  return runExec(dir, id, req, last(p, 'pid-file'), p.bools.has('detach'));
}

/**
 * The process to exec: --process FILE, or the command line's arguments and
 * flags. Its capabilities are the file's; on the command line, runc's: the
 * container's own, and each --cap added to them.
 */
function execProcess(p: Parsed, containerCaps: Capabilities): Process {
  const file = last(p, 'process');
  if (file !== undefined) {
    let json: unknown;
    try {
      json = JSON.parse(fs.readFileSync(file, 'utf8'));
    } catch (e) {
      throw new CommandError(`exec: --process ${file}: ${(e as Error).message}`);
    }
    const proc = parseProcess(json);
    if (proc instanceof SpecError) throw new CommandError(`exec: --process ${file}: ${proc.message}`);
    return proc;
  }
  const args = p.positional.slice(1);
  if (args.length === 0) throw new UsageError('exec: no command given (arguments after the id, or --process)');
  const [uid, gid] = (last(p, 'user') ?? '0:0').split(':');
  const env = p.values.get('env') ?? [];
  return {
    terminal: p.bools.has('tty'), args, cwd: last(p, 'cwd') ?? '/',
    env: env.some((e) => e.startsWith('PATH=')) ? env : ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', ...env],
    user: { uid: idNumber(uid, '--user'), gid: idNumber(gid ?? '0', '--user'), additionalGids: (p.values.get('additional-gids') ?? []).map((g) => idNumber(g, '--additional-gids')) },
    capabilities: withAddedCaps(containerCaps, p.values.get('cap') ?? []), rlimits: [], noNewPrivileges: true,
  };
}

/** A spec that cannot be read gives none, as an absent field does. */
const NO_CAPABILITIES: Capabilities = { bounding: [], effective: [], inheritable: [], permitted: [], ambient: [] };

/** runc exec --cap: added to the bounding, effective and permitted sets, and to the ambient one where some are inheritable. */
function withAddedCaps(c: Capabilities, added: readonly string[]): Capabilities {
  const names: Capability[] = [];
  for (const a of added) {
    if (!(CAPABILITY_NAMES as readonly string[]).includes(a)) throw new CommandError(`exec: --cap: unknown capability ${a}`);
    names.push(a as Capability);
  }
  const plus = (set: readonly Capability[]): Capability[] => [...new Set([...set, ...names])];
  return {
    bounding: plus(c.bounding), effective: plus(c.effective), permitted: plus(c.permitted), inheritable: [...c.inheritable],
    ambient: c.inheritable.length > 0 ? plus(c.ambient) : [...c.ambient],
  };
}

function idNumber(text: string | undefined, flag: string): number {
  if (text === undefined || !/^[0-9]+$/.test(text)) throw new CommandError(`exec: ${flag}: a numeric id is needed, not '${text}'`);
  return Number(text);
}

async function runExec(dir: StateDir, id: string, req: ExecRequest, pidFile: string | undefined, detach: boolean): Promise<number> {
  if (detach) return detachExec(dir, id, req, pidFile);
  let error: string | undefined;
  let status: number | undefined;
  let forwarding: (() => void) | undefined;
  const reached = await request(controlSocketPath(dir.root, id), { op: 'exec', exec: req }, (a) => {
    if ('error' in a) error = a.error;
    else if ('pid' in a) {
      if (pidFile !== undefined) fs.writeFileSync(path.resolve(pidFile), String(a.pid));
      forwarding = forwardSignals(a.pid);
      return false;
    } else if ('exit' in a) status = a.exit;
    return true;
  });
  forwarding?.();
  if (!reached) throw new CommandError('exec: the container\'s sandbox does not answer (it has stopped)');
  if (error !== undefined) throw new CommandError(`exec: ${error}`);
  return status ?? 137;
}

/**
 * `exec --detach`, as runsc does it: the process the pid file names must be
 * one the client can reap (the containerd shim and conmon are subreapers
 * and wait for that pid, which becomes their child when we exit) and that
 * exits with the exec'd process's status. The sandbox's own process is
 * neither, so a waiter (EXEC_WAIT_COMMAND) is left behind: it makes the
 * request with our stdio (the daemon takes fds 0..2 of callerPid, us, before
 * it answers), reports the start on its fd 3, forwards signals, and exits
 * with the status. It keeps none of our stdio: a client that reads our
 * output until EOF (the shim with a console socket) would wait on it.
 */
function detachExec(dir: StateDir, id: string, req: ExecRequest, pidFile: string | undefined): Promise<number> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI_MAIN, EXEC_WAIT_COMMAND, dir.root, id, JSON.stringify(req)], {
      detached: true, stdio: ['ignore', 'ignore', 'ignore', 'pipe'], env: ownNodeEnv(),
    });
    const pipe = child.stdio[3];
    let text = '';
    let settled = false;
    const done = (err: Error | undefined): void => {
      if (settled) return;
      settled = true;
      pipe?.destroy();
      child.unref();
      if (err !== undefined) reject(err);
      else resolve(0);
    };
    child.on('error', (e) => done(new CommandError(`exec: cannot start the waiter: ${e.message}`)));
    pipe?.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl < 0) return;
      const a = JSON.parse(text.slice(0, nl)) as { pid: number } | { error: string };
      if ('error' in a) return done(new CommandError(`exec: ${a.error}`));
      try {
        if (pidFile !== undefined && child.pid !== undefined) writeFileAtomic(pidFile, String(child.pid));
      } catch (e) {
        child.kill('SIGKILL');
        return done(new CommandError(`exec: --pid-file ${pidFile}: ${(e as Error).message}`));
      }
      done(undefined);
    });
    pipe?.on('close', () => done(new CommandError('exec: the waiter ended before the process started')));
  });
}

/** The waiter of `exec --detach` (see detachExec): argv is root, id, the request as JSON. */
export async function execWaitCommand(argv: readonly string[]): Promise<number> {
  const [root, id, json] = argv;
  if (root === undefined || id === undefined || json === undefined) throw new UsageError(`${EXEC_WAIT_COMMAND}: root, id and request needed`);
  const dir = new StateDir(root);
  const req = JSON.parse(json) as ExecRequest;
  const tell = (a: { pid: number } | { error: string }): void => {
    try {
      fs.writeSync(REPORT_FD, JSON.stringify(a) + '\n');
      fs.closeSync(REPORT_FD);
    } catch {
      // exec is gone already.
    }
  };
  let told = false;
  let status: number | undefined;
  let forwarding: (() => void) | undefined;
  const reached = await request(controlSocketPath(dir.root, id), { op: 'exec', exec: req }, (a) => {
    if ('error' in a) {
      told = true;
      tell({ error: a.error });
      return true;
    }
    if ('pid' in a) {
      told = true;
      tell({ pid: a.pid });
      forwarding = forwardSignals(a.pid);
      return false;
    }
    if ('exit' in a) status = a.exit;
    return true;
  });
  forwarding?.();
  if (!told) tell({ error: reached ? 'the sandbox ended before the process started' : 'the container\'s sandbox does not answer (it has stopped)' });
  return status ?? 137;
}

const REPORT_FD = 3;

/** Signals a client sends the exec process's pid (the shim's kill of an exec) go on to the sandboxed process. */
const FORWARDED: readonly NodeJS.Signals[] = ['SIGHUP', 'SIGINT', 'SIGQUIT', 'SIGTERM', 'SIGUSR1', 'SIGUSR2', 'SIGALRM', 'SIGCONT', 'SIGWINCH'];

/** Forwards FORWARDED to hostPid while it is the same process; returns the function that stops it. */
function forwardSignals(hostPid: number): () => void {
  const start = startTime(hostPid);
  const handler = (sig: NodeJS.Signals): void => {
    if (hostPid > 0 && isSameProcess(hostPid, start)) signalProcess(hostPid, os.constants.signals[sig]);
  };
  for (const s of FORWARDED) process.on(s, handler);
  return () => { for (const s of FORWARDED) process.off(s, handler); };
}

/** Written to a temporary name and renamed: a reader never sees a partial pid. */
function writeFileAtomic(file: string, text: string): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(tmp, text);
    fs.renameSync(tmp, abs);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw e;
  }
}
