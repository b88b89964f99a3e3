// The daemon of one OCI container: the process `tsvisor create` leaves
// behind, in a session of its own, holding the container's stdio (the
// caller's fds 0..2). It runs the sandbox with runSandbox (sentry thread,
// gofer, launcher: the same starter as `tsvisor do`), holds the program
// before its exec until `start`, serves the control socket (start, wait,
// exec), and exits with the program's status once the sandbox is gone.
//
// Its pid is the container's pid as clients see it (pid file, state): the
// shim and conmon reap the pid they are given, which must therefore be a
// process that becomes their child when `create` exits and that exits with
// the container. The sandbox's own processes are the daemon's grandchildren
// (`tsvisor ps` lists them), as with runsc's sandbox process.
//
// fd 3 is the report channel to `create`: one JSON line, the pids and
// cgroups once the sandbox waits at its start gate, or the error.
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { native } from '../../native/index.js';
import { runSandbox, SandboxError, type RunningSandbox } from '../../sentry/sandbox.js';
import type { SandboxPty } from '../../sentry/terminal.js';
import type { SentryThread } from '../../sentry/thread.js';
import { createOciCgroups, procsFiles, removeCgroupsWhenEmpty, v2CgroupOf } from './cgroups.js';
import { sendToConsoleSocket } from './console.js';
import { controlSocketPath, serve, type ControlAnswer, type ControlRequest, type ExecRequest } from './control.js';
import { hostPidOf, startTime } from './procs.js';
import { RLIMITS, SpecError, type Rlimit } from './spec.js';
import { StateDir, type CgroupController } from './state.js';
import { loadPlan, type ContainerPlan, type RunFlags } from './translate.js';
import { formatOverlay2, parseOverlay2 } from './overlay2.js';

/** What `create` passes on the daemon's command line. */
export interface DaemonArgs {
  readonly root: string;
  readonly id: string;
  readonly bundle: string;
  readonly consoleSocket?: string;
  readonly flags: RunFlags;
}

/** The one line the daemon reports to `create` on fd 3. */
export type DaemonReport =
  | {
    readonly ok: true; readonly pid: number; readonly startTime: number; readonly initPid: number;
    readonly programPid: number; readonly programStartTime: number;
    readonly cgroups: Partial<Record<CgroupController, string>>;
  }
  | { readonly error: string };

const REPORT_FD = 3;
const EXEC_TIMEOUT_MS = 30_000;

export function daemonArgv(a: DaemonArgs): string[] {
  return [
    '--root', a.root, '--id', a.id, '--bundle', a.bundle,
    ...(a.consoleSocket !== undefined ? ['--console-socket', a.consoleSocket] : []),
    ...(a.flags.platform ? ['--platform', a.flags.platform] : []),
    ...(a.flags.network ? ['--network', a.flags.network] : []),
    ...(a.flags.strace ? ['--strace'] : []),
    ...(a.flags.overlay2 ? ['--overlay2', formatOverlay2(a.flags.overlay2)] : []),
  ];
}

function parseDaemonArgs(args: readonly string[]): DaemonArgs {
  const v: Record<string, string> = {};
  let strace = false;
  for (let i = 0; i < args.length; i++) {
    if (args[i] === '--strace') strace = true;
    else v[args[i]!.replace(/^--/, '')] = args[++i] ?? '';
  }
  const platform = v['platform'] === 'ptrace' || v['platform'] === 'seccomp' ? v['platform'] : undefined;
  const network = v['network'] === 'none' || v['network'] === 'host' || v['network'] === 'sandbox' ? v['network'] : undefined;
  // create parsed it already: a value it wrote cannot be wrong.
  const overlay2 = v['overlay2'] !== undefined ? parseOverlay2(v['overlay2']) : undefined;
  return {
    root: v['root']!, id: v['id']!, bundle: v['bundle']!,
    ...(v['console-socket'] !== undefined ? { consoleSocket: v['console-socket'] } : {}),
    flags: {
      strace, ...(platform ? { platform } : {}), ...(network ? { network } : {}),
      ...(overlay2 !== undefined && typeof overlay2 !== 'string' ? { overlay2 } : {}),
    },
  };
}

/** Writes the report line to `create` on fd 3, once. */
function reportOnFd3(): (r: DaemonReport) => void {
  let reported = false;
  return (r) => {
    if (reported) return;
    reported = true;
    try {
      fs.writeSync(REPORT_FD, JSON.stringify(r) + '\n');
      fs.closeSync(REPORT_FD);
    } catch {
      // create is gone: nobody to tell.
    }
  };
}

export async function daemonCommand(args: readonly string[], sentry: SentryThread): Promise<number> {
  return hostContainer(parseDaemonArgs(args), reportOnFd3(), sentry);
}

/**
 * Runs the container's sandbox in this process until it ends, serving its
 * control socket: the daemon's whole life, or `tsvisor run`'s in the
 * foreground (no daemon to boot; it passes the plan it made). report is
 * called once: with the pids when the program waits at its start gate, or
 * with the error.
 */
export async function hostContainer(
  a: DaemonArgs, report: (r: DaemonReport) => void, sentry: SentryThread, planned?: ContainerPlan,
): Promise<number> {
  let plan: ContainerPlan;
  let cgroups: Partial<Record<CgroupController, string>>;
  try {
    plan = planned ?? loadPlan(a.bundle, a.flags).plan;
    cgroups = createOciCgroups(a.id, plan.cpu, { memory: plan.memoryLimit !== undefined, pids: plan.pidsLimit !== undefined });
  } catch (e) {
    sentry.discard();
    report({ error: e instanceof SpecError ? `config.json: ${e.message}` : (e as Error).message });
    return 1;
  }
  const d = new Daemon(a, plan, cgroups, report, sentry);
  const status = await d.run();
  const left = await removeCgroupsWhenEmpty(cgroups);
  for (const dir of left) process.stderr.write(`tsvisor: could not remove the cgroup ${dir} (still busy)\n`);
  return status;
}

function pair(seqpacket: boolean): [number, number] {
  const r = native.socketpair(seqpacket);
  if (typeof r === 'number') throw new Error(`socketpair: errno ${-r}`);
  return [r[0]!, r[1]!];
}

class Daemon {
  private readonly gate: [number, number] = pair(false);
  private readonly exec: [number, number] = pair(true);
  private readonly execReport: [number, number] = pair(false);
  private running: RunningSandbox | null = null;
  private started = false;
  private slave = -1;
  private readonly waiters: ((status: number) => void)[] = [];
  private readonly execWaiters = new Map<number, (status: number) => void>();
  private server: net.Server | null = null;

  constructor(
    private readonly a: DaemonArgs, private readonly plan: ContainerPlan,
    private readonly cgroups: Partial<Record<CgroupController, string>>, private readonly report: (r: DaemonReport) => void,
    private readonly sentry: SentryThread,
  ) {}

  async run(): Promise<number> {
    const sock = controlSocketPath(new StateDir(this.a.root).root, this.a.id);
    fs.mkdirSync(path.dirname(sock), { recursive: true, mode: 0o700 });
    fs.rmSync(sock, { force: true });
    this.server = serve(sock, (req, reply, closed) => this.handle(req, reply, closed));
    this.readExitReports();
    let status = 125;
    try {
      status = (await runSandbox(this.sandboxOptions())).status;
    } catch (e) {
      this.report({ error: e instanceof SandboxError ? e.message : String(e) });
      status = 125;
    } finally {
      this.server.close();
      fs.rmSync(sock, { force: true });
      if (this.slave >= 0) native.close(this.slave);
      for (const fd of [this.gate[0], this.exec[0]]) native.close(fd);
    }
    if (!this.running) return 1;
    this.recordStopped(status);
    for (const w of this.waiters) w(status);
    // Processes started by exec die with the sandbox (SIGKILL), unreported by the helper.
    for (const w of this.execWaiters.values()) w(128 + 9);
    return status;
  }

  private sandboxOptions(): Parameters<typeof runSandbox>[0] {
    const p = this.plan;
    // Fds 4, 5, 6 of the launcher: the start gate, the exec helper's request and report sockets;
    // 7 with linux.seccomp: the profile's BPF program, to be read to its end.
    const launcherFds = [this.gate[1], this.exec[1], this.execReport[1]];
    if (p.seccomp) {
      const [ours, launchers] = pair(false);
      fs.writeSync(ours, p.seccomp.program);
      native.close(ours);
      launcherFds.push(launchers);
    }
    return {
      rootfs: p.rootfs, overlay: p.overlay, mounts: p.mounts, network: p.network, argv: p.argv, env: p.env, cwd: p.cwd,
      strace: this.a.flags.strace, strict: false, withInit: true, terminal: p.terminal, sentry: this.sentry,
      ...(p.memoryLimit !== undefined ? { memoryLimit: p.memoryLimit } : {}),
      ...(p.pidsLimit !== undefined ? { pidsLimit: p.pidsLimit } : {}),
      ...(p.idMappings ? { idMappings: p.idMappings } : {}),
      ...(this.a.flags.platform ? { platform: this.a.flags.platform } : {}),
      oci: {
        launcherArgs: [
          '--start-fd', '4', '--exec-fd', '5', '--exec-report-fd', '6', '--caps', p.caps,
          ...(p.user !== undefined ? ['--user', p.user] : []),
          ...(p.seccomp ? ['--seccomp-fd', '7', '--seccomp-flags', String(p.seccomp.flags)] : []),
          ...p.sysctl.flatMap(([key, value]) => ['--sysctl', `${key}=${value}`]),
        ],
        launcherFds,
        cgroupProcs: procsFiles(this.cgroups),
        ...(v2CgroupOf(this.cgroups) !== undefined ? { v2Cgroup: v2CgroupOf(this.cgroups)! } : {}),
        ...(p.hostname !== undefined ? { hostname: p.hostname } : {}),
        ...(this.a.consoleSocket !== undefined ? { takePty: (pty: SandboxPty) => this.takePty(pty) } : {}),
        onRunning: (info) => this.onRunning(info, launcherFds),
      },
    };
  }

  /** The pty goes to the console socket; we keep a slave open until the end (see SandboxPty.slave). */
  private takePty(pty: SandboxPty): void {
    this.slave = pty.slave;
    try {
      if (this.plan.consoleSize) native.setWindowSize(pty.master, this.plan.consoleSize.rows, this.plan.consoleSize.cols);
      sendToConsoleSocket(this.a.consoleSocket!, pty.master, pty.name);
    } finally {
      native.close(pty.master);
    }
  }

  private onRunning(info: RunningSandbox, launcherFds: readonly number[]): void {
    this.running = info;
    for (const fd of launcherFds) native.close(fd);
    try {
      applyProcessLimits(info.programPid, this.plan);
    } catch (e) {
      this.report({ error: (e as Error).message });
      process.kill(info.programPid, 'SIGKILL');
      return;
    }
    const cgroups: Partial<Record<CgroupController, string>> = { ...this.cgroups };
    if (info.memoryCgroup) cgroups.memory = info.memoryCgroup;
    if (info.pidsCgroup) cgroups.pids = info.pidsCgroup;
    this.report({
      ok: true, pid: process.pid, startTime: startTime(process.pid) ?? 0, initPid: info.initPid,
      programPid: info.programPid, programStartTime: startTime(info.programPid) ?? 0, cgroups,
    });
  }

  private handle(req: ControlRequest, reply: (a: ControlAnswer) => void, closed: Promise<void>): void {
    if (!this.running) return reply({ error: 'the sandbox is not running' });
    if (req.op === 'start') {
      if (this.started) return reply({ error: 'the container was started already' });
      this.started = true;
      fs.writeSync(this.gate[0], 'g');
      return reply({ ok: true });
    }
    if (req.op === 'wait') {
      this.waiters.push((status) => reply({ exit: status }));
      return;
    }
    if (req.op === 'exec') return this.startExec(req.exec, reply, closed);
    reply({ error: 'unknown request' });
  }

  /** Asks the exec helper for a new process; answers its host pid, then its exit status. */
  private startExec(req: ExecRequest, reply: (a: ControlAnswer) => void, closed: Promise<void>): void {
    const fds = req.tty ? [] : callerStdio(req.callerPid);
    if (typeof fds === 'string') return reply({ error: fds });
    const payload = execPayload(req);
    const sent = native.sendMsg(this.exec[0], payload, payload.length, Int32Array.from(fds), fds.length);
    for (const fd of fds) native.close(fd);
    if (sent < 0) return reply({ error: `the exec helper is gone (errno ${-sent})` });
    const buf = new Uint8Array(1024);
    const got = new Int32Array(4);
    const n = native.recvMsg(this.exec[0], buf, got, EXEC_TIMEOUT_MS);
    for (let i = 1; i <= got[0]!; i++) native.close(got[i]!);
    const text = n > 0 ? Buffer.from(buf.subarray(0, n)).toString('utf8') : '';
    if (!text.startsWith('PIDN')) {
      return reply({ error: text.startsWith('FAIL') ? text.slice(4) : `the exec helper did not answer (${n})` });
    }
    const [nsPid, helperPid, masterNumber] = text.slice(4).split(' ').map(Number) as [number, number?, number?];
    const master = masterNumber !== undefined ? this.takeHelperFd(helperPid!, masterNumber) : -1;
    if (req.tty && master < 0) return reply({ error: 'could not take the terminal from the exec helper' });
    try {
      if (master >= 0) this.sendExecPty(req, master);
    } catch (e) {
      return reply({ error: (e as Error).message });
    } finally {
      if (master >= 0) native.close(master);
    }
    this.execWaiters.set(nsPid, (status) => reply({ exit: status }));
    void closed.then(() => this.execWaiters.delete(nsPid));
    reply({ pid: hostPidOf(this.running!.initPid, nsPid) ?? -1 });
  }

  /** The helper's fd (its pty master), by pidfd_getfd; then "DONE" lets it close its own. */
  private takeHelperFd(helperNsPid: number, fd: number): number {
    const host = hostPidOf(this.running!.initPid, helperNsPid);
    const pidfd = host === undefined ? -1 : native.pidfdOpen(host, 0);
    const got = pidfd >= 0 ? native.pidfdGetfd(pidfd, fd) : -1;
    if (pidfd >= 0) native.close(pidfd);
    const done = Buffer.from('DONE');
    native.sendMsg(this.exec[0], done, done.length, new Int32Array(0), 0);
    return got;
  }

  private sendExecPty(req: ExecRequest, master: number): void {
    if (req.consoleSize) native.setWindowSize(master, req.consoleSize.rows, req.consoleSize.cols);
    if (req.consoleSocket === undefined) throw new Error('a terminal needs --console-socket');
    sendToConsoleSocket(req.consoleSocket, master, 'exec');
  }

  /** The helper's lines "X <pid> <status>": each ends an exec's wait. */
  private readExitReports(): void {
    const s = new net.Socket({ fd: this.execReport[0], readable: true, writable: false });
    let buf = '';
    s.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const [tag, pid, status] = buf.slice(0, nl).split(' ');
        buf = buf.slice(nl + 1);
        const w = tag === 'X' ? this.execWaiters.get(Number(pid)) : undefined;
        if (w) {
          this.execWaiters.delete(Number(pid));
          w(Number(status));
        }
      }
    });
    s.on('error', () => { /* the helper died with the sandbox */ });
    s.unref();
  }

  private recordStopped(status: number): void {
    const dir = new StateDir(this.a.root);
    try {
      const rec = dir.read(this.a.id);
      if (!rec) return;
      rec.state.status = 'stopped';
      delete rec.state.pid;
      rec.exitStatus = status;
      dir.write(rec);
    } catch {
      // Deleted meanwhile (delete --force): nothing to record.
    }
  }
}

/** stdin, stdout and stderr of the `tsvisor exec` process, taken with pidfd_getfd; or an error. */
function callerStdio(pid: number): number[] | string {
  const pidfd = native.pidfdOpen(pid, 0);
  if (pidfd < 0) return `pidfd_open(${pid}): errno ${-pidfd}`;
  const fds: number[] = [];
  try {
    for (const n of [0, 1, 2]) {
      const fd = native.pidfdGetfd(pidfd, n);
      if (fd < 0) {
        for (const f of fds) native.close(f);
        return `the caller's fd ${n}: errno ${-fd}`;
      }
      fds.push(fd);
    }
  } finally {
    native.close(pidfd);
  }
  return fds;
}

/** The helper's request: "EXEC" and NUL-terminated fields (native/launcher/exec_helper.c). */
function execPayload(r: ExecRequest): Buffer {
  const fields = [
    `u${r.uid}`, `g${r.gid}`, ...r.groups.map((g) => `G${g}`), `c${r.cwd}`, `k${r.caps}`, ...(r.tty ? ['t'] : []),
    ...r.args.map((x) => `a${x}`), ...r.env.map((e) => `e${e}`),
  ];
  return Buffer.concat([Buffer.from('EXEC'), ...fields.map((f) => Buffer.from(f + '\0'))]);
}

/** rlimits and oom_score_adj, set from the host on the program's process while it waits to start. */
function applyProcessLimits(pid: number, plan: ContainerPlan): void {
  for (const r of plan.rlimits) setRlimit(pid, r);
  if (plan.oomScoreAdj !== undefined) fs.writeFileSync(`/proc/${pid}/oom_score_adj`, String(plan.oomScoreAdj));
}

function setRlimit(pid: number, r: Rlimit): void {
  const buf = new Uint8Array(16);
  const view = new DataView(buf.buffer);
  const u64 = (v: number): bigint => (v >= 2 ** 64 - 1 ? 0xffff_ffff_ffff_ffffn : BigInt(v));
  view.setBigUint64(0, u64(r.soft), true);
  view.setBigUint64(8, u64(r.hard), true);
  const err = native.prlimit(pid, RLIMITS[r.type], buf, null);
  if (err < 0) throw new Error(`process.rlimits: ${r.type} soft ${r.soft} hard ${r.hard}: errno ${-err}`);
}
