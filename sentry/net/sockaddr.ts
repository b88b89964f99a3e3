// Socket addresses as the program passed them: what one names, decided once
// on the sentry's own copy of the bytes (the copy the kernel then gets).
// Parsing never throws: a malformed address is an errno or "let the kernel
// answer", exactly as Linux would treat those bytes.
import { E } from '../abi/linux.js';
import {
  AF_INET, AF_INET6, AF_UNIX, AF_UNSPEC, SOCKADDR_IN6_MIN, SOCKADDR_IN_SIZE, SOCKADDR_MAX, SOCKADDR_UN_SIZE, SUN_PATH_OFFSET,
} from './abi.js';

/** An IP endpoint: 4 bytes (IPv4, v4-mapped IPv6 included) or 16 (IPv6), and a port. */
export interface IpEndpoint {
  readonly v6: boolean;
  readonly addr: Uint8Array;
  readonly port: number;
}

export type SockAddr =
  /** Too short to hold a family: the kernel answers (EINVAL) without reading it. */
  | { readonly kind: 'short' }
  /** AF_UNSPEC: dissolve an association (connect), or "the connected peer" (UDPv6 sendmsg). */
  | { readonly kind: 'unspec' }
  /** The destination the kernel will use, any-address already read as loopback as Linux does. */
  | { readonly kind: 'ip'; readonly ip: IpEndpoint }
  /** A unix path name (bytes as a latin1 string, without its NUL). */
  | { readonly kind: 'unix-path'; readonly path: string }
  /** A unix name in the abstract namespace (the sandbox's own network namespace holds it). */
  | { readonly kind: 'unix-abstract' }
  /** Only sun_family: autobind for bind(2). */
  | { readonly kind: 'unix-unnamed' }
  /** A family the policy does not look into (netlink...): it names nothing outside the sandbox's namespace. */
  | { readonly kind: 'other'; readonly family: number }
  /** Bytes Linux refuses whatever the socket: the errno it gives. */
  | { readonly kind: 'invalid'; readonly errno: number };

const LOOPBACK4 = Uint8Array.of(127, 0, 0, 1);
const LOOPBACK6 = Uint8Array.of(0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);

function allZero(bytes: Uint8Array): boolean {
  for (const b of bytes) if (b !== 0) return false;
  return true;
}

function isV4Mapped(a: Uint8Array): boolean {
  for (let i = 0; i < 10; i++) if (a[i] !== 0) return false;
  return a[10] === 0xff && a[11] === 0xff;
}

/**
 * What `len` bytes of `buf` name. Linux reads an unspecified address
 * (0.0.0.0, ::) as "this host" when connecting or sending, so it comes back
 * as loopback, and a v4-mapped IPv6 address as the IPv4 one it carries.
 */
export function parseSockaddr(buf: Uint8Array, len: number): SockAddr {
  if (len < 0 || len > SOCKADDR_MAX) return { kind: 'invalid', errno: E.EINVAL };
  if (len < 2) return { kind: 'short' };
  const family = buf[0]! | (buf[1]! << 8);
  switch (family) {
    case AF_UNSPEC:
      return { kind: 'unspec' };
    case AF_INET: {
      if (len < SOCKADDR_IN_SIZE) return { kind: 'invalid', errno: E.EINVAL };
      const addr = buf.slice(4, 8);
      return { kind: 'ip', ip: { v6: false, addr: allZero(addr) ? LOOPBACK4.slice() : addr, port: (buf[2]! << 8) | buf[3]! } };
    }
    case AF_INET6: {
      if (len < SOCKADDR_IN6_MIN) return { kind: 'invalid', errno: E.EINVAL };
      const port = (buf[2]! << 8) | buf[3]!;
      const addr = buf.slice(8, 24);
      if (isV4Mapped(addr)) {
        const v4 = addr.slice(12, 16);
        return { kind: 'ip', ip: { v6: false, addr: allZero(v4) ? LOOPBACK4.slice() : v4, port } };
      }
      return { kind: 'ip', ip: { v6: true, addr: allZero(addr) ? LOOPBACK6.slice() : addr, port } };
    }
    case AF_UNIX: {
      if (len > SOCKADDR_UN_SIZE) return { kind: 'invalid', errno: E.EINVAL };
      if (len === SUN_PATH_OFFSET) return { kind: 'unix-unnamed' };
      if (buf[SUN_PATH_OFFSET] === 0) return { kind: 'unix-abstract' };
      let end = SUN_PATH_OFFSET;
      while (end < len && buf[end] !== 0) end++;
      return { kind: 'unix-path', path: Buffer.from(buf.buffer, buf.byteOffset + SUN_PATH_OFFSET, end - SUN_PATH_OFFSET).toString('latin1') };
    }
    default:
      return { kind: 'other', family };
  }
}

/** A sockaddr_un for a path (sun_family, the bytes, a NUL), as bind and connect take it. */
export function unixSockaddr(path: string): Uint8Array {
  const out = new Uint8Array(SUN_PATH_OFFSET + path.length + 1);
  out[0] = AF_UNIX;
  for (let i = 0; i < path.length; i++) out[SUN_PATH_OFFSET + i] = path.charCodeAt(i) & 0xff;
  return out;
}

/** The sun_path of an AF_UNIX address the kernel wrote (len bytes), or null for another family or no path. */
export function unixPathOf(buf: Uint8Array, len: number): string | null {
  if (len <= SUN_PATH_OFFSET || (buf[0]! | (buf[1]! << 8)) !== AF_UNIX || buf[SUN_PATH_OFFSET] === 0) return null;
  let end = SUN_PATH_OFFSET;
  while (end < len && buf[end] !== 0) end++;
  return Buffer.from(buf.buffer, buf.byteOffset + SUN_PATH_OFFSET, end - SUN_PATH_OFFSET).toString('latin1');
}

/** "1.2.3.4:80" or "[::1]:80", for log lines. */
export function formatEndpoint(ip: IpEndpoint): string {
  if (!ip.v6) return `${[...ip.addr].join('.')}:${ip.port}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((ip.addr[i]! << 8) | ip.addr[i + 1]!).toString(16));
  return `[${groups.join(':')}]:${ip.port}`;
}
