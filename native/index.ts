// Typed face of the native addon (native/addon/*.cc) and the launcher binary.
// Every function returns a number: >= 0 on success, -errno on failure.
import { createRequire } from 'node:module';
import { ADDON_PATH } from './paths.js';

export interface NativeAddon {
  // seccomp user notification (notify.cc)
  notifSetSyncWakeup(listenerFd: number): number;
  notifWait(listenerFd: number, wakeFd: number, timeoutMs: number): number;
  notifRecv(listenerFd: number, out: Uint32Array): number;
  notifSend(listenerFd: number, idLo: number, idHi: number, value: number, error: number, flags: number): number;
  notifAddFd(listenerFd: number, idLo: number, idHi: number, srcFd: number, newFd: number, newFdFlags: number, flags: number): number;
  notifIdValid(listenerFd: number, idLo: number, idHi: number): number;
  eventfd(): number;
  fdReadable(fd: number): number;
  eventfdSignal(fd: number): number;
  // the ptrace platform (ptrace.cc); only from the thread that seized
  ptraceSeize(pid: number): number;
  /** 1: a trap in out (seccomp_notif's layout), 2: an exit (out[2] tid, out[3] status), 0: no tracee left. */
  ptraceWait(out: Uint32Array, timeoutMs: number): number;
  /** mode 0: skip the syscall, returning value; mode 1: let the kernel run it. */
  ptraceReply(tid: number, value: number, mode: number): number;
  ptraceAlive(tid: number): number;
  ptraceGroupStopped(tid: number): number;
  ptraceListHidden(tid: number, fd: number, out: Uint8Array, hiddenInos: Float64Array): number;
  ptraceExecFd(tid: number, fd: number, comm: string): number;
  /** Returns a scratch address below the task's red zone, or -errno. */
  ptraceInjectBegin(tid: number): number;
  ptraceInject(tid: number, nr: number, a0: number, a1: number, a2: number, a3: number, a4: number, a5: number): number;
  ptraceInstallFd(tid: number, hidden: number, sentryEnd: number, ino: number, hostFd: number, cloexec: boolean): number;
  // task memory (memory.cc)
  readMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  writeMem(pid: number, addr: number, buf: Uint8Array, off: number, len: number): number;
  readCString(pid: number, addr: number, buf: Uint8Array, max: number): number;
  // fd passing (fdpass.cc)
  socketpair(seqpacket: boolean): Int32Array | number;
  sendMsg(sock: number, data: Uint8Array, len: number, fds: Int32Array, nfds: number): number;
  recvMsg(sock: number, buf: Uint8Array, fdsOut: Int32Array, timeoutMs?: number): number;
  close(fd: number): number;
  pidfdOpen(pid: number, flags: number): number;
  pidfdGetfd(pidfd: number, targetFd: number): number;
  threadSignal(tid: number, sig: number): number;
  // fd-level helpers (fsops.cc)
  fstatRaw(fd: number, buf: Uint8Array): number;
  statxRaw(fd: number, flags: number, mask: number, buf: Uint8Array): number;
  openat2(dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  /** openat2 from a thread that joined the namespaces of nsFds first (a sandbox's /proc/sys). */
  openat2InNamespaces(nsFds: Int32Array, dirfd: number, path: string, flags: number, mode: number, resolve: number): number;
  memfdCreate(name: string): number;
  pwriteAll(fd: number, buf: Uint8Array, len: number, offset: number): number;
  pread(fd: number, buf: Uint8Array, len: number, offset: number): number;
  prlimit(pid: number, resource: number, newLimit: Uint8Array | null, oldLimit: Uint8Array | null): number;
  readlinkFd(fd: number, buf: Uint8Array): number;
  /** TIOCSWINSZ: the window size of a terminal (tsvisor do's pty master). */
  setWindowSize(fd: number, rows: number, cols: number): number;
  // sockets (net.cc): the sentry's copy of a program's socket, the gofer's bind
  sockBind(fd: number, addr: Uint8Array, len: number): number;
  sockConnect(fd: number, addr: Uint8Array, len: number): number;
  /** connect with the thread's effective ids set to (euid, egid) for the call (SO_PEERCRED). */
  sockConnectAs(fd: number, addr: Uint8Array, len: number, euid: number, egid: number): number;
  /** getsockname (peer false) or getpeername: the address's full length, or -errno. */
  sockName(fd: number, peer: boolean, out: Uint8Array): number;
  sockGetOpt(fd: number, level: number, name: number, out: Uint8Array): number;
  sockSendMsg(fd: number, name: Uint8Array | null, nameLen: number, data: Uint8Array, dataLen: number,
    control: Uint8Array | null, controlLen: number, flags: number): number;
  /** fds: [fd, events, revents] triples; revents filled in. */
  sockPoll(fds: Int32Array, timeoutMs: number): number;
  fdGetFlags(fd: number): number;
  /** flock(2); a wait interrupted by a signal goes on. */
  flock(fd: number, operation: number): number;
  fdSetFlags(fd: number, flags: number): number;
}

const require = createRequire(import.meta.url);
export const native: NativeAddon = require(ADDON_PATH) as NativeAddon;

export { GOFER_PATH, LAUNCHER_PATH, PROJECT_ROOT } from './paths.js';
