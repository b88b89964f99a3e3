// The container lifecycle as runc's commands: create, start, state, kill,
// delete, run, list, wait. Every command that changes a container holds its
// lock (state.ts). The sandbox itself is the daemon's (daemon.ts); these
// commands reach it through its control socket, its pids and its cgroups.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { CLI_MAIN } from '../../native/paths.js';
import { ownNodeEnv } from '../client-env.js';
import { takeSentryThread } from '../../sentry/thread.js';
import { CommandError, UsageError } from '../usage.js';
import { freezerState, removeCgroupsWhenEmpty, setFrozen } from './cgroups.js';
import { controlSocketPath, request, requestOk } from './control.js';
import type { DaemonArgs, DaemonReport } from './daemon.js';
import { idArg, last, parseFlags } from './flags.js';
import { hookState, runHooks, runHooksWarn } from './hooks.js';
import { isSameProcess, sandboxProcesses, signalProcess } from './procs.js';
import { DAEMON_COMMAND, type GlobalOptions } from './runtime.js';
import { SpecError, type Spec, type State, type Status } from './spec.js';
import type { ContainerPlan } from './translate.js';
import { newRecord, StateDir, type ContainerRecord } from './state.js';


export async function lifecycleCommand(g: GlobalOptions, cmd: string, args: string[]): Promise<number> {
  const dir = new StateDir(g.root);
  switch (cmd) {
    case 'create': return createCommand(g, dir, args);
    case 'start': return startCommand(dir, args);
    case 'state': return stateCommand(dir, args);
    case 'kill': return killCommand(dir, args);
    case 'delete': return deleteCommand(dir, args);
    case 'run': return runCommand(g, dir, args);
    case 'list': return listCommand(dir, args);
    case 'wait': return waitCommand(dir, args);
    default: throw new UsageError(`unknown command '${cmd}'`);
  }
}

// ---------------------------------------------------------------------------
// Status

/** The status as it is now: a recorded one, corrected by whether the daemon lives and the freezer. */
export function liveStatus(rec: ContainerRecord): Status {
  const s = rec.state.status;
  if (s === 'stopped' || rec.sandboxPid === undefined) return s;
  if (!isSameProcess(rec.sandboxPid, rec.sandboxStartTime)) return 'stopped';
  if (freezerState(rec.cgroups?.freezer) === 'FROZEN') return 'paused';
  return s;
}

/** The OCI state to print: the live status, and a pid only while there is a container process. */
export function liveState(rec: ContainerRecord): State {
  const status = liveStatus(rec);
  const st: State = { ...rec.state, status };
  if (status === 'stopped') delete st.pid;
  return st;
}

// ---------------------------------------------------------------------------
// create

const CREATE_FLAGS = {
  values: [['bundle', 'b'], ['pid-file'], ['console-socket'], ['preserve-fds']],
  bools: [['no-pivot'], ['no-new-keyring'], ['detach', 'd'], ['keep']],
} as const;

interface Created {
  readonly rec: ContainerRecord;
  readonly spec: Spec;
}

/** Reads and checks the bundle's config, and plans the container, before anything is made. */
async function loadSpec(bundle: string, g: GlobalOptions): Promise<{ spec: Spec; plan: ContainerPlan }> {
  const { loadPlan } = await import('./translate.js');
  try {
    return loadPlan(bundle, g.flags);
  } catch (e) {
    if (e instanceof SpecError) throw new CommandError(`config.json: ${e.message}`);
    throw e;
  }
}

async function createCommand(g: GlobalOptions, dir: StateDir, args: string[]): Promise<number> {
  const p = parseFlags('create', args, CREATE_FLAGS);
  await createContainer(g, dir, idArg('create', p), last(p, 'bundle'), last(p, 'pid-file'), last(p, 'console-socket'), false, startDaemon);
  return 0;
}

/**
 * Starts the container's sandbox somewhere (a daemon, or this process) and
 * reports its pids or its error; plan is the one create made (a daemon
 * makes its own again).
 */
type SandboxHost = (a: DaemonArgs, plan: ContainerPlan) => Promise<DaemonReport>;

async function createContainer(
  g: GlobalOptions, dir: StateDir, id: string, bundleArg: string | undefined, pidFile: string | undefined,
  consoleSocket: string | undefined, forRun: boolean, host: SandboxHost,
): Promise<Created> {
  const bundle = path.resolve(bundleArg ?? '.');
  const { spec, plan } = await loadSpec(bundle, g);
  if (spec.process.terminal && consoleSocket === undefined && !forRun) {
    throw new CommandError('process.terminal is true: a terminal needs --console-socket');
  }
  const lock = dir.lock(id);
  let made = false;
  try {
    dir.createContainerDir(id);
    made = true;
    const rec = newRecord(id, bundle, spec.annotations);
    dir.write(rec);
    const r = await host({ root: dir.root, id, bundle, ...(consoleSocket !== undefined ? { consoleSocket: path.resolve(consoleSocket) } : {}), flags: g.flags }, plan);
    if ('error' in r) throw new CommandError(r.error);
    rec.state.status = 'created';
    rec.state.pid = r.pid;
    Object.assign(rec, {
      sandboxPid: r.pid, sandboxStartTime: r.startTime, initPid: r.initPid, programPid: r.programPid,
      programStartTime: r.programStartTime, cgroups: r.cgroups,
    });
    dir.write(rec);
    for (const hook of ['prestart', 'createRuntime', 'createContainer'] as const) runHooks(hook, spec.hooks[hook], hookState(rec));
    if (pidFile !== undefined) writePidFile(pidFile, r.pid);
    made = false;
    return { rec, spec };
  } catch (e) {
    if (made) await destroy(dir, id);
    throw e;
  } finally {
    if (made) lock.remove();
    else lock.done();
  }
}

/** Starts the daemon in a session of its own with our stdio, and waits for its report. */
function startDaemon(a: DaemonArgs): Promise<DaemonReport> {
  const consoleSocket = a.consoleSocket;
  return import('./daemon.js').then(({ daemonArgv }) => new Promise((resolve) => {
    const child = spawn(process.execPath, [CLI_MAIN, DAEMON_COMMAND, ...daemonArgv(a)], {
      // With a terminal the container's stdio is the pty, and the daemon
      // keeps none of ours: clients that read `create`'s output until EOF
      // (the containerd shim does with a console socket) would wait forever.
      detached: true, stdio: [...(consoleSocket !== undefined ? ['ignore', 'ignore', 'ignore'] as const : ['inherit', 'inherit', 'inherit'] as const), 'pipe'], env: ownNodeEnv() });
    const pipe = child.stdio[3];
    let text = '';
    const done = (r: DaemonReport): void => {
      pipe?.destroy();
      child.unref();
      resolve(r);
    };
    child.on('error', (e) => done({ error: `cannot start the sandbox: ${e.message}` }));
    pipe?.on('data', (d: Buffer) => {
      text += d.toString('utf8');
      const nl = text.indexOf('\n');
      if (nl >= 0) done(JSON.parse(text.slice(0, nl)) as DaemonReport);
    });
    pipe?.on('close', () => done({ error: 'the sandbox failed to start (its message is above)' }));
  }));
}

/** Written to a temporary name and renamed, as runc does: a reader never sees a partial pid. */
function writePidFile(file: string, pid: number): void {
  const abs = path.resolve(file);
  const tmp = path.join(path.dirname(abs), `.${path.basename(abs)}.tmp-${process.pid}`);
  try {
    fs.writeFileSync(tmp, String(pid));
    fs.renameSync(tmp, abs);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new CommandError(`--pid-file ${file}: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------
// start, state, kill

async function startCommand(dir: StateDir, args: string[]): Promise<number> {
  const id = idArg('start', parseFlags('start', args, {}));
  await startContainer(dir, id);
  return 0;
}

/** known: the bundle's spec, when the caller has it (`run`); else it is read again here. */
async function startContainer(dir: StateDir, id: string, known?: Spec): Promise<void> {
  const lock = dir.lock(id);
  try {
    const rec = dir.get(id);
    const status = liveStatus(rec);
    if (status === 'stopped') throw new CommandError('cannot start a container that has stopped');
    if (status !== 'created') throw new CommandError(`cannot start an already ${status} container`);
    const spec = known ?? await loadSpecQuiet(rec.state.bundle);
    try {
      if (spec) runHooks('startContainer', spec.hooks.startContainer, hookState(rec));
    } catch (e) {
      // The runtime spec's rule: a failed startContainer hook stops the container (delete then removes it).
      signalContainer(rec, 9, true);
      throw e;
    }
    await requestOk(controlSocketPath(dir.root, id), { op: 'start' }, 'start');
    rec.state.status = 'running';
    dir.write(rec);
    if (spec) runHooksWarn('poststart', spec.hooks.poststart, hookState(rec));
  } finally {
    lock.done();
  }
}

/** The bundle's spec for its hooks, or undefined when it is gone or cannot be read or parsed (no hooks then; nothing is reported). */
export async function loadSpecQuiet(bundle: string): Promise<Spec | undefined> {
  const { parseSpec } = await import('./spec.js');
  try {
    const s = parseSpec(JSON.parse(fs.readFileSync(path.join(bundle, 'config.json'), 'utf8')), bundle);
    return s instanceof SpecError ? undefined : s;
  } catch {
    return undefined;
  }
}

function stateCommand(dir: StateDir, args: string[]): number {
  const id = idArg('state', parseFlags('state', args, {}));
  process.stdout.write(JSON.stringify(liveState(dir.get(id)), null, 2) + '\n');
  return 0;
}

/** SIGKILL, KILL, 9 */
export function parseSignal(text: string): number {
  if (/^[0-9]+$/.test(text)) {
    const n = Number(text);
    if (n >= 1 && n <= 64) return n;
  }
  const name = text.toUpperCase().startsWith('SIG') ? text.toUpperCase() : `SIG${text.toUpperCase()}`;
  const n = (os.constants.signals as Record<string, number>)[name];
  if (n === undefined) throw new CommandError(`unknown signal "${text}"`);
  return n;
}

function killCommand(dir: StateDir, args: string[]): number {
  const p = parseFlags('kill', args, { bools: [['all', 'a']] });
  const id = idArg('kill', p);
  const sig = parseSignal(p.positional[1] ?? 'SIGTERM');
  const lock = dir.lock(id);
  try {
    const rec = dir.get(id);
    const status = liveStatus(rec);
    if (status === 'stopped' || status === 'creating') throw new CommandError('container not running');
    signalContainer(rec, sig, p.bools.has('all'));
  } finally {
    lock.done();
  }
  return 0;
}

/**
 * Sends sig to the program's process (the container's process as clients
 * mean it), or with all to every process of the sandbox. A frozen container
 * is thawed after a SIGKILL, or the processes could not die.
 */
function signalContainer(rec: ContainerRecord, sig: number, all: boolean): void {
  const init = rec.initPid;
  if (init === undefined) return;
  if (all) {
    for (const p of sandboxProcesses(init)) signalProcess(p.hostPid, sig);
  } else if (rec.programPid !== undefined && isSameProcess(rec.programPid, rec.programStartTime)) {
    signalProcess(rec.programPid, sig);
  } else {
    // The program's process is gone but the sandbox is not yet: its init ends it.
    signalProcess(init, sig);
  }
  const frozen = freezerState(rec.cgroups?.freezer);
  if (sig === 9 && rec.cgroups?.freezer && (frozen === 'FROZEN' || frozen === 'FREEZING')) void setFrozen(rec.cgroups.freezer, false).catch(() => {});
}

// ---------------------------------------------------------------------------
// delete

async function deleteCommand(dir: StateDir, args: string[]): Promise<number> {
  const p = parseFlags('delete', args, { bools: [['force', 'f']] });
  const id = idArg('delete', p);
  const lock = dir.lock(id);
  try {
    const found = dir.read(id);
    // runc's answer: --force of a container that is not there (deleted
    // already, as clients' cleanups do twice) succeeds; without it, an error.
    if (found === undefined && p.bools.has('force')) {
      lock.done();
      return 0;
    }
    const rec = found ?? dir.get(id);
    const status = liveStatus(rec);
    if (status !== 'stopped' && status !== 'created' && !p.bools.has('force')) {
      throw new CommandError(`cannot delete container ${id} that is not stopped: ${status}`);
    }
    await removeContainer(dir, rec, null);
  } catch (e) {
    lock.done();
    throw e;
  }
  lock.remove();
  return 0;
}

/**
 * destroy, then the poststop hooks (as delete runs them). ended: the end of
 * a sandbox this process hosts (`run`), awaited after its kill; known: the
 * bundle's spec, when the caller has it.
 */
async function removeContainer(dir: StateDir, rec: ContainerRecord, ended: Promise<number> | null, known?: Spec): Promise<void> {
  await destroy(dir, rec.state.id);
  await ended;
  const spec = known ?? await loadSpecQuiet(rec.state.bundle);
  if (spec) runHooksWarn('poststop', spec.hooks.poststop, hookState(rec, 'stopped'));
}

/**
 * Ends the container whatever its state and removes all it has: its
 * processes (SIGKILL to the sandbox's init ends its pid namespace; the
 * daemon then takes the gofer, and with it every mount, down), the daemon,
 * its cgroups, its control socket and its folder. Call with the lock held.
 */
async function destroy(dir: StateDir, id: string): Promise<void> {
  const rec = dir.read(id);
  if (rec?.sandboxPid === process.pid) {
    // `run` hosts the sandbox itself: ending it is killing its processes; the caller awaits the end.
    if (rec.initPid !== undefined) signalContainer(rec, 9, true);
  } else if (rec?.sandboxPid !== undefined && isSameProcess(rec.sandboxPid, rec.sandboxStartTime)) {
    if (rec.initPid !== undefined) signalContainer(rec, 9, true);
    if (!(await exited(rec.sandboxPid, rec.sandboxStartTime, 10_000))) {
      // The daemon's children die with it (PR_SET_PDEATHSIG), the sandbox with them.
      signalProcess(rec.sandboxPid, 9);
      await exited(rec.sandboxPid, rec.sandboxStartTime, 5000);
    }
  }
  if (rec?.cgroups) {
    if (rec.cgroups.freezer && freezerState(rec.cgroups.freezer) === 'FROZEN') await setFrozen(rec.cgroups.freezer, false);
    const left = await removeCgroupsWhenEmpty(rec.cgroups);
    if (left.length > 0) throw new CommandError(`cannot remove the cgroups ${left.join(', ')}: still in use`);
  }
  fs.rmSync(controlSocketPath(dir.root, id), { force: true });
  dir.removeContainerDir(id);
}

async function exited(pid: number, start: number | undefined, timeoutMs: number): Promise<boolean> {
  const end = Date.now() + timeoutMs;
  while (isSameProcess(pid, start)) {
    if (Date.now() >= end) return false;
    await new Promise<void>((r) => setTimeout(r, 20));
  }
  return true;
}

// ---------------------------------------------------------------------------
// run, wait, list

/**
 * run: create and start. With --detach the sandbox is a daemon's, as
 * create makes it; in the foreground this process hosts it (the daemon's
 * code, without a second Node to boot), serves its control socket for
 * exec, kill and state meanwhile, and exits with the program's status.
 */
async function runCommand(g: GlobalOptions, dir: StateDir, args: string[]): Promise<number> {
  const p = parseFlags('run', args, CREATE_FLAGS);
  const id = idArg('run', p);
  const detach = p.bools.has('detach');
  // The sentry's thread, started by cli/prestart.ts before this module loaded (sentry/thread.ts).
  const sentry = detach ? null : takeSentryThread();
  let ended: Promise<number> | null = null;
  const host: SandboxHost = sentry === null ? startDaemon : async (a, plan) => {
    const { hostContainer } = await import('./daemon.js');
    return new Promise<DaemonReport>((resolve) => {
      ended = hostContainer(a, resolve, sentry, plan);
      void ended.then((status) => resolve({ error: `the sandbox ended before it started (status ${status})` }));
    });
  };
  const { spec } = await createContainer(g, dir, id, last(p, 'bundle'), last(p, 'pid-file'), last(p, 'console-socket'), true, host);
  try {
    await startContainer(dir, id, spec);
  } catch (e) {
    await forceDelete(dir, id, ended, spec);
    throw e;
  }
  if (detach) return 0;
  const status = ended !== null ? await ended : await waitExit(dir, id);
  if (!p.bools.has('keep')) await forceDelete(dir, id, null, spec);
  return status;
}

/** delete --force, under the lock, with the poststop hooks (spec: the bundle's, as run read it). */
async function forceDelete(dir: StateDir, id: string, ended: Promise<number> | null, spec: Spec): Promise<void> {
  const lock = dir.lock(id);
  try {
    const rec = dir.read(id);
    if (rec) await removeContainer(dir, rec, ended, spec);
    else await ended;
  } catch (e) {
    lock.done();
    throw e;
  }
  lock.remove();
}

/** The program's exit status: asked of the daemon, or read from the record once it is gone. */
export async function waitExit(dir: StateDir, id: string): Promise<number> {
  let status: number | undefined;
  await request(controlSocketPath(dir.root, id), { op: 'wait' }, (a) => {
    if ('exit' in a) status = a.exit;
    return true;
  });
  if (status !== undefined) return status;
  // The daemon had ended already, or ended as we asked: its record says how.
  const rec = dir.read(id);
  if (rec?.sandboxPid !== undefined) await exited(rec.sandboxPid, rec.sandboxStartTime, 10_000);
  return dir.read(id)?.exitStatus ?? 137;
}

async function waitCommand(dir: StateDir, args: string[]): Promise<number> {
  const id = idArg('wait', parseFlags('wait', args, {}));
  dir.get(id);
  const status = await waitExit(dir, id);
  process.stdout.write(JSON.stringify({ id, exitStatus: status }) + '\n');
  return 0;
}

function listCommand(dir: StateDir, args: string[]): number {
  const p = parseFlags('list', args, { values: [['format', 'f']], bools: [['quiet', 'q']] });
  const format = last(p, 'format') ?? 'table';
  if (format !== 'table' && format !== 'json') throw new UsageError(`list: --format must be table or json, not '${format}'`);
  const recs = dir.list();
  if (p.bools.has('quiet')) {
    process.stdout.write(recs.map((r) => r.state.id + '\n').join(''));
    return 0;
  }
  const rows = recs.map((r) => {
    const st = liveState(r);
    return {
      ociVersion: st.ociVersion, id: st.id, pid: st.pid ?? 0, status: st.status, bundle: st.bundle,
      rootfs: path.join(st.bundle, 'rootfs'), created: r.created, owner: 'root', ...(st.annotations ? { annotations: st.annotations } : {}),
    };
  });
  if (format === 'json') {
    process.stdout.write(JSON.stringify(rows) + '\n');
    return 0;
  }
  const table = [['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER'], ...rows.map((r) => [r.id, String(r.pid), r.status, r.bundle, r.created, r.owner])];
  const widths = table[0]!.map((_, c) => Math.max(...table.map((row) => row[c]!.length)));
  process.stdout.write(table.map((row) => row.map((cell, c) => cell.padEnd(widths[c]! + 2)).join('').trimEnd() + '\n').join(''));
  return 0;
}
