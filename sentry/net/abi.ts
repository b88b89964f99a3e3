// The socket ABI the sentry's network subsystem speaks (x86_64 Linux values,
// from include/linux/socket.h, include/uapi/linux/in.h, in6.h, net.h, un.h).
// The few other parts of the sentry use too live in sentry/abi, once.
export { AF_UNIX, SOCK_CLOEXEC, SOCK_SEQPACKET } from '../abi/linux.js';

export const AF_UNSPEC = 0;
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_NETLINK = 16;
export const AF_PACKET = 17;

export const SOCK_STREAM = 1;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_PACKET = 10;
export const SOCK_TYPE_MASK = 0xf;
export const SOCK_NONBLOCK = 0o4000;

export const IPPROTO_IP = 0;
export const IPPROTO_ICMP = 1;
export const IPPROTO_TCP = 6;
export const IPPROTO_UDP = 17;
export const IPPROTO_IPV6 = 41;
export const IPPROTO_ICMPV6 = 58;
export const IPPROTO_UDPLITE = 136;
export const IPPROTO_RAW = 255;

export const NETLINK_ROUTE = 0;
export const NETLINK_SOCK_DIAG = 4;

export const SOL_SOCKET = 1;
export const SO_TYPE = 3;
export const SO_ERROR = 4;
export const SO_DOMAIN = 39;
export const SO_ATTACH_BPF = 50;
export const SO_ATTACH_REUSEPORT_EBPF = 52;
export const SCM_RIGHTS = 1;
export const SCM_CREDENTIALS = 2;
/** IP_OPTIONS / IP_RETOPTS carry source routes, IPV6_RTHDR a routing header: they pick the next hops. */
export const IP_OPTIONS = 4;
export const IP_RETOPTS = 7;
export const IPV6_2292RTHDR = 5;
export const IPV6_RTHDR = 57;
export const SOL_TCP = 6;
export const SOL_UDP = 17;
export const SOL_IPV6 = 41;
export const SOL_ICMPV6 = 58;
export const SOL_RAW = 255;
export const SOL_NETLINK = 270;
export const SOL_UDPLITE = 136;

export const MSG_DONTWAIT = 0x40;
export const MSG_NOSIGNAL = 0x4000;

export const POLLOUT = 0x4;
export const POLLERR = 0x8;
export const POLLHUP = 0x10;

export const CAP_NET_RAW = 13;
export const CAP_SYS_ADMIN = 21;
export const CAP_SETUID = 7;
export const CAP_SETGID = 6;

/** sizeof(struct sockaddr_storage): the most any address takes. */
export const SOCKADDR_MAX = 128;
/** sizeof(struct sockaddr_un): family + 108 bytes of sun_path. */
export const SOCKADDR_UN_SIZE = 110;
export const SUN_PATH_OFFSET = 2;
export const SOCKADDR_IN_SIZE = 16;
/** SIN6_LEN_RFC2133: a sockaddr_in6 without sin6_scope_id, which Linux still takes. */
export const SOCKADDR_IN6_MIN = 24;

/** struct msghdr on x86_64. */
export const MSGHDR_SIZE = 56;
export const MSG_NAME = 0;
export const MSG_NAMELEN = 8;
export const MSG_IOV = 16;
export const MSG_IOVLEN = 24;
export const MSG_CONTROL = 32;
export const MSG_CONTROLLEN = 40;
/** struct mmsghdr: a msghdr and the u32 msg_len the call fills in (padded to 64). */
export const MMSGHDR_SIZE = 64;
export const MMSG_LEN = 56;
/** UIO_MAXIOV: the most iovecs (and mmsghdrs) one call takes. */
export const UIO_MAXIOV = 1024;
export const IOVEC_SIZE = 16;
/** struct cmsghdr: u64 cmsg_len, i32 level, i32 type, then the data, 8-aligned. */
export const CMSG_HDR = 16;
export const CMSG_ALIGN = (n: number): number => (n + 7) & ~7;
