// --console-socket: the client (containerd's shim, conmon, a test) listens on
// a unix socket, and the runtime connects and sends the pty's master there by
// SCM_RIGHTS, with the slave's name as the message (runc's utils.SendFd).
// Node cannot pass fds on its own sockets: socket and connect come from libc
// through koffi, the message goes out with the addon's sendMsg.
import { createRequire } from 'node:module';
import { native } from '../../native/index.js';

interface Libc {
  socket(domain: number, type: number, protocol: number): number;
  connect(fd: number, addr: Buffer, len: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
}

const AF_UNIX = 1;
const SOCK_STREAM = 1;
const SOCK_CLOEXEC = 0o2000000;
const F_GETFL = 3;
const F_SETFL = 4;
const O_NONBLOCK = 0o4000;
/** sizeof(sun_path) */
const SUN_PATH_MAX = 108;

let libc: Libc | undefined;
let errnoOf: (() => number) | undefined;

function load(): Libc {
  if (libc) return libc;
  const koffi = createRequire(import.meta.url)('koffi') as {
    load(lib: string): { func(decl: string): unknown };
    errno(): number;
  };
  const lib = koffi.load('libc.so.6');
  errnoOf = () => koffi.errno();
  libc = {
    socket: lib.func('int socket(int domain, int type, int protocol)') as Libc['socket'],
    connect: lib.func('int connect(int fd, const void *addr, uint32_t len)') as Libc['connect'],
    fcntl: lib.func('int fcntl(int fd, int cmd, int arg)') as Libc['fcntl'],
  };
  return libc;
}

export class ConsoleSocketError extends Error {}

/** Sends fd (not closed here) to the console socket at sockPath, with name as the message. */
export function sendToConsoleSocket(sockPath: string, fd: number, name: string): void {
  const c = load();
  const bytes = Buffer.from(sockPath);
  if (bytes.length >= SUN_PATH_MAX) throw new ConsoleSocketError(`--console-socket ${sockPath}: path too long for a unix socket`);
  const addr = Buffer.alloc(2 + SUN_PATH_MAX);
  addr.writeUInt16LE(AF_UNIX, 0);
  bytes.copy(addr, 2);
  const sock = c.socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (sock < 0) throw new ConsoleSocketError(`socket: errno ${errnoOf?.() ?? 0}`);
  try {
    if (c.connect(sock, addr, 2 + bytes.length + 1) < 0) {
      throw new ConsoleSocketError(`--console-socket ${sockPath}: cannot connect (errno ${errnoOf?.() ?? 0})`);
    }
    // The sandbox's master is non-blocking (tsvisor do reads it from its event
    // loop); a client gets it blocking, as runc's, and sets what it wants.
    const fl = c.fcntl(fd, F_GETFL, 0);
    if (fl >= 0) c.fcntl(fd, F_SETFL, fl & ~O_NONBLOCK);
    const msg = Buffer.from(name);
    const r = native.sendMsg(sock, msg, msg.length, Int32Array.of(fd), 1);
    if (r < 0) throw new ConsoleSocketError(`--console-socket ${sockPath}: cannot send the terminal (errno ${-r})`);
  } finally {
    native.close(sock);
  }
}
