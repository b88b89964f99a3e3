// procfs: a filtered view of the sandbox's own procfs instance.
//
// The launcher mounts a procfs inside the sandbox's pid namespace and hands us
// an O_PATH fd to its root, so pids, PPid fields and listings are already the
// namespace's. What the sentry adds is policy and the parts that depend on who
// asks: "self" and "thread-self", and the magic links (fd/N, exe, cwd, root),
// which the VFS resolves through the sandbox's tree rather than letting the
// host kernel jump through them. The sentry opens these files with its own
// host privileges, so everything that would give more than the program could
// get itself is refused: writes (except comm), kernel addresses, other
// processes' memory.
import fs from 'node:fs';
import { native } from '../../native/index.js';
import {
  AT_FDCWD, E, O_ACCMODE, O_RDONLY, O_CREAT, O_TRUNC, O_PATH, O_NOFOLLOW, O_DIRECTORY, O_NONBLOCK, O_CLOEXEC,
  RESOLVE_BENEATH, RESOLVE_NO_MAGICLINKS, RESOLVE_NO_SYMLINKS, STATX_SIZE, STATFS_SIZE,
  S_IFLNK,
} from '../abi/linux.js';
import type { Task, TaskTable } from '../kernel/task.js';
import { readMemoryUsage, type MemoryLimit, type MemoryUsage } from '../kernel/cgroup.js';
import { FileKind, type Filesystem, type MagicLink, type WalkResult } from '../vfs/filesystem.js';
import { statxMode, fileKindOfMode } from '../vfs/stat.js';
import type { HostView } from '../vfs/lookup.js';
import type { IdMaps } from '../kernel/idmap.js';

/** Top-level entries besides the numeric pid directories. */
const GLOBAL_ENTRIES = new Set([
  'cpuinfo', 'meminfo', 'uptime', 'loadavg', 'stat', 'version', 'filesystems', 'swaps', 'cgroups',
  'devices', 'cmdline', 'crypto', 'vmstat', 'misc', 'sys', 'mounts', 'net', 'self', 'thread-self',
]);
/** Under sys/, only what programs commonly read. */
const SYS_SUBTREES = new Set(['kernel', 'fs', 'vm', 'net']);
/** Per-process entries that would hand out more than the program's own rights. */
const DENIED_PER_PROCESS = new Set(['mem', 'pagemap', 'stack', 'syscall', 'map_files', 'kpagecount', 'wchan', 'timers']);
/** The only files a program may open for writing. */
const WRITABLE_PER_PROCESS = new Set(['comm']);
const MAGIC_NAMES = new Set(['exe', 'cwd', 'root']);
/**
 * What Linux guards with a ptrace access check: another process's memory map,
 * environment, fds and roots. tsvisor's own init (pid 1 under `do`) is not
 * the program's to inspect, so these are refused for it.
 */
const PTRACE_GUARDED = new Set([
  'environ', 'auxv', 'maps', 'smaps', 'smaps_rollup', 'numa_maps', 'fd', 'fdinfo', 'cwd', 'root', 'exe',
  'personality', 'io', 'timerslack_ns', 'mountinfo', 'mounts', 'mountstats', 'ns', 'task',
]);
/**
 * /proc/sys subtrees whose values belong to a namespace (network, ipc, uts):
 * the kernel shows the looker's, so the sentry opens them from inside the
 * sandbox's namespaces (the OCI spec's linux.sysctl are set there).
 */
const PER_NAMESPACE_SYSCTLS = new Set(['net', 'kernel', 'fs/mqueue']);
/** The namespaces of the sandbox's pid 1 that those files are read in. */
const SYSCTL_NAMESPACES = ['net', 'ipc', 'uts'];
const PROC_OPEN_RESOLVE = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS | RESOLVE_NO_SYMLINKS;
const STATX_BASIC_STATS = 0x7ff;

/**
 * How a platform that traces the program (ptrace) tells its stops apart. The
 * host shows every traced task that is stopped as "t (tracing stop)": both
 * one the program stopped (a group-stop, "T" natively) and one whose
 * syscall waits for the sentry's answer (in a syscall, "R" natively).
 */
export interface TracedStops {
  /** The host pid of the sandbox's pid 1, for resolving namespace pids. */
  readonly rootHostPid: number;
  groupStopped(hostTid: number): boolean;
}

function isPid(name: string): boolean {
  return /^[1-9][0-9]{0,9}$/.test(name);
}

export class ProcFs implements Filesystem {
  readonly opensWholePaths = false;
  readonly type = 'proc';
  readonly ops = null;
  readonly xattr = null;

  /**
   * @param initNsPid the namespace pid of tsvisor's own init, when there is
   *   one: shown in listings and status, guarded like another user's process.
   * @param memoryLimit the sandbox's memory limit: /proc/meminfo shows it
   *   instead of the host's memory.
   */
  constructor(
    private readonly rootFd: number,
    private readonly tasks: TaskTable,
    private readonly initNsPid: number | null,
    private readonly hostView: HostView,
    private readonly memoryLimit: MemoryLimit | null = null,
    private readonly stops: TracedStops | null = null,
  ) {}

  /** Maps self / thread-self to the asking task; checks the allowlist. */
  private policy(task: Task, path: readonly string[]): { errno: number; symlink?: string } {
    const top = path[0];
    if (top === undefined) return { errno: 0 };
    if (top === 'self' && path.length === 1) return { errno: 0, symlink: String(task.group.nsTgid) };
    if (top === 'thread-self' && path.length === 1) {
      return { errno: 0, symlink: `${task.group.nsTgid}/task/${task.nsTid}` };
    }
    if (top === 'mounts' && path.length === 1) return { errno: 0, symlink: 'self/mounts' };
    if (top === 'net' && path.length === 1) return { errno: 0, symlink: 'self/net' };
    if (isPid(top)) {
      const entry = path[1] === 'task' && path.length > 3 ? path[3] : path[1];
      if (entry !== undefined && DENIED_PER_PROCESS.has(entry)) return { errno: E.EACCES };
      if (entry !== undefined && Number(top) === this.initNsPid && PTRACE_GUARDED.has(entry)) return { errno: E.EACCES };
      return { errno: 0 };
    }
    if (!GLOBAL_ENTRIES.has(top)) return { errno: E.ENOENT };
    if (top === 'sys' && path.length > 1 && !SYS_SUBTREES.has(path[1]!)) return { errno: E.ENOENT };
    return { errno: 0 };
  }

  private statxAt(rel: string): Uint8Array | number {
    const fd = native.openat2(this.rootFd, rel === '' ? '.' : rel, O_PATH | O_NOFOLLOW, 0, PROC_OPEN_RESOLVE);
    if (fd < 0) return fd;
    const buf = new Uint8Array(STATX_SIZE);
    const r = native.statxRaw(fd, 0, STATX_BASIC_STATS, buf);
    native.close(fd);
    return r < 0 ? r : buf;
  }

  walk(task: Task, path: readonly string[]): WalkResult {
    for (let i = 0; i <= path.length; i++) {
      const prefix = path.slice(0, i);
      const p = this.policy(task, prefix);
      if (p.errno !== 0) return { found: i - 1, errno: p.errno, kind: FileKind.Missing };
      if (p.symlink !== undefined) {
        return { found: i, errno: 0, kind: FileKind.Symlink, symlinkTarget: p.symlink };
      }
      const st = this.statxAt(prefix.join('/'));
      if (typeof st === 'number') {
        return { found: i - 1, errno: st === -E.ENOENT || st === -E.ESRCH ? E.ENOENT : -st, kind: FileKind.Missing };
      }
      const kind = fileKindOfMode(statxMode(st));
      if (kind === FileKind.Symlink) {
        const link = this.readMagicLink(task, prefix);
        if (!link) return { found: i - 1, errno: E.ENOENT, kind: FileKind.Missing };
        return { found: i, errno: 0, kind, symlinkTarget: link.target, statx: st, ...(link.magic ? { magic: link.magic } : {}) };
      }
      if (i < path.length && kind !== FileKind.Directory) return { found: i, errno: E.ENOTDIR, kind };
      if (i === path.length) return { found: i, errno: 0, kind, statx: st };
    }
    return { found: path.length, errno: 0, kind: FileKind.Directory };
  }

  /** Reads a symlink of the real procfs. Targets of magic links are paths as the
   * sandbox sees them (the host kernel prints them relative to the sandbox root). */
  private readMagicLink(asker: Task, path: readonly string[]): { target: string; magic?: MagicLink } | null {
    let target: string;
    try {
      const raw = fs.readlinkSync(`/proc/self/fd/${this.rootFd}/${path.join('/')}`, { encoding: 'buffer' });
      target = this.hostView.toSandbox(raw.toString('latin1'));
    } catch {
      return null;
    }
    const owner = path[0] !== undefined && isPid(path[0]) ? this.ownerTask(asker, Number(path[0])) : null;
    if (!owner) return { target };
    const name = path[path.length - 1]!;
    if (path.length >= 3 && path[path.length - 2] === 'fd') return { target, magic: { task: owner, fd: Number(name) } };
    if (MAGIC_NAMES.has(name)) return { target, magic: { task: owner, fd: -1 } };
    return { target };
  }

  private ownerTask(asker: Task, nsPid: number): Task | null {
    if (asker.group.nsTgid === nsPid) return asker;
    const group = this.tasks.groupByNsPid(nsPid);
    return group ? this.tasks.get(group.hostTgid) : null;
  }

  open(task: Task, path: readonly string[], flags: number, _mode: number): number {
    const p = this.policy(task, path);
    if (p.errno !== 0) return -p.errno;
    if (flags & O_CREAT) return -E.EACCES;
    const writing = (flags & O_ACCMODE) !== O_RDONLY || (flags & O_TRUNC) !== 0;
    if (writing && !(path.length >= 2 && isPid(path[0]!) && WRITABLE_PER_PROCESS.has(path[path.length - 1]!))) {
      return -E.EACCES;
    }
    if (this.memoryLimit && path.length === 1 && path[0] === 'meminfo') {
      if (flags & O_DIRECTORY) return -E.ENOTDIR;
      const host = this.readHostFile('meminfo');
      if (typeof host === 'number') return host;
      const text = sandboxMeminfo(host, this.memoryLimit.limitBytes, readMemoryUsage(this.memoryLimit.cgroupDir));
      return openSynthetic('meminfo', text, flags);
    }
    const traced = this.stops ? this.openTracedState(path, flags) : null;
    if (traced !== null) return traced;
    const withIds = this.openWithNamespaceIds(path, flags);
    if (withIds !== null) return withIds;
    const allowed = O_ACCMODE | O_PATH | O_DIRECTORY | O_NONBLOCK | O_CLOEXEC | O_TRUNC;
    if (path[0] === 'sys' && path.length > 2 && (PER_NAMESPACE_SYSCTLS.has(path[1]!) || PER_NAMESPACE_SYSCTLS.has(`${path[1]}/${path[2]}`))) {
      const ns = this.sandboxNamespaces();
      if (ns) return native.openat2InNamespaces(ns, this.rootFd, path.join('/'), (flags & allowed) | O_NOFOLLOW, 0, PROC_OPEN_RESOLVE);
    }
    return native.openat2(this.rootFd, path.length ? path.join('/') : '.', (flags & allowed) | O_NOFOLLOW, 0, PROC_OPEN_RESOLVE);
  }

  private namespaceFds: Int32Array | null | undefined;

  /** fds of the sandbox's pid 1's network, ipc and uts namespaces, opened once; null: not to be had. */
  private sandboxNamespaces(): Int32Array | null {
    if (this.namespaceFds !== undefined) return this.namespaceFds;
    const fds: number[] = [];
    try {
      // Node opens with O_CLOEXEC.
      for (const n of SYSCTL_NAMESPACES) fds.push(fs.openSync(`/proc/self/fd/${this.rootFd}/1/ns/${n}`, 'r'));
      this.namespaceFds = Int32Array.from(fds);
    } catch {
      for (const fd of fds) fs.closeSync(fd);
      this.namespaceFds = null;
    }
    return this.namespaceFds;
  }

  /**
   * A file that shows ids, as the program's own kernel shows it: the sentry
   * opens the host's procfs from the host's user namespace, which shows host
   * ids. A task's status file (its Uid, Gid and Groups lines), and the
   * socket tables of PID/net (tcp, udp, raw, ping, packet sockets, v4 and
   * v6: their uid column, which Linux prints as the opener's namespace sees
   * it). null: no translation to make (no id mappings, or not such a file).
   */
  private openWithNamespaceIds(path: readonly string[], flags: number): number | null {
    const ids = this.tasks.ids;
    const name = path[path.length - 1]!;
    let rewrite: ((text: string, ids: IdMaps) => string) | null = null;
    if (isTaskFile(path, 'status') && !(ids.uid.isIdentity && ids.gid.isIdentity)) rewrite = statusInNamespace;
    else if (path.length === 3 && isPid(path[0]!) && path[1] === 'net' && SOCKET_TABLES_WITH_UIDS.has(name) && !ids.uid.isIdentity) rewrite = socketTableInNamespace;
    if (rewrite === null) return null;
    if (flags & O_DIRECTORY) return -E.ENOTDIR;
    const text = this.readHostFile(path.join('/'));
    if (typeof text === 'number') return text;
    return openSynthetic(name, rewrite(text, ids), flags);
  }

  /**
   * A stat or status file whose task the host shows in a tracing stop: the
   * state as the program's own kernel would show it, in a snapshot. null:
   * the host's live file is right (not such a file, or not in that state).
   */
  private openTracedState(path: readonly string[], flags: number): number | null {
    const name = path[path.length - 1];
    const isTaskFile = path.length === 2 || (path.length === 4 && path[1] === 'task' && isPid(path[2]!));
    if ((name !== 'stat' && name !== 'status') || !isTaskFile || !isPid(path[0]!) || (flags & O_DIRECTORY)) return null;
    const hostText = this.readHostFile(path.join('/'));
    if (typeof hostText === 'number') return null;
    const text = name === 'status' ? statusInNamespace(hostText, this.tasks.ids) : hostText;
    const mark = name === 'stat' ? text.lastIndexOf(') ') : text.indexOf('\nState:\t');
    const at = mark + (name === 'stat' ? 2 : 8);
    if (mark < 0 || text[at] !== 't') return null;
    const where = this.tasks.resolveNsTid(Number(path[path.length === 4 ? 2 : 0]), this.stops!.rootHostPid);
    if (!where) return null;
    const shown = this.stops!.groupStopped(where.hostTid) ? 'T' : 'R';
    const rest = name === 'stat' ? text.slice(at + 1) : text.slice(text.indexOf('\n', at));
    const label = name === 'stat' ? '' : shown === 'T' ? ' (stopped)' : ' (running)';
    return openSynthetic(name, text.slice(0, at) + shown + label + rest, flags);
  }

  /** The text of a file of the real procfs instance, or -errno. */
  private readHostFile(rel: string): string | number {
    const fd = native.openat2(this.rootFd, rel, O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0, PROC_OPEN_RESOLVE);
    if (fd < 0) return fd;
    try {
      return fs.readFileSync(fd, 'latin1');
    } catch (err) {
      return -errnoOf(err);
    } finally {
      native.close(fd);
    }
  }

  statx(task: Task, path: readonly string[]): Uint8Array | number {
    const p = this.policy(task, path);
    if (p.errno !== 0) return -p.errno;
    if (p.symlink !== undefined) return syntheticSymlinkStatx(p.symlink.length);
    return this.statxAt(path.join('/'));
  }

  statfs(_task: Task, _path: readonly string[]): Uint8Array | number {
    const buf = new Uint8Array(STATFS_SIZE);
    const dv = new DataView(buf.buffer);
    dv.setBigInt64(0, 0x9fa0n, true); // PROC_SUPER_MAGIC
    dv.setBigInt64(8, 4096n, true);
    dv.setBigInt64(64, 255n, true); // f_namelen
    dv.setBigInt64(72, 4096n, true); // f_frsize
    return buf;
  }
}

function errnoOf(err: unknown): number {
  const errno = (err as NodeJS.ErrnoException).errno;
  // Node reports errnos negated (UV_E*).
  return typeof errno === 'number' && errno !== 0 ? Math.abs(errno) : E.EIO;
}

/**
 * An open file holding text the sentry made up: a memfd with the contents,
 * reopened read-only through /proc/self/fd so the program gets a description
 * it cannot write through (the memfd is the program's own copy either way:
 * each open makes a new one). Mode 0444 as procfs shows its files. What
 * differs from a procfs file: fstat shows the size of the contents (procfs
 * shows 0), and the memfd's device and inode; it is not sealed (the native
 * memfd_create does not ask for MFD_ALLOW_SEALING), which the read-only
 * reopen makes moot for this description.
 */
/** Whether a path names a task's own file called `name`: PID/name or PID/task/TID/name. */
function isTaskFile(path: readonly string[], name: string): boolean {
  if (path[path.length - 1] !== name || !isPid(path[0] ?? '')) return false;
  return path.length === 2 || (path.length === 4 && path[1] === 'task' && isPid(path[2]!));
}

/** A status file's Uid, Gid and Groups lines with host ids shown as namespace ids (65534 unmapped). */
function statusInNamespace(text: string, ids: IdMaps): string {
  if (ids.uid.isIdentity && ids.gid.isIdentity) return text;
  return text.replace(/^(Uid|Gid|Groups):([^\n]*)/gm, (_line, field: string, values: string) => {
    const map = field === 'Uid' ? ids.uid : ids.gid;
    return `${field}:${values.replace(/[0-9]+/g, (id) => String(map.toNs(Number(id))))}`;
  });
}

/** The files of /proc/PID/net whose 8th column is a socket's owner (uid, or packet's User). */
const SOCKET_TABLES_WITH_UIDS = new Set(['tcp', 'tcp6', 'udp', 'udp6', 'udplite', 'udplite6', 'raw', 'raw6', 'icmp', 'icmp6', 'packet']);

/**
 * A socket table's uid column with host ids shown as namespace ids (65534
 * unmapped), each padded to the width it had so the columns stay aligned.
 * The header's 8th word is not a number, and stays.
 */
function socketTableInNamespace(text: string, ids: IdMaps): string {
  return text.replace(/^([ \t]*(?:\S+[ \t]+){7})([0-9]+)(?=[ \t\n]|$)/gm, (_line, before: string, uid: string) =>
    before + String(ids.uid.toNs(Number(uid))).padStart(uid.length));
}

function openSynthetic(name: string, text: string, flags: number): number {
  const memfd = native.memfdCreate(name);
  if (memfd < 0) return memfd;
  try {
    const bytes = Buffer.from(text, 'latin1');
    const w = native.pwriteAll(memfd, bytes, bytes.length, 0);
    if (w < 0) return w;
    fs.fchmodSync(memfd, 0o444);
    // Not fs.openSync: Node would track the fd, which the dispatcher closes natively.
    return native.openat2(AT_FDCWD, `/proc/self/fd/${memfd}`, O_RDONLY | O_CLOEXEC | (flags & O_NONBLOCK), 0, 0);
  } catch (err) {
    return -errnoOf(err);
  } finally {
    native.close(memfd);
  }
}

/** meminfo fields that describe the machine, not its use: kept as the host has them. */
const MEMINFO_KEPT = new Set(['VmallocTotal', 'Hugepagesize']);

/**
 * /proc/meminfo of a sandbox with a memory limit, in the host file's layout
 * (same fields, order and column widths, so parsers written against Linux
 * keep working): the limit is MemTotal and what the cgroup has not used is
 * free. Fields the cgroup accounts come from memory.stat (as gVisor and
 * lxcfs derive them); the machine-wide rest (slab, page tables, vmalloc use,
 * hugepages, direct maps) describes the host, not the sandbox, and is 0.
 * No swap: memory+swap is limited to the same value.
 */
export function sandboxMeminfo(host: string, limitBytes: number, used: MemoryUsage | null): string {
  const st = (key: string): number => used?.stat.get(key) ?? 0;
  const usage = used?.usage ?? 0;
  const free = Math.max(0, limitBytes - usage);
  const bytes: Record<string, number> = {
    MemTotal: limitBytes,
    MemFree: free,
    MemAvailable: free,
    Cached: st('cache'),
    Active: st('active_anon') + st('active_file'),
    Inactive: st('inactive_anon') + st('inactive_file'),
    'Active(anon)': st('active_anon'),
    'Inactive(anon)': st('inactive_anon'),
    'Active(file)': st('active_file'),
    'Inactive(file)': st('inactive_file'),
    Unevictable: st('unevictable'),
    Dirty: st('dirty'),
    Writeback: st('writeback'),
    AnonPages: st('rss'),
    Mapped: st('mapped_file'),
    Shmem: st('shmem'),
    AnonHugePages: st('rss_huge'),
    // Without swap, what the sandbox can ever commit is its limit.
    CommitLimit: limitBytes,
  };
  const lines = host.split('\n').map((line) => {
    const m = /^([^:]+):(\s*)([0-9]+)(.*)$/.exec(line);
    if (!m) return line;
    const name = m[1]!;
    const spaces = m[2]!;
    const digits = m[3]!;
    const rest = m[4]!;
    if (MEMINFO_KEPT.has(name)) return line;
    const b = bytes[name];
    const value = b === undefined ? 0 : rest.trim() === 'kB' ? Math.floor(b / 1024) : b;
    // Keep the column: Linux right-aligns the numbers.
    return `${name}:${String(value).padStart(spaces.length + digits.length)}${rest}`;
  });
  return lines.join('\n');
}

function syntheticSymlinkStatx(size: number): Uint8Array {
  const buf = new Uint8Array(STATX_SIZE);
  const dv = new DataView(buf.buffer);
  dv.setUint32(0, STATX_BASIC_STATS, true); // stx_mask
  dv.setUint32(4, 4096, true); // stx_blksize
  dv.setUint32(16, 1, true); // stx_nlink
  dv.setUint16(28, S_IFLNK | 0o777, true); // stx_mode
  dv.setBigUint64(40, BigInt(size), true); // stx_size
  return buf;
}

