// The sentry's thread: everything a sandbox's syscalls touch runs here, in
// one synchronous loop, off Node's main event loop (see DESIGN.md).
//
//   1. check that the gofer answers (its mount namespace is ready), tell the
//      main thread, which then starts the sandbox's first process;
//   2. take the sandbox over from the launcher (filter, procfs, listener, or
//      on ptrace: this thread seizes the program and becomes its tracer);
//   3. serve traps until the last task of the sandbox is gone.
import fs from 'node:fs';
import { parentPort, workerData } from 'node:worker_threads';
import { native } from '../native/index.js';
import type { PlatformLoop } from '../platform/platform.js';
import { SeccompNotifyLoop } from '../platform/seccomp-notify/loop.js';
import { PtraceLoop } from '../platform/ptrace/loop.js';
import { takeOverSandbox, type PlatformName } from '../platform/handshake.js';
import { GoferClient } from '../gofer/client.js';
import { SYSCALLS } from '../syscall-tables/index.js';
import { Kernel } from './kernel/kernel.js';
import type { MemoryLimit } from './kernel/cgroup.js';
import { goferMountTable, readSandboxMountInfo } from './fs/gofer-mounts.js';
import { ProcFs, type TracedStops } from './fs/proc.js';
import { Dispatcher } from './syscalls/dispatch.js';
import { Tracer } from './trace.js';
import { HostView } from './vfs/lookup.js';
import { makeLogger } from './log.js';
import { NetPolicy } from './net/policy.js';
import { NetStack } from './net/stack.js';
import type { NetSettings } from './net/settings.js';

export interface SentryWorkerData {
  readonly controlFd: number;
  /** Where the sandbox root is mounted in the gofer's namespace. */
  readonly goferRoot: string;
  readonly goferFd: number;
  /** Readable once the sandbox root is mounted (the gofer may still be booting). */
  readonly goferReadyFd: number;
  readonly filter: Uint8Array;
  readonly strace: boolean;
  /** pid 1 is a tsvisor init and the program pid 2 (tsvisor do), or the program is pid 1 (OCI). */
  readonly withInit: boolean;
  /** The sandbox's memory limit and cgroup (tsvisor do --memory), or null. */
  readonly memoryLimit: MemoryLimit | null;
  /** How syscalls are trapped; the filter's trap action must match. */
  readonly platform: PlatformName;
  /** The sandbox's hostname (an OCI spec's), else the host's. */
  readonly hostname?: string;
  /** The network policy (sentry/net/); none given: no rules, no raw sockets. */
  readonly net?: NetSettings;
}

/** Messages the worker posts to the main thread. */
export type SentryMessage =
  | { readonly type: 'gofer-ready' }
  | { readonly type: 'running'; readonly hostPid: number; readonly programHostPid: number }
  | { readonly type: 'done'; readonly counts: Record<string, number> }
  | { readonly type: 'fatal'; readonly message: string };

const PROC_POINT = ['proc'];

function post(m: SentryMessage): void {
  parentPort?.postMessage(m);
}

/** What /proc needs of a platform that traces the program; null for one that does not. */
function tracedStops(loop: PlatformLoop, rootHostPid: number): TracedStops | null {
  if (!loop.groupStopped) return null;
  return { rootHostPid, groupStopped: (tid) => loop.groupStopped!(tid) };
}

function main(data: SentryWorkerData): void {
  const log = makeLogger('sentry');
  const gofer = new GoferClient(data.goferFd);
  // The sandbox may start as soon as its root is mounted; requests to the
  // gofer queue on its socket while its Node boots.
  const ready = native.recvMsg(data.goferReadyFd, new Uint8Array(1), new Int32Array(1));
  native.close(data.goferReadyFd);
  if (ready !== 1) throw new Error('the sandbox root could not be mounted (see the launcher message above)');
  post({ type: 'gofer-ready' });

  const sandbox = takeOverSandbox(data.controlFd, data.filter, data.withInit, data.platform);
  native.close(data.controlFd);
  post({ type: 'running', hostPid: sandbox.hostPid, programHostPid: sandbox.programHostPid });

  const loop: PlatformLoop = data.platform === 'ptrace' ? new PtraceLoop(log) : new SeccompNotifyLoop(sandbox.listenerFd);
  // Every mount of the tree the gofer serves, as the sandbox's first process
  // sees them; /proc is the sentry's own.
  const mounts = goferMountTable(gofer, readSandboxMountInfo(sandbox.procRootFd), '/', [PROC_POINT]);
  const hostView = new HostView(data.goferRoot);
  const kernel = new Kernel(loop.memory, mounts, log, sandbox.hostPid, hostView, data.memoryLimit);
  if (data.hostname !== undefined) kernel.uts.nodename = data.hostname;
  // The gofer checks nothing itself: it takes the trapping task's credentials
  // and lets the host kernel decide (gofer/identity.ts).
  gofer.actAs(() => kernel.fsIdentity());
  mounts.add({ point: PROC_POINT, fs: new ProcFs(sandbox.procRootFd, kernel.tasks, data.withInit ? 1 : null, hostView, kernel.memoryLimit, tracedStops(loop, sandbox.hostPid)), readOnly: false, source: 'proc' });
  const tracer = data.strace ? new Tracer(loop.memory, (line) => fs.writeSync(2, line)) : undefined;
  const dispatcher = new Dispatcher(kernel, tracer ? { tracer } : {});
  const policy = NetPolicy.fromTexts(data.net?.allow ?? [], data.net?.deny ?? []);
  if (typeof policy === 'string') throw new Error(policy);
  const net = new NetStack(gofer, { policy, rawSockets: data.net?.rawSockets ?? false }, log);
  kernel.net = net;
  // Between batches: socket calls parked until they can go on (sentry/net/pending.ts).
  loop.run((trap) => dispatcher.handle(trap), () => net.onIdle(), (tid, value) => dispatcher.result(tid, value));

  const counts: Record<string, number> = {};
  for (const s of SYSCALLS) {
    const c = dispatcher.counts[s.nr];
    if (c) counts[s.name] = c;
  }
  // The gofer's socket is the main thread's to close: it must see the
  // program's exit before it sees the gofer's.
  if (sandbox.listenerFd >= 0) native.close(sandbox.listenerFd);
  native.close(sandbox.procRootFd);
  post({ type: 'done', counts });
}

try {
  main(workerData as SentryWorkerData);
} catch (err) {
  post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
}
