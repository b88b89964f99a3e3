// The sentry's socket subsystem. Sockets themselves are the host kernel's,
// in the sandbox's network namespace; the sentry decides which may be made,
// and carries out every call that names an address on its own copy of the
// program's socket (pidfd_getfd: the same open file description), with the
// address it copied and checked once: the egress policy for IP, the gofer
// for unix paths. Bytes on a connected socket move natively.
import type { Log } from '../log.js';
import { native } from '../../native/index.js';
import type { ParkedTrap, Trap } from '../../platform/platform.js';
import { E, O_NONBLOCK, SIGPIPE } from '../abi/linux.js';
import type { GoferClient } from '../../gofer/client.js';
import type { Kernel } from '../kernel/kernel.js';
import type { Task } from '../kernel/task.js';
import { CONTINUE, REPLIED, type SyscallReturn } from '../syscalls/types.js';
import {
  AF_INET, AF_INET6, AF_NETLINK, AF_PACKET, AF_UNIX, CAP_NET_RAW, IPPROTO_ICMP, IPPROTO_ICMPV6, IPPROTO_IP, IPPROTO_IPV6,
  IPPROTO_TCP, IPPROTO_UDP, IPPROTO_UDPLITE, IPV6_2292RTHDR, IPV6_RTHDR, IP_OPTIONS, MMSGHDR_SIZE, MMSG_LEN, MSG_DONTWAIT,
  MSG_NOSIGNAL, NETLINK_ROUTE, NETLINK_SOCK_DIAG, POLLOUT, SOCKADDR_MAX, SOCK_DGRAM, SOCK_PACKET, SOCK_RAW,
  SOCK_STREAM, SOCK_TYPE_MASK, SOL_ICMPV6, SOL_NETLINK, SOL_RAW, SOL_SOCKET, SOL_UDPLITE, SO_DOMAIN, SO_TYPE, SOCK_NONBLOCK, SOCK_CLOEXEC,
  UIO_MAXIOV,
} from './abi.js';
import { MAX_SEND_BYTES, closeControl, gather, readAddress, readControl, readIovecs, readMsgHeader, type Control, type Segments } from './msg.js';
import { PendingCalls, STILL_WAITING } from './pending.js';
import type { NetPolicy } from './policy.js';
import { formatEndpoint, parseSockaddr, unixPathOf } from './sockaddr.js';
import { UnixNames } from './unix.js';

export interface NetOptions {
  readonly policy: NetPolicy;
  /** Raw IP and packet sockets for tasks holding CAP_NET_RAW (tsvisor do --net-raw). */
  readonly rawSockets: boolean;
}

/** Our copy of a task's socket, with what the kernel says it is. */
interface Borrowed {
  readonly fd: number;
  readonly domain: number;
  readonly type: number;
}

/** A destination made ready for the host: the bytes to pass, and an fd of ours they name (unix paths). */
interface Destination {
  readonly name: Uint8Array | null;
  readonly nameLen: number;
  readonly heldFd: number;
}

const SOL_TLS = 282;
const SOL_ALG = 279;
const SOL_PACKET = 263;
/** Option levels setsockopt/getsockopt reach: the families a sandbox may make. */
const OPTION_LEVELS = new Set([
  SOL_SOCKET, IPPROTO_IP, IPPROTO_IPV6, IPPROTO_TCP, IPPROTO_UDP, SOL_UDPLITE, SOL_ICMPV6, SOL_RAW, SOL_NETLINK, SOL_TLS, SOL_ALG,
  SOL_PACKET,
]);
const EINPROGRESS = E.EINPROGRESS;
/** NPROTO (AF_MAX) and SOCK_MAX of Linux 6.x. */
const NPROTO = 46;
const SOCK_MAX = 11;

function hasCap(capEffective: number, cap: number): boolean {
  return Math.floor(capEffective / 2 ** cap) % 2 === 1;
}

export class NetStack {
  readonly pending = new PendingCalls();
  private readonly unix: UnixNames;
  private readonly word = new Uint8Array(8);
  private readonly stat = new Uint8Array(144);

  constructor(gofer: GoferClient, private readonly opts: NetOptions, private readonly log: Log) {
    this.unix = new UnixNames(gofer);
  }

  /** For the platform loop between batches: services waiting calls, returns the wait timeout. */
  onIdle(): number {
    return this.pending.service();
  }

  /**
   * socket(2) and socketpair(2): which families, types and protocols a
   * sandbox may make. 0 (the kernel makes it) or -errno: EAFNOSUPPORT for a
   * family the sandbox does not offer (as a kernel without it), EPERM for raw
   * and packet sockets unless granted, EPROTONOSUPPORT for other protocols.
   */
  checkSocket(t: Task, family: number, typeArg: number, protocol: number): number {
    // __sys_socket_create() and __sock_create(), in their order.
    if ((typeArg & ~SOCK_TYPE_MASK) & ~(SOCK_NONBLOCK | SOCK_CLOEXEC)) return -E.EINVAL;
    if (family < 0 || family >= NPROTO) return -E.EAFNOSUPPORT;
    const type = typeArg & SOCK_TYPE_MASK;
    if (type >= SOCK_MAX) return -E.EINVAL;
    const raw = (): number => (this.opts.rawSockets && hasCap(t.creds().capEffective, CAP_NET_RAW) ? 0 : -E.EPERM);
    switch (family) {
      case AF_UNIX:
        return 0;
      case AF_INET:
      case AF_INET6:
        if (type === SOCK_RAW) return raw();
        if (type === SOCK_STREAM) return protocol === IPPROTO_IP || protocol === IPPROTO_TCP ? 0 : -E.EPROTONOSUPPORT;
        if (type === SOCK_DGRAM) {
          const icmp = family === AF_INET ? IPPROTO_ICMP : IPPROTO_ICMPV6;
          return [IPPROTO_IP, IPPROTO_UDP, IPPROTO_UDPLITE, icmp].includes(protocol) ? 0 : -E.EPROTONOSUPPORT;
        }
        return 0; // other types: the kernel's own answer (ESOCKTNOSUPPORT, EINVAL)
      case AF_NETLINK:
        return protocol === NETLINK_ROUTE || protocol === NETLINK_SOCK_DIAG ? 0 : -E.EPROTONOSUPPORT;
      case AF_PACKET:
        return type === SOCK_RAW || type === SOCK_DGRAM || type === SOCK_PACKET ? raw() : 0;
      default:
        return -E.EAFNOSUPPORT;
    }
  }

  /** setsockopt/getsockopt: the option levels of the families offered; source routes only without a policy. */
  checkOption(level: number, name: number, setting: boolean): number {
    if (!OPTION_LEVELS.has(level)) return -E.ENOPROTOOPT;
    if (setting && this.hasPolicy() && ((level === IPPROTO_IP && name === IP_OPTIONS) ||
      (level === IPPROTO_IPV6 && (name === IPV6_RTHDR || name === IPV6_2292RTHDR)))) return -E.EPERM;
    return 0;
  }

  connect(k: Kernel, t: Task, trap: Trap, fd: number, addrPtr: number, addrLen: number): SyscallReturn {
    if (addrLen < 0 || addrLen > SOCKADDR_MAX) return -E.EINVAL;
    const bytes = readAddress(k.memory, t.hostTid, addrPtr, addrLen);
    if (typeof bytes === 'number') return bytes;
    const sock = this.borrow(t, fd);
    if (typeof sock === 'number') return sock;
    const dest = this.destination(k, t, sock, bytes, addrLen, 'connect');
    if (typeof dest === 'number') return this.finish(sock, null, dest);
    // A unix listener takes its peer's credentials (SO_PEERCRED) from the
    // thread that connects: the task's ids, not the sentry's root. (Its pid
    // is the sentry's, which the sandbox's pid namespace shows as 0.)
    const creds = sock.domain === AF_UNIX ? t.creds() : null;
    const connect = (): number => creds
      ? native.sockConnectAs(sock.fd, dest.name ?? bytes, dest.nameLen, creds.host.euid, creds.host.egid)
      : native.sockConnect(sock.fd, dest.name ?? bytes, dest.nameLen);
    const attempt = (): number | typeof STILL_WAITING => {
      const flags = native.fdGetFlags(sock.fd);
      if (flags < 0) return flags;
      if (flags & O_NONBLOCK) return connect();
      // A blocking connect must not block the sentry: start it non-blocking
      // on the shared description and put the program's flags back at once.
      // Called again once the handshake is over, connect() answers as the
      // blocking one would have (0, or the error that ended it) and marks
      // the socket connected (a later connect is EISCONN).
      native.fdSetFlags(sock.fd, flags | O_NONBLOCK);
      const r = connect();
      native.fdSetFlags(sock.fd, flags);
      if (r === -EINPROGRESS || r === -E.EALREADY) return STILL_WAITING;
      if (r === -E.EAGAIN && sock.domain === AF_UNIX) return STILL_WAITING; // the listener's backlog is full: try again
      return r;
    };
    // On loopback the handshake is usually over by the time we ask again.
    let r = attempt();
    if (r === STILL_WAITING && sock.domain !== AF_UNIX && this.writable(sock.fd)) r = attempt();
    if (r !== STILL_WAITING) return this.finish(sock, dest, r);
    this.pending.add({
      parked: trap.park(), fd: sock.fd, events: POLLOUT, step: attempt,
      done: () => { if (dest.heldFd >= 0) native.close(dest.heldFd); },
    });
    return REPLIED;
  }

  bind(k: Kernel, t: Task, fd: number, addrPtr: number, addrLen: number): SyscallReturn {
    if (addrLen < 0 || addrLen > SOCKADDR_MAX) return -E.EINVAL;
    const bytes = readAddress(k.memory, t.hostTid, addrPtr, addrLen);
    if (typeof bytes === 'number') return bytes;
    const sock = this.borrow(t, fd);
    if (typeof sock === 'number') return sock;
    const a = parseSockaddr(bytes, addrLen);
    let r: number;
    if (a.kind === 'invalid') r = -a.errno;
    else if (a.kind === 'unix-path' && sock.domain === AF_UNIX) r = this.unix.bind(k, t, sock.fd, this.inode(sock.fd), a.path);
    else r = native.sockBind(sock.fd, bytes, addrLen); // an IP port, the abstract namespace, autobind: no name outside the namespace
    return this.finish(sock, null, r);
  }

  /** getsockname (peer false) and getpeername, as move_addr_to_user() writes the answer. */
  name(k: Kernel, t: Task, trap: Trap, fd: number, addrPtr: number, lenPtr: number, peer: boolean): SyscallReturn {
    const sock = this.borrow(t, fd);
    if (typeof sock === 'number') return sock;
    let addr: Uint8Array = new Uint8Array(SOCKADDR_MAX);
    let klen = native.sockName(sock.fd, peer, addr);
    if (klen >= 0) {
      const hostPath = unixPathOf(addr, Math.min(klen, SOCKADDR_MAX));
      const mine = hostPath === null ? null : this.unix.programAddress(hostPath, peer ? null : this.inode(sock.fd));
      if (mine !== null) {
        addr = mine;
        klen = mine.length;
      }
    }
    native.close(sock.fd);
    if (klen < 0) return klen;
    if (lenPtr <= 0 || k.memory.read(t.hostTid, lenPtr, this.word, 0, 4) !== 4) return -E.EFAULT;
    let len = new DataView(this.word.buffer).getInt32(0, true);
    if (len > klen) len = klen;
    if (len < 0) return -E.EINVAL;
    if (len > 0 && (addrPtr <= 0 || !trap.stillWaiting() || k.memory.write(t.hostTid, addrPtr, addr, 0, len) !== len)) return -E.EFAULT;
    new DataView(this.word.buffer).setInt32(0, klen, true);
    if (!trap.stillWaiting() || k.memory.write(t.hostTid, lenPtr, this.word, 0, 4) !== 4) return -E.EFAULT;
    return 0;
  }

  sendTo(k: Kernel, t: Task, trap: Trap, fd: number, buf: number, len: number, flags: number, addrPtr: number, addrLen: number): SyscallReturn {
    const sock = this.borrow(t, fd);
    if (typeof sock === 'number') return sock;
    if (addrLen < 0 || addrLen > SOCKADDR_MAX) return this.finish(sock, null, -E.EINVAL);
    const bytes = readAddress(k.memory, t.hostTid, addrPtr, addrLen);
    if (typeof bytes === 'number') return this.finish(sock, null, bytes);
    const dest = this.destination(k, t, sock, bytes, addrLen, 'send');
    if (typeof dest === 'number') return this.finish(sock, null, dest);
    const control = readControl(k.memory, t, 0, 0, sock.domain === AF_UNIX, false);
    if (typeof control === 'number') return this.finish(sock, dest, control);
    const seg: Segments = { addrs: [buf], lens: [len], total: len };
    return this.send(k, t, trap, sock, dest, seg, control, flags, null);
  }

  sendMsg(k: Kernel, t: Task, trap: Trap, fd: number, msgPtr: number, flags: number): SyscallReturn {
    const sock = this.borrow(t, fd);
    if (typeof sock === 'number') return sock;
    const prepared = this.prepareMsg(k, t, sock, msgPtr);
    if (typeof prepared === 'number') return this.finish(sock, null, prepared);
    return this.send(k, t, trap, sock, prepared.dest, prepared.seg, prepared.control, flags, null);
  }

  /** sendmmsg: each message as sendmsg, its msg_len written back; stops at the first failure after one went. */
  sendMmsg(k: Kernel, t: Task, trap: Trap, fd: number, vec: number, vlenArg: number, flags: number): SyscallReturn {
    const vlen = Math.min(vlenArg, UIO_MAXIOV);
    const sock = this.borrow(t, fd);
    if (typeof sock === 'number') return sock;
    let sentCount = 0;
    for (let i = 0; i < vlen; i++) {
      const at = vec + i * MMSGHDR_SIZE;
      const prepared = this.prepareMsg(k, t, sock, at);
      if (typeof prepared === 'number') return this.finish(sock, null, sentCount > 0 ? sentCount : prepared);
      // The first message may wait as sendmsg would; a later one that would wait ends the batch.
      const mayWait = i === 0;
      const r = this.send(k, t, trap, sock, prepared.dest, prepared.seg, prepared.control,
        mayWait ? flags : flags | MSG_DONTWAIT, at + MMSG_LEN, true);
      if (r === REPLIED) return REPLIED; // parked on the first message: it answers 1
      if (typeof r !== 'number') return this.finish(sock, null, -E.EIO);
      if (r < 0) return this.finish(sock, null, sentCount > 0 ? sentCount : r);
      sentCount++;
      if (i === 0 && vlen === 1) break;
    }
    return this.finish(sock, null, sentCount);
  }

  // -------------------------------------------------------------------------

  private hasPolicy(): boolean {
    return this.opts.policy.allow.length > 0 || this.opts.policy.deny.length > 0;
  }

  /** pidfd_getfd of the task's fd, checked to be a socket: EBADF, ENOTSOCK as Linux answers. */
  private borrow(t: Task, fd: number): Borrowed | number {
    if (fd < 0) return -E.EBADF;
    const pidfd = t.group.pidfd();
    if (pidfd < 0) return -E.ESRCH;
    const mine = native.pidfdGetfd(pidfd, fd);
    if (mine < 0) return mine === -E.EBADF ? -E.EBADF : mine;
    const domain = this.intOption(mine, SO_DOMAIN);
    const type = domain < 0 ? domain : this.intOption(mine, SO_TYPE);
    if (domain < 0 || type < 0) {
      native.close(mine);
      return domain === -E.ENOTSOCK || type === -E.ENOTSOCK ? -E.ENOTSOCK : Math.min(domain, type);
    }
    return { fd: mine, domain, type };
  }

  private intOption(fd: number, name: number): number {
    const r = native.sockGetOpt(fd, SOL_SOCKET, name, this.word.subarray(0, 4));
    return r < 0 ? r : new DataView(this.word.buffer).getInt32(0, true);
  }

  /** Whether a connect in progress is over (POLLOUT, or an error). */
  private writable(fd: number): boolean {
    const set = Int32Array.of(fd, POLLOUT, 0);
    native.sockPoll(set, 0);
    return set[2] !== 0;
  }

  private inode(fd: number): string {
    if (native.fstatRaw(fd, this.stat) < 0) return '';
    const dv = new DataView(this.stat.buffer);
    return `${dv.getBigUint64(0, true)}:${dv.getBigUint64(8, true)}`;
  }

  /** The address the host gets for `bytes`: the policy's verdict for IP, the gofer's target for a unix path. */
  private destination(k: Kernel, t: Task, sock: Borrowed, bytes: Uint8Array, len: number, why: 'connect' | 'send'): Destination | number {
    if (len === 0) return { name: null, nameLen: 0, heldFd: -1 };
    const a = parseSockaddr(bytes, len);
    switch (a.kind) {
      case 'invalid':
        return -a.errno;
      case 'ip': {
        const refused = this.opts.policy.refuses(a.ip);
        if (refused !== null) {
          this.log.warn({ pid: t.group.nsTgid, exe: t.group.exe, call: why, to: formatEndpoint(a.ip), rule: refused }, 'network egress refused');
          return why === 'connect' ? -E.ECONNREFUSED : -E.EPERM;
        }
        return { name: bytes, nameLen: len, heldFd: -1 };
      }
      case 'unix-path': {
        if (sock.domain !== AF_UNIX) return { name: bytes, nameLen: len, heldFd: -1 };
        const target = this.unix.target(k, t, a.path);
        if (typeof target === 'number') return target;
        return { name: target.addr, nameLen: target.addr.length, heldFd: target.fd };
      }
      default:
        return { name: bytes, nameLen: len, heldFd: -1 };
    }
  }

  private prepareMsg(k: Kernel, t: Task, sock: Borrowed, msgPtr: number): { dest: Destination; seg: Segments; control: Control } | number {
    const h = readMsgHeader(k.memory, t.hostTid, msgPtr);
    if (typeof h === 'number') return h;
    const bytes = readAddress(k.memory, t.hostTid, h.namePtr, h.nameLen);
    if (typeof bytes === 'number') return bytes;
    const seg = readIovecs(k.memory, t.hostTid, h.iovPtr, h.iovLen);
    if (typeof seg === 'number') return seg;
    const dest = this.destination(k, t, sock, bytes, h.nameLen, 'send');
    if (typeof dest === 'number') return dest;
    const control = readControl(k.memory, t, h.controlPtr, h.controlLen, sock.domain === AF_UNIX, this.hasPolicy());
    if (typeof control === 'number') {
      if (dest.heldFd >= 0) native.close(dest.heldFd);
      return control;
    }
    return { dest, seg, control };
  }

  /**
   * The send itself, on our copy, never blocking the sentry: MSG_DONTWAIT
   * always, and a send the program made blocking waits parked for room. A
   * stream send goes on until all is sent, as Linux's blocking send does.
   * `lenOut`: where sendmmsg wants the byte count (its answer is then 1).
   */
  private send(
    k: Kernel, t: Task, trap: Trap, sock: Borrowed, dest: Destination, seg: Segments, control: Control, flags: number,
    lenOut: number | null, keepSock = false,
  ): SyscallReturn {
    const release = (): void => {
      closeControl(control);
      if (dest.heldFd >= 0) native.close(dest.heldFd);
    };
    const stream = sock.type === SOCK_STREAM;
    if (!stream && seg.total > MAX_SEND_BYTES) {
      release();
      return keepSock ? -E.EMSGSIZE : this.finish(sock, null, -E.EMSGSIZE);
    }
    const data = gather(k.memory, t.hostTid, seg, 0, MAX_SEND_BYTES);
    if (typeof data === 'number') {
      release();
      return keepSock ? data : this.finish(sock, null, data);
    }
    const fl = native.fdGetFlags(sock.fd);
    const mayWait = fl >= 0 && (fl & O_NONBLOCK) === 0 && (flags & MSG_DONTWAIT) === 0;
    let sent = 0;
    let first = true;
    let waiter: Trap | ParkedTrap = trap;
    const attempt = (): number | typeof STILL_WAITING => {
      const chunk = data.subarray(sent);
      const r = native.sockSendMsg(sock.fd, first ? dest.name : null, first ? dest.nameLen : 0, chunk, chunk.length,
        first ? control.bytes : null, first && control.bytes ? control.bytes.length : 0, flags | MSG_DONTWAIT | MSG_NOSIGNAL);
      if (r >= 0) {
        first = false;
        sent += r;
        if (stream && mayWait && sent < data.length) return STILL_WAITING;
        return sent;
      }
      if (r === -E.EAGAIN && mayWait) return STILL_WAITING;
      // Linux raises SIGPIPE in the sending thread, as the send returns.
      if (r === -E.EPIPE && (flags & MSG_NOSIGNAL) === 0) waiter.signalThread(SIGPIPE);
      return sent > 0 ? sent : r;
    };
    const written = (r: number): number => {
      if (r >= 0 && lenOut !== null) {
        new DataView(this.word.buffer).setUint32(0, r, true);
        k.memory.write(t.hostTid, lenOut, this.word, 0, 4);
        return 1;
      }
      return r;
    };
    const r = attempt();
    if (r !== STILL_WAITING) {
      release();
      if (r >= 0 && lenOut !== null && !trap.stillWaiting()) return keepSock ? -E.ESRCH : this.finish(sock, null, -E.ESRCH);
      const answer = written(r);
      return keepSock ? answer : this.finish(sock, null, answer);
    }
    const parked = trap.park();
    waiter = parked;
    this.pending.add({
      parked, fd: sock.fd, events: POLLOUT, done: release,
      step: () => {
        const s = attempt();
        if (s === STILL_WAITING) return s;
        return parked.stillWaiting() ? written(s) : s;
      },
    });
    return REPLIED;
  }

  /** Closes our copies and passes the answer on. */
  private finish(sock: Borrowed, dest: Destination | null, r: number | typeof CONTINUE): SyscallReturn {
    native.close(sock.fd);
    if (dest !== null && dest.heldFd >= 0) native.close(dest.heldFd);
    return r;
  }
}

