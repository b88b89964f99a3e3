// Taking over a new sandbox from the launcher (native/launcher/jail.c):
// send it the filter, learn its host pid and procfs, and then, by platform:
//   seccomp: fetch its seccomp listener with pidfd_getfd the moment it exists.
//     Fetching, rather than being sent, the listener matters: once the filter
//     is on, any trapped syscall of the launcher waits for a supervisor, so it
//     cannot depend on one to hand it over.
//   ptrace: seize the program's process (this thread becomes its tracer)
//     before letting it exec, so that its first instruction already runs traced.
import fs from 'node:fs';
import { native } from '../native/index.js';
import { E } from '../sentry/abi/linux.js';

export type PlatformName = 'seccomp' | 'ptrace';

const TAG_BYTES = 4;
const sleeper = new Int32Array(new SharedArrayBuffer(4));

export interface LaunchedSandbox {
  /** Host pid of the sandbox's pid 1. */
  readonly hostPid: number;
  /** Host pid of the program's first process (pid 1 itself, or its child under an init). */
  readonly programHostPid: number;
  /** O_PATH fd of the procfs mounted in the sandbox's pid namespace. */
  readonly procRootFd: number;
  /** The seccomp user-notification listener; -1 on ptrace. */
  readonly listenerFd: number;
}

export class HandshakeError extends Error {}

function sendTagged(sock: number, tag: string, payload: Uint8Array): void {
  const msg = new Uint8Array(TAG_BYTES + payload.length);
  msg.set(Buffer.from(tag, 'latin1'), 0);
  msg.set(payload, TAG_BYTES);
  const r = native.sendMsg(sock, msg, msg.length, new Int32Array(0), 0);
  if (r < 0) throw new HandshakeError(`sending ${tag} to the launcher: errno ${-r}`);
}

/** Blocks until the launcher's first process has installed the filter (seccomp) or is traced (ptrace). */
export function takeOverSandbox(
  controlFd: number, filter: Uint8Array, withInit: boolean, platform: PlatformName = 'seccomp', timeoutMs = 30_000,
): LaunchedSandbox {
  sendTagged(controlFd, 'FILT', filter);
  const buf = new Uint8Array(4096);
  const fds = new Int32Array(4);
  let hostPid = -1;
  let procRootFd = -1;
  let listenerNumber = -1;
  let traceMe = false;
  while (hostPid < 0 || procRootFd < 0 || (platform === 'seccomp' ? listenerNumber < 0 : !traceMe)) {
    const n = native.recvMsg(controlFd, buf, fds);
    if (n === 0) throw new HandshakeError('the sandbox failed to start (see the launcher message above)');
    if (n < TAG_BYTES) throw new HandshakeError(`reading from the launcher: errno ${-n}`);
    const tag = Buffer.from(buf.subarray(0, TAG_BYTES)).toString('latin1');
    const text = Buffer.from(buf.subarray(TAG_BYTES, n)).toString('latin1');
    if (tag === 'HPID') hostPid = Number(text);
    else if (tag === 'PROC' && fds[0]! >= 1) procRootFd = fds[1]!;
    else if (tag === 'LSTN' && platform === 'seccomp') listenerNumber = Number(text);
    else if (tag === 'TRAC' && platform === 'ptrace') traceMe = true;
    else throw new HandshakeError(`unexpected message ${tag} from the launcher`);
  }
  // Under an init, the program is pid 1's only child; the host's /proc names it.
  const programHostPid = withInit ? onlyChildOf(hostPid) : hostPid;
  if (platform === 'ptrace') {
    // It waits for GOGO, so it cannot exec before we trace it; its children
    // and threads are traced from birth (PTRACE_O_TRACEFORK and friends).
    const r = native.ptraceSeize(programHostPid);
    if (r < 0) throw new HandshakeError(`PTRACE_SEIZE(${programHostPid}): errno ${-r}`);
    sendTagged(controlFd, 'GOGO', new Uint8Array(0));
    return { hostPid, programHostPid, procRootFd, listenerFd: -1 };
  }
  const pidfd = native.pidfdOpen(programHostPid, 0);
  if (pidfd < 0) throw new HandshakeError(`pidfd_open(${programHostPid}): errno ${-pidfd}`);
  try {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const fd = native.pidfdGetfd(pidfd, listenerNumber);
      if (fd >= 0) {
        if (isSeccompListener(fd)) {
          sendTagged(controlFd, 'GOGO', new Uint8Array(0));
          return { hostPid, programHostPid, procRootFd, listenerFd: fd };
        }
        native.close(fd); // the number is still something else: not installed yet
      } else if (fd === -E.ESRCH) {
        throw new HandshakeError('the sandbox exited before its filter was installed');
      }
      if (Date.now() > deadline) throw new HandshakeError('timed out waiting for the sandbox filter');
      Atomics.wait(sleeper, 0, 0, 1);
    }
  } finally {
    native.close(pidfd);
  }
}

function isSeccompListener(fd: number): boolean {
  try {
    return fs.readlinkSync(`/proc/self/fd/${fd}`) === 'anon_inode:seccomp notify';
  } catch {
    return false;
  }
}

function onlyChildOf(pid: number): number {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/task/${pid}/children`, 'latin1').trim();
  } catch {
    throw new HandshakeError('the sandbox exited before its program started');
  }
  const child = Number(text.split(/\s+/)[0]);
  if (!Number.isInteger(child) || child <= 0) throw new HandshakeError('the sandbox init has no program child');
  return child;
}
