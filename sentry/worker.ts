// The sentry's thread: everything a sandbox's syscalls touch runs here, in
// one synchronous loop, off Node's main event loop (see DESIGN.md).
//
//   1. take the sandbox over from the launcher (filter, procfs, listener, or
//      on ptrace: this thread seizes the program and becomes its tracer),
//      which the main thread started beside the gofer while this thread
//      booted (sentry/sandbox.ts), and tell the main thread;
//   2. serve traps until the last task of the sandbox is gone.
// First: the bundle's chunks compile with their cached code from here on (native/code-cache.ts).
import '../native/code-cache.js';
import fs from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { native } from '../native/index.js';
import type { PlatformLoop } from '../platform/platform.js';
import { SeccompNotifyLoop } from '../platform/seccomp-notify/loop.js';
import { PTRACE_ALSO_TRAPPED, PtraceLoop } from '../platform/ptrace/loop.js';
import { buildFilter, SECCOMP_RET_TRACE, SECCOMP_RET_USER_NOTIF } from '../platform/seccomp-bpf.js';
import { takeOverSandbox, type PlatformName } from '../platform/handshake.js';
import { GoferClient } from '../gofer/client.js';
import { SYSCALLS } from '../syscall-tables/index.js';
import { Kernel } from './kernel/kernel.js';
import { idMapsOf, type IdMappings } from './kernel/idmap.js';
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
  /** --strict: every syscall is trapped (the filter is built here, where the syscall tables are loaded already). */
  readonly strict: boolean;
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
  /** The user namespace's id mappings (OCI linux.uidMappings / gidMappings); absent: one to one. */
  readonly idMappings?: IdMappings;
}

/** Messages the worker posts to the main thread. */
export type SentryMessage =
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
  // A mapped sandbox's gofer serves from its user namespace (sentry/sandbox.ts).
  if (data.idMappings) gofer.servesFromNamespace(idMapsOf(data.idMappings));
  const filter = buildFilter(SYSCALLS, data.platform === 'ptrace'
    ? { trapAction: SECCOMP_RET_TRACE, strict: data.strict, alsoTrapped: PTRACE_ALSO_TRAPPED }
    : { trapAction: SECCOMP_RET_USER_NOTIF, strict: data.strict });
  const sandbox = takeOverSandbox(data.controlFd, new Uint8Array(filter), data.withInit, data.platform);
  native.close(data.controlFd);
  post({ type: 'running', hostPid: sandbox.hostPid, programHostPid: sandbox.programHostPid });

  const loop: PlatformLoop = data.platform === 'ptrace' ? new PtraceLoop(log) : new SeccompNotifyLoop(sandbox.listenerFd);
  // Every mount of the tree the gofer serves, as the sandbox's first process
  // sees them; /proc is the sentry's own.
  const mounts = goferMountTable(gofer, readSandboxMountInfo(sandbox.procRootFd), '/', [PROC_POINT]);
  const hostView = new HostView(data.goferRoot);
  const kernel = new Kernel(loop.memory, mounts, log, sandbox.hostPid, hostView, data.memoryLimit, idMapsOf(data.idMappings));
  if (data.hostname !== undefined) kernel.uts.nodename = data.hostname;
  // The gofer checks nothing itself: it takes the trapping task's credentials
  // and lets the host kernel decide (native/gofer/identity.c).
  gofer.actAs(() => kernel.fsIdentity());
  kernel.gofer = gofer;
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

// The thread boots before its sandbox is known (sentry/thread.ts): the sandbox comes as the first message.
parentPort?.once('message', (data: SentryWorkerData) => {
  try {
    main(data);
  } catch (err) {
    post({ type: 'fatal', message: err instanceof Error ? err.message : String(err) });
  }
});
