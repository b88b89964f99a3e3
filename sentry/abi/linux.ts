// Linux x86_64 ABI constants the sentry needs: open/at flags, file types,
// clone flags, and struct layouts. Errnos come from Node (os.constants.errno),
// which takes them from the host's headers. Syscall numbers are NOT here: they
// live only in syscall-tables/.
import { constants } from 'node:os';

export const E = constants.errno as Readonly<Record<keyof typeof constants.errno, number>>;

// fcntl.h
export const O_ACCMODE = 0o3;
export const O_RDONLY = 0o0;
export const O_WRONLY = 0o1;
export const O_RDWR = 0o2;
export const O_CREAT = 0o100;
export const O_EXCL = 0o200;
export const O_NOCTTY = 0o400;
export const O_TRUNC = 0o1000;
export const O_APPEND = 0o2000;
export const O_NONBLOCK = 0o4000;
export const O_DSYNC = 0o10000;
export const O_ASYNC = 0o20000;
export const O_DIRECT = 0o40000;
export const O_LARGEFILE = 0o100000;
export const O_DIRECTORY = 0o200000;
export const O_NOFOLLOW = 0o400000;
export const O_NOATIME = 0o1000000;
export const O_CLOEXEC = 0o2000000;
export const O_SYNC = 0o4010000;
export const O_PATH = 0o10000000;
export const O_TMPFILE = 0o20000000 | O_DIRECTORY;
/** O_TMPFILE's own bit, without the O_DIRECTORY it always carries. */
export const O_TMPFILE_BIT = O_TMPFILE & ~O_DIRECTORY;
/** The flags that mean something next to O_PATH (fs/open.c's O_PATH_FLAGS). */
export const O_PATH_FLAGS = O_DIRECTORY | O_NOFOLLOW | O_PATH | O_CLOEXEC;
/** Every flag open(2) accepts on x86_64; anything else is ignored by open and EINVAL for openat2. */
export const O_VALID_FLAGS =
  O_ACCMODE | O_CREAT | O_EXCL | O_NOCTTY | O_TRUNC | O_APPEND | O_NONBLOCK | O_DSYNC | O_ASYNC | O_DIRECT |
  O_LARGEFILE | O_DIRECTORY | O_NOFOLLOW | O_NOATIME | O_CLOEXEC | O_SYNC | O_PATH | O_TMPFILE;

export const AT_FDCWD = -100;
export const AT_SYMLINK_NOFOLLOW = 0x100;
export const AT_REMOVEDIR = 0x200;
export const AT_EACCESS = 0x200;
export const AT_SYMLINK_FOLLOW = 0x400;
export const AT_NO_AUTOMOUNT = 0x800;
export const AT_EMPTY_PATH = 0x1000;
export const AT_STATX_SYNC_TYPE = 0x6000;

// openat2 resolve flags
export const RESOLVE_NO_XDEV = 0x01;
export const RESOLVE_NO_MAGICLINKS = 0x02;
export const RESOLVE_NO_SYMLINKS = 0x04;
export const RESOLVE_BENEATH = 0x08;
export const RESOLVE_IN_ROOT = 0x10;
export const RESOLVE_CACHED = 0x20;

// stat.h
export const S_IFMT = 0o170000;
export const S_IFSOCK = 0o140000;
export const S_IFLNK = 0o120000;
export const S_IFREG = 0o100000;
export const S_IFBLK = 0o060000;
export const S_IFDIR = 0o040000;
export const S_IFCHR = 0o020000;
export const S_IFIFO = 0o010000;

export const R_OK = 4;
export const W_OK = 2;
export const X_OK = 1;
export const F_OK = 0;

// sched.h clone flags
export const CLONE_VM = 0x100;
export const CLONE_FS = 0x200;
export const CLONE_FILES = 0x400;
export const CLONE_SIGHAND = 0x800;
export const CLONE_PIDFD = 0x1000;
export const CLONE_PTRACE = 0x2000;
export const CLONE_VFORK = 0x4000;
export const CLONE_PARENT = 0x8000;
export const CLONE_THREAD = 0x10000;
export const CLONE_NEWNS = 0x20000;
export const CLONE_SYSVSEM = 0x40000;
export const CLONE_SETTLS = 0x80000;
export const CLONE_PARENT_SETTID = 0x100000;
export const CLONE_CHILD_CLEARTID = 0x200000;
export const CLONE_DETACHED = 0x400000;
export const CLONE_UNTRACED = 0x800000;
export const CLONE_CHILD_SETTID = 0x1000000;
export const CLONE_NEWCGROUP = 0x2000000;
export const CLONE_NEWUTS = 0x4000000;
export const CLONE_NEWIPC = 0x8000000;
export const CLONE_NEWUSER = 0x10000000;
export const CLONE_NEWPID = 0x20000000;
export const CLONE_NEWNET = 0x40000000;
export const CLONE_IO = 0x80000000;
/** Namespace creation is the host kernel's second wall: a sandboxed program may not make its own. */
export const CLONE_NEW_NAMESPACES =
  CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC | CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET;

// fcntl commands
export const F_DUPFD = 0;
export const F_GETFD = 1;
export const F_SETFD = 2;
export const F_GETFL = 3;
export const F_SETFL = 4;
export const F_DUPFD_CLOEXEC = 1030;

// prctl options
export const PR_SET_PDEATHSIG = 1;
export const PR_GET_PDEATHSIG = 2;
export const PR_SET_SECCOMP = 22;

// signals
export const SIGKILL = 9;
export const SIGPIPE = 13;
export const NSIG = 64;

// seccomp user notification
export const SECCOMP_USER_NOTIF_FLAG_CONTINUE = 1;
export const SECCOMP_ADDFD_FLAG_SETFD = 1;
export const SECCOMP_ADDFD_FLAG_SEND = 2;

// sockets, pidfds, resource limits (the ptrace platform's hidden socket)
export const AF_UNIX = 1;
export const SOCK_SEQPACKET = 5;
export const SOCK_CLOEXEC = O_CLOEXEC;
/** pidfd_open of one thread (Linux 6.9): the value of O_EXCL. */
export const PIDFD_THREAD = O_EXCL;
export const RLIMIT_NOFILE = 7;

// limits
export const PATH_MAX = 4096;
export const NAME_MAX = 255;
export const SYMLOOP_MAX = 40;

/** struct stat on x86_64 (asm/stat.h), 144 bytes. */
export const STAT_SIZE = 144;
/** struct statx, 256 bytes. */
export const STATX_SIZE = 256;
/** statx mask: the inode number (the device comes with every statx). */
export const STATX_INO = 0x100;
/** struct statfs on x86_64, 120 bytes. */
export const STATFS_SIZE = 120;
/** struct new_utsname: six fields of 65 bytes. */
export const UTSNAME_FIELD = 65;

// xattr.h
export const XATTR_CREATE = 1;
export const XATTR_REPLACE = 2;

// Capabilities (linux/capability.h) that govern file operations.
export const CAP_CHOWN = 0;
export const CAP_DAC_OVERRIDE = 1;
export const CAP_DAC_READ_SEARCH = 2;
export const CAP_FOWNER = 3;
export const CAP_FSETID = 4;
export const CAP_MKNOD = 27;

/** The x86_64 page size: extensible structs may not be larger (copy_struct_from_user's callers). */
export const PAGE_SIZE = 4096;
