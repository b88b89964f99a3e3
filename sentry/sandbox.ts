// One sandbox, from the main thread: start the gofer (in the launcher's
// private mount namespace holding the sandbox root), start the sentry thread,
// start the sandbox's first process once the gofer answers, and take it all
// down together. If any part dies, the rest is killed: an app never runs on
// without its sentry and gofer.
import type { NetSettings } from './net/settings.js';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import tty from 'node:tty';
import path from 'node:path';
import { native, GOFER_PATH, LAUNCHER_PATH } from '../native/index.js';
import { SentryThread } from './thread.js';
import type { PlatformName } from '../platform/handshake.js';
import { makeLogger } from './log.js';
import type { SentryMessage, SentryWorkerData } from './worker.js';
import { idMapsOf, type IdMappings } from './kernel/idmap.js';
import { receivePty, TerminalError, TerminalRelay, type SandboxPty } from './terminal.js';
import { CgroupError, SandboxCgroups, removeStaleCgroups } from './kernel/cgroup.js';
import { NetPolicy } from './net/policy.js';
import { NetworkSetupError, SandboxNetwork } from './net/modes.js';
import { writeEtcFiles } from './net/etc-files.js';
import type { PortRule } from './net/nft.js';
import type { Readable, Writable } from 'node:stream';

/**
 * Where the root's writes go (gVisor's --overlay2): memory, a tmpfs upper
 * layer (the default); dir, an upper layer in a fresh folder of a host
 * directory (disk, not memory; thrown away all the same); none, no writable
 * layer at all (the root is read-only, /tmp stays a tmpfs); direct, no
 * overlay: the rootfs itself, read-write, as runc runs a container (the
 * gofer writes into it; /tmp is the root's own).
 */
export type OverlayMode =
  | { readonly kind: 'memory' }
  | { readonly kind: 'dir'; readonly dir: string }
  | { readonly kind: 'none' }
  | { readonly kind: 'direct' };

/** A host file or directory at target inside the sandbox. Paths are absolute. */
export interface BindMount {
  readonly kind: 'bind';
  readonly source: string;
  readonly target: string;
  readonly readOnly: boolean;
}

/** A fresh tmpfs at target; size in bytes, mode in permission bits. */
export interface TmpfsMount {
  readonly kind: 'tmpfs';
  readonly target: string;
  readonly size?: number;
  readonly mode?: number;
}

/**
 * The sandbox's POSIX message queues (its ipc namespace's mqueue
 * filesystem) at target, as an OCI spec's mqueue mount asks: the gofer
 * launcher makes the place, the app launcher mounts it once the namespace
 * exists, in the sandbox's mount namespace and in the gofer's.
 */
export interface MqueueMount {
  readonly kind: 'mqueue';
  readonly target: string;
}

export type ExtraMount = BindMount | TmpfsMount | MqueueMount;

export interface SandboxOptions {
  /** Directory whose tree is the sandbox's root (the lower layer of its overlay, if it has one). */
  readonly rootfs: string;
  /** Default: memory. */
  readonly overlay?: OverlayMode;
  /** Mounted over the root in this order (a later one may go inside an earlier one). */
  readonly mounts?: readonly ExtraMount[];
  /**
   * none: the sandbox's own namespace, loopback only; host: the host's;
   * sandbox: its own namespace with a veth pair and NAT to the host's
   * network (sentry/net/modes.ts).
   */
  readonly network: 'none' | 'host' | 'sandbox';
  /** Ports published from the host into the sandbox (network sandbox only). */
  readonly publish?: readonly PortRule[];
  /**
   * Bind tsvisor's own /etc/resolv.conf, /etc/hosts and /etc/hostname
   * (the sandbox's copies) over the root's (sentry/net/etc-files.ts), except where
   * mounts cover them (tsvisor do); default: the root's files.
   */
  readonly etcFiles?: boolean;
  /** Egress rules and raw sockets (tsvisor do --net-allow, --net-deny, --net-raw); default: none, refused. */
  readonly net?: NetSettings;
  readonly argv: readonly string[];
  readonly env: NodeJS.ProcessEnv;
  /** Working directory inside the sandbox ("/" where it does not exist there). */
  readonly cwd: string;
  readonly strace: boolean;
  readonly strict: boolean;
  /** Run the program as pid 2 under a reaping init (as natively it is not pid 1). */
  readonly withInit: boolean;
  /** A memory limit in bytes, enforced with a memory cgroup of the sandbox's own; default none. */
  readonly memoryLimit?: number;
  /** A limit on the sandbox's tasks (processes and threads), enforced with a pids cgroup of its own; default none. */
  readonly pidsLimit?: number;
  /**
   * Give the program a terminal of the sandbox's own (/dev/pts/0, also
   * /dev/console) relayed to tsvisor's stdin, which must be a terminal, and
   * stdout, as `docker run -it` does. Default: stdio is inherited as it is.
   */
  readonly terminal?: boolean;
  /**
   * How syscalls are trapped: seccomp user notification or ptrace. Default:
   * seccomp where the kernel has user notification, else ptrace.
   */
  readonly platform?: PlatformName;
  /** The sentry's thread, started early by the caller (sentry/thread.ts); default: one started here. */
  readonly sentry?: SentryThread;
  /**
   * The sandbox's user namespace maps ids with these ranges (OCI
   * linux.uidMappings / gidMappings) instead of one to one: its processes
   * run as the host ids they map to. Default: one to one.
   */
  readonly idMappings?: IdMappings;
  /** What `tsvisor create`'s daemon adds to the sandbox's life (cli/oci/daemon.ts); absent for `tsvisor do`. */
  readonly oci?: OciSandboxHooks;
}

/** The OCI runtime's additions: more launcher options, and callbacks at the points it must act. */
export interface OciSandboxHooks {
  /** More `launcher app` options (before `--`); the fds they name are launcherFds, passed at 4, 5, ... in order. */
  readonly launcherArgs: readonly string[];
  readonly launcherFds: readonly number[];
  /** cgroup.procs files of cgroups the caller made (freezer, cpu): the launcher joins them too. */
  readonly cgroupProcs: readonly string[];
  /** cgroup v2: the container's one cgroup (in cgroupProcs), where the memory and pids limits go too. */
  readonly v2Cgroup?: string;
  readonly hostname?: string;
  /** With terminal: the caller takes the sandbox's pty (for the console socket) instead of a relay to our stdin. */
  takePty?(pty: SandboxPty): void;
  /** The sandbox's processes exist (the program waits at its start gate, if it has one). */
  onRunning?(info: RunningSandbox): void;
}

export interface RunningSandbox {
  /** Host pids: the sandbox's init (its pid 1), the program's process, the launcher outside. */
  readonly initPid: number;
  readonly programPid: number;
  readonly launcherPid: number;
  /** The cgroups runSandbox made (memoryLimit, pidsLimit), removed at its end. */
  readonly memoryCgroup?: string;
  readonly pidsCgroup?: string;
}

export interface SandboxResult {
  /** The program's exit status, or 128 + the signal that killed it. */
  readonly status: number;
  /** Traps per syscall name. */
  readonly counts: Record<string, number>;
}

export class SandboxError extends Error {}

function socketPair(): [number, number] {
  const r = native.socketpair(true);
  if (typeof r === 'number') throw new SandboxError(`socketpair: errno ${-r}`);
  return [r[0]!, r[1]!];
}

function exitStatus(code: number | null, signal: NodeJS.Signals | null): number {
  if (code !== null) return code;
  const signo = signal ? os.constants.signals[signal] : undefined;
  return 128 + (signo ?? 9);
}

/** Whether the kernel offers seccomp user notification (Linux 5.0, and not disabled). */
export function kernelHasUserNotif(): boolean {
  try {
    return fs.readFileSync('/proc/sys/kernel/seccomp/actions_avail', 'latin1').split(/\s+/).includes('user_notif');
  } catch {
    return false;
  }
}

/** The platform to use, said in one log line: the one asked for, else the best the kernel has. */
export function choosePlatform(asked: PlatformName | undefined): PlatformName {
  const log = makeLogger('tsvisor');
  const notif = kernelHasUserNotif();
  if (asked === 'seccomp' && !notif) throw new SandboxError('--platform seccomp: this kernel has no seccomp user notification (use --platform ptrace)');
  if (asked) {
    log.info({ platform: asked }, `platform ${asked}: asked for`);
    return asked;
  }
  if (notif) {
    log.info({ platform: 'seccomp' }, 'platform seccomp: the kernel has seccomp user notification');
    return 'seccomp';
  }
  log.warn({ platform: 'ptrace' }, 'platform ptrace: the kernel has no seccomp user notification (slower)');
  return 'ptrace';
}

export async function runSandbox(opts: SandboxOptions): Promise<SandboxResult> {
  try {
    return await runSandboxOn(opts);
  } finally {
    // Ended with its sandbox, or never given one (a failure before it started).
    opts.sentry?.discard();
  }
}

async function runSandboxOn(opts: SandboxOptions): Promise<SandboxResult> {
  if (!fs.existsSync(LAUNCHER_PATH)) throw new SandboxError(`launcher not built: ${LAUNCHER_PATH} (run npm ci)`);
  const platform = choosePlatform(opts.platform);
  // process.stdin only in terminal mode: making the stream of a pipe sets it
  // O_NONBLOCK, and the program shares that open file when it inherits stdin.
  const hostTerminal = opts.terminal && !opts.oci?.takePty ? process.stdin : null;
  if (opts.terminal && !opts.oci?.takePty && !(hostTerminal instanceof tty.ReadStream)) throw new SandboxError('a terminal for the sandbox needs stdin to be a terminal');
  removeStaleStates();
  // A cgroup is named after its sandbox's state folder: once that is gone, so is the sandbox.
  removeStaleCgroups((id) => fs.existsSync(STATE_PREFIX + id));
  const state = fs.mkdtempSync(STATE_PREFIX);
  // Whole or not at all (a rename): another tsvisor's removeStaleStates must
  // never read it half-written.
  fs.writeFileSync(path.join(state, 'owner.new'), String(process.pid));
  fs.renameSync(path.join(state, 'owner.new'), path.join(state, 'owner'));
  let cgroups: SandboxCgroups | null = null;
  if (opts.memoryLimit !== undefined || opts.pidsLimit !== undefined) {
    try {
      cgroups = SandboxCgroups.create(path.basename(state).slice(path.basename(STATE_PREFIX).length), {
        ...(opts.memoryLimit !== undefined ? { memoryBytes: opts.memoryLimit } : {}),
        ...(opts.pidsLimit !== undefined ? { pids: opts.pidsLimit } : {}),
      }, opts.oci?.v2Cgroup);
    } catch (err) {
      fs.rmSync(state, { recursive: true, force: true });
      throw err instanceof CgroupError ? new SandboxError(err.message) : err;
    }
  }
  let upperDir: string | null = null;
  try {
    upperDir = makeUpperDir(state, opts.overlay);
  } catch (err) {
    fs.rmSync(state, { recursive: true, force: true });
    throw err;
  }
  const stateId = path.basename(state).slice(path.basename(STATE_PREFIX).length);
  let network: SandboxNetwork;
  let mounts: readonly ExtraMount[];
  try {
    network = await prepareNetwork(opts, stateId);
    mounts = opts.etcFiles ? [...etcMounts(opts, state, network.sandboxIp), ...(opts.mounts ?? [])] : (opts.mounts ?? []);
  } catch (err) {
    if (upperDir) fs.rmSync(upperDir, { recursive: true, force: true });
    if (cgroups) await cgroups.remove();
    fs.rmSync(state, { recursive: true, force: true });
    throw err;
  }
  const merged = path.join(state, 'merged');
  const [goferSentrySide, goferSide] = socketPair();
  const [readySentrySide, readyGoferSide] = socketPair();
  const [controlSentrySide, controlLauncherSide] = socketPair();

  // With a terminal of its own, the sandbox's /dev/console is that one; else the caller's, if any.
  const [ptySentrySide, ptyGoferSide] = opts.terminal ? socketPair() : [-1, -1];
  const ttyArgs = opts.terminal ? ['--console-pty', '5'] : stdioTerminals().flatMap((t) => ['--tty', t]);
  const goferIds = goferIdArgs(opts.idMappings);
  const gofer = spawn(LAUNCHER_PATH, [
    'gofer', '--lower', opts.rootfs, '--state', state, '--ready-fd', '4', ...ttyArgs,
    '--overlay', opts.overlay?.kind ?? 'memory', ...(upperDir ? ['--upper-dir', upperDir] : []),
    ...goferIds.launcher, ...mounts.flatMap(mountArgs), '--',
    GOFER_PATH, '--root', merged, '--sock-fd', '3', ...goferIds.gofer,
  ], { stdio: ['ignore', 'inherit', 'inherit', goferSide, readyGoferSide, ...(opts.terminal ? [ptyGoferSide] : [])] });
  native.close(goferSide);
  native.close(readyGoferSide);
  if (opts.terminal) native.close(ptyGoferSide);
  // Set in a callback: the cast keeps TypeScript from narrowing it to null for good.
  let relay = null as TerminalRelay | null;

  const workerData: SentryWorkerData = {
    controlFd: controlSentrySide,
    goferRoot: merged,
    goferFd: goferSentrySide,
    strict: opts.strict,
    strace: opts.strace,
    net: opts.net ?? { allow: [], deny: [], rawSockets: false },
    withInit: opts.withInit,
    memoryLimit: cgroups?.memory ?? null,
    platform,
    ...(opts.oci?.hostname !== undefined ? { hostname: opts.oci.hostname } : {}),
    ...(opts.idMappings ? { idMappings: opts.idMappings } : {}),
  };
  const sentry = opts.sentry ?? new SentryThread();
  const early = sentry.early;
  const worker = sentry.adopt();
  worker.postMessage(workerData);

  let app: ChildProcess | null = null;
  // The sentry holds the sandbox's first process (its 'running' message).
  let running = false;
  let appExited = false;
  let failure: string | null = null;
  let counts: Record<string, number> = {};
  // Settles with the program's exit status, or null when the sandbox never started.
  let settleStatus: (status: number | null) => void = () => {};
  const appStatus = new Promise<number | null>((resolve) => { settleStatus = resolve; });
  // A signal we were sent and passed on (SIGTERM, SIGHUP).
  let forwarded: NodeJS.Signals | null = null;
  const killApp = (why: string): void => {
    // Forwarded before the sandbox ran, it ends the launcher mid-start, and
    // the sentry then fails its handshake: that ending is the one asked for
    // (the status says which signal), not a failure to report.
    if (forwarded === null || running) failure ??= why;
    if (app) app.kill('SIGKILL');
    else settleStatus(null);
  };

  const forward = (sig: NodeJS.Signals) => (): void => {
    forwarded ??= sig;
    app?.kill(sig);
  };
  const onInt = (): void => { /* the terminal delivers it to the program itself */ };
  const onTerm = forward('SIGTERM');
  const onHup = forward('SIGHUP');
  process.on('SIGINT', onInt);
  process.on('SIGTERM', onTerm);
  process.on('SIGHUP', onHup);

  // The app launcher starts now, beside the gofer launcher: it joins the
  // cgroups (an RCU grace period each) and waits for the root
  // (--root-ready-fd) while the gofer mounts it and the sentry thread boots.
  const startApp = (): void => {
    const fail = (why: string): void => {
      native.close(controlLauncherSide);
      killApp(why);
    };
    let terminalArgs: string[] = [];
    if (opts.terminal && opts.oci?.takePty) {
      try {
        const pty = receivePty(ptySentrySide, 5000);
        opts.oci.takePty(pty);
        terminalArgs = ['--terminal', pty.name];
      } catch (err) {
        fail(err instanceof Error ? err.message : String(err));
        return;
      }
    } else if (opts.terminal && hostTerminal instanceof tty.ReadStream) {
      let pty: SandboxPty | null = null;
      try {
        // The gofer launcher sends it as it makes /dev, early; the wait is a hang guard.
        pty = receivePty(ptySentrySide, 5000);
        relay = new TerminalRelay(pty, hostTerminal, process.stdout);
        relay.start();
        terminalArgs = ['--terminal', pty.name];
      } catch (err) {
        // Setting the host's terminal up can fail too (a terminal hung up meanwhile).
        if (pty && !relay) { native.close(pty.master); native.close(pty.slave); }
        fail(err instanceof TerminalError ? err.message : `the sandbox's terminal: ${(err as Error).message}`);
        return;
      }
    }
    // The launcher's fds from 4: the OCI ones, the root's readiness, then the network gate, if any.
    const rootReadyFd = 4 + (opts.oci?.launcherFds.length ?? 0);
    const gateFd = network.needsGate ? rootReadyFd + 1 : -1;
    app = spawn(LAUNCHER_PATH, [
      'app', '--mntns-of', String(gofer.pid), '--root', merged, '--cwd', opts.cwd, '--root-ready-fd', String(rootReadyFd),
      // sandbox is a namespace of the sandbox's own too, as none; its veth is added through the gate.
      '--net', opts.network === 'host' ? 'host' : 'none', '--init', opts.withInit ? 'yes' : 'no', '--platform', platform,
      // With --memory or --pids-limit the launcher enters the cgroups before it clones pid 1.
      // (On cgroup v2 an OCI container's limits are in its own cgroup, which the OCI options join.)
      ...(cgroups?.procsFiles ?? []).filter((f) => !opts.oci?.cgroupProcs.includes(f)).flatMap((f) => ['--cgroup-procs', f]), ...terminalArgs,
      ...(gateFd >= 0 ? ['--net-ready-fd', String(gateFd)] : []),
      ...idMapArgs(opts.idMappings),
      ...mounts.flatMap((m) => m.kind === 'mqueue' ? ['--mqueue', m.target] : []),
      ...ociLauncherArgs(opts.oci), '--', ...opts.argv,
    ], {
      stdio: ['inherit', 'inherit', 'inherit', controlLauncherSide, ...(opts.oci?.launcherFds ?? []), readySentrySide, ...(gateFd >= 0 ? ['pipe' as const] : [])],
      env: opts.env,
    });
    native.close(controlLauncherSide);
    const gate = gateFd >= 0 ? app.stdio[gateFd] : null;
    if (gate) networkGate(gate as Readable & Writable, network, killApp);
    app.on('error', (err) => {
      failure ??= `cannot start the launcher: ${err.message}`;
      settleStatus(null);
    });
    app.on('exit', (code, signal) => settleStatus(exitStatus(code, signal)));
  };
  startApp();

  const workerDone = new Promise<void>((resolve) => {
    worker.on('message', (m: SentryMessage) => {
      if (m.type === 'running') {
        running = true;
        if (app?.pid === undefined) return;
        opts.oci?.onRunning?.({
          initPid: m.hostPid, programPid: m.programHostPid, launcherPid: app.pid,
          ...(cgroups?.dir('memory') ? { memoryCgroup: cgroups.dir('memory') } : {}),
          ...(cgroups?.dir('pids') ? { pidsCgroup: cgroups.dir('pids') } : {}),
        });
      } else if (m.type === 'fatal') {
        killApp(`sentry: ${m.message}`);
      } else if (m.type === 'done') {
        // Its last act: the thread takes a few ms more to wind its isolate down, which nothing here waits for.
        counts = m.counts;
        resolve();
      }
    });
    if (early !== null) {
      killApp(early);
      resolve();
    }
    worker.on('error', (err) => { killApp(`sentry crashed: ${err.message}`); resolve(); });
    worker.on('exit', () => {
      if (!running) killApp('the sentry ended before the sandbox started');
      resolve();
    });
  });
  gofer.on('exit', (code, signal) => {
    if (appExited) return;
    // Exit 125 before the sandbox started: the launcher could not build the
    // root (a bad --bind or --tmpfs target, say) and said why just above.
    if (!running && code === 125) killApp('the sandbox\'s root could not be set up (the launcher says why above)');
    else killApp(`the gofer exited (${signal ?? code}): killing the sandbox`);
  });

  let status = 125;
  try {
    status = (await appStatus) ?? 125;
    appExited = true;
    // The program's last output may still be in the pty: hand it over before the terminal is restored.
    await relay?.finish(2000);
    // With its last task gone the listener hangs up and the sentry loop ends.
    const settled = await Promise.race([workerDone.then(() => true), delay(5000).then(() => false)]);
    if (!settled) await worker.terminate();
  } finally {
    appExited = true;
    // Closing our end tells the gofer to exit, which unmounts the sandbox root.
    native.close(goferSentrySide);
    // Held until now (the app launcher has its own copy): a gofer launcher
    // whose app launcher died early still has a reader for its readiness byte.
    native.close(readySentrySide);
    process.off('SIGINT', onInt);
    process.off('SIGTERM', onTerm);
    process.off('SIGHUP', onHup);
    relay?.restore();
    if (opts.terminal) native.close(ptySentrySide);
    if (gofer.exitCode === null && gofer.signalCode === null) {
      // The sentry closed its end; give the gofer a moment, then make sure.
      const exited = await Promise.race([once(gofer, 'exit').then(() => true), delay(2000).then(() => false)]);
      if (!exited) gofer.kill('SIGKILL');
    }
    // The overlay that used it lived in the gofer's namespace, gone with it.
    if (upperDir) fs.rmSync(upperDir, { recursive: true, force: true });
    // The veth went with the sandbox's namespace; the host table and forwarders are ours to remove.
    for (const problem of await network.teardown()) process.stderr.write(`tsvisor: ${problem}\n`);
    // Empty once the launcher and the sandbox's pid namespace are gone.
    for (const dir of cgroups ? await cgroups.remove() : []) {
      process.stderr.write(`tsvisor: could not remove the cgroup ${dir} (still busy); the next run removes it\n`);
    }
    fs.rmSync(state, { recursive: true, force: true });
  }
  if (failure) throw new SandboxError(failure);
  return { status, counts };
}

const STATE_PREFIX = '/tmp/tsvisor-';
/** In the state folder: tsvisor's /etc files (plain host files, bound into the sandbox). */
const ETC_DIR = 'etc-files';

/** The network's host-side parts that must exist before the sandbox starts (sandbox mode: the veth, the ports). */
async function prepareNetwork(opts: SandboxOptions, id: string): Promise<SandboxNetwork> {
  const policy = NetPolicy.fromTexts(opts.net?.allow ?? [], opts.net?.deny ?? []);
  if (typeof policy === 'string') throw new SandboxError(policy);
  if ((opts.publish?.length ?? 0) > 0 && opts.network !== 'sandbox') throw new SandboxError('publishing ports (-p) needs --network sandbox');
  try {
    return await SandboxNetwork.prepare({ mode: opts.network, id, policy, publish: opts.publish ?? [], log: makeLogger('tsvisor') });
  } catch (err) {
    throw err instanceof NetworkSetupError ? new SandboxError(`--network ${opts.network}: ${err.message}`) : err;
  }
}

/**
 * tsvisor's /etc files as binds, mounted before the user's. Writable, as
 * Docker's are (programs do edit /etc/hosts): each is the sandbox's own copy
 * in its state folder, thrown away with it; read-only with --overlay none.
 */
function etcMounts(opts: SandboxOptions, state: string, sandboxIp: string | null): BindMount[] {
  const facts = { mode: opts.network, hostname: opts.oci?.hostname ?? os.hostname(), sandboxIp };
  const userTargets = (opts.mounts ?? []).map((m) => m.target);
  return writeEtcFiles(path.join(state, ETC_DIR), facts, opts.rootfs, opts.overlay?.kind !== 'none', userTargets)
    .map((b) => ({ kind: 'bind', source: b.source, target: b.target, readOnly: opts.overlay?.kind === 'none' }));
}

/**
 * The launcher's network gate: it writes the held child's host pid; the
 * network is set up in that pid's namespace, then the child goes on ('g').
 * A failure kills the sandbox before its program runs.
 */
function networkGate(gate: Readable & Writable, network: SandboxNetwork, fail: (why: string) => void): void {
  let line = '';
  const onData = (b: Buffer): void => {
    line += b.toString('latin1');
    if (!line.includes('\n')) return;
    gate.off('data', onData);
    const pid = Number(line.slice(0, line.indexOf('\n')));
    network.attach(pid).then(
      () => { gate.end('g'); },
      (err: Error) => {
        gate.destroy();
        fail(`the sandbox's network: ${err.message}`);
      },
    );
  };
  gate.on('data', onData);
  gate.on('error', () => { /* the launcher died: its exit says so */ });
}
const UPPER_PREFIX = 'tsvisor-upper-';
/** In the state folder: the path of the --overlay dir folder, for removeStaleStates. */
const UPPER_NOTE = 'upper-dir';

/** --overlay dir: a fresh folder in the host directory for the upper and work dirs (the launcher makes those). */
function makeUpperDir(state: string, overlay: OverlayMode | undefined): string | null {
  if (overlay?.kind !== 'dir') return null;
  let dir: string;
  try {
    dir = fs.mkdtempSync(path.join(overlay.dir, UPPER_PREFIX));
  } catch (err) {
    throw new SandboxError(`--overlay dir=${overlay.dir}: ${(err as Error).message}`);
  }
  fs.writeFileSync(path.join(state, UPPER_NOTE), dir);
  return dir;
}

/** The launcher's --uid-map and --gid-map (NS:HOST:SIZE,...), or none for its one-to-one map. */
function idMapArgs(mappings: IdMappings | undefined): string[] {
  if (!mappings) return [];
  const ids = idMapsOf(mappings);
  return ['--uid-map', ids.uid.launcherArg(), '--gid-map', ids.gid.launcherArg()];
}

/** Where the gofer launcher leaves a mapped sandbox's gofer its user namespace (past stdio, the sockets and the pty). */
const GOFER_USERNS_FD = 6;

/**
 * A mapped sandbox's gofer options. Its gofer serves from a user namespace
 * with the sandbox's maps (the launcher makes it, the gofer enters it), so
 * that the host kernel limits the tasks' file capabilities to files of
 * mapped owners, as it does natively; and the tmpfs mounts the launcher
 * makes belong to the namespace's root (--root-owner, host ids). One to
 * one, there are none: the gofer stays in the host's namespace.
 */
function goferIdArgs(mappings: IdMappings | undefined): { launcher: string[]; gofer: string[] } {
  if (!mappings) return { launcher: [], gofer: [] };
  const ids = idMapsOf(mappings);
  const rootUid = ids.uid.toHost(0);
  const rootGid = ids.gid.toHost(0);
  const rootOwner = rootUid >= 0 && rootGid >= 0 ? ['--root-owner', `${rootUid}:${rootGid}`] : [];
  const userns = ['--userns-fd', String(GOFER_USERNS_FD)];
  return {
    launcher: [...rootOwner, ...idMapArgs(mappings), ...userns],
    gofer: userns,
  };
}

/** The app launcher's options an OCI container adds (see native/launcher/launcher.h). */
function ociLauncherArgs(oci: OciSandboxHooks | undefined): string[] {
  if (!oci) return [];
  return [
    ...oci.cgroupProcs.flatMap((f) => ['--cgroup-procs', f]),
    ...(oci.hostname ? ['--hostname', oci.hostname] : []),
    ...oci.launcherArgs,
  ];
}

/** The launcher's argv for one extra mount (see native/launcher/launcher.h). */
function mountArgs(m: ExtraMount): string[] {
  if (m.kind === 'bind') return ['--bind', m.source, m.target, m.readOnly ? 'ro' : 'rw'];
  if (m.kind === 'mqueue') return ['--mqueue', m.target];
  const opts = [
    ...(m.size !== undefined ? [`size=${m.size}`] : []),
    ...(m.mode !== undefined ? [`mode=${m.mode.toString(8).padStart(4, '0')}`] : []),
  ];
  return ['--tmpfs', m.target, opts.join(',')];
}

/** The pseudo-terminals our stdio is connected to: the sandbox shows them at the same names. */
function stdioTerminals(): string[] {
  const found = new Set<string>();
  for (const fd of [0, 1, 2]) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (/^\/dev\/pts\/[0-9]+$/.test(target)) found.add(target);
    } catch {
      /* closed */
    }
  }
  return [...found];
}

/**
 * A tsvisor killed with -9 leaves its (empty) state folder behind: the mounts
 * in it lived in the gofer's namespace and died with it. Remove those whose
 * owner is gone; never one in use.
 */
function removeStaleStates(): void {
  const dir = path.dirname(STATE_PREFIX);
  const prefix = path.basename(STATE_PREFIX);
  let names: string[];
  try {
    names = fs.readdirSync(dir).filter((n) => n.startsWith(prefix));
  } catch {
    return;
  }
  for (const name of names) {
    const state = path.join(dir, name);
    try {
      // The owner is written first of all, so a folder left with only tsvisor's /etc files
      // lost its owner file to a cleanup that did not know them (an older tsvisor's).
      const leftovers = fs.readdirSync(state);
      if (!(leftovers.length === 1 && leftovers[0] === ETC_DIR)) {
        const owner = Number(fs.readFileSync(path.join(state, 'owner'), 'latin1'));
        // Only a folder whose owner is known and gone is stale.
        if (!Number.isInteger(owner) || owner <= 0 || fs.existsSync(`/proc/${owner}`)) continue;
      }
      // An --overlay dir folder: plain files on the host (its overlay died with the gofer).
      try {
        const upper = fs.readFileSync(path.join(state, UPPER_NOTE), 'utf8');
        if (path.isAbsolute(upper) && path.basename(upper).startsWith(UPPER_PREFIX)) fs.rmSync(upper, { recursive: true, force: true });
        fs.rmSync(path.join(state, UPPER_NOTE), { force: true });
      } catch { /* none */ }
      // tsvisor's /etc files: plain files (their binds died with the gofer's namespace).
      fs.rmSync(path.join(state, ETC_DIR), { recursive: true, force: true });
      // Only empty mount points may be left: rmdir (not rm -r) never follows a live mount.
      for (const sub of ['layer', 'merged']) {
        try {
          fs.rmdirSync(path.join(state, sub));
        } catch { /* absent */ }
      }
      fs.rmSync(path.join(state, 'owner'), { force: true });
      fs.rmdirSync(state);
    } catch {
      /* not ours to judge: leave it */
    }
  }
}

function delay(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function once(child: ChildProcess, event: 'exit'): Promise<void> {
  return new Promise((r) => child.once(event, () => r()));
}
