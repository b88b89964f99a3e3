// `tsvisor do [options] -- CMD [ARGS...]`: run one command in a throwaway
// sandbox. The root is the host's / (or --rootfs), seen read-only under a
// writable layer that is thrown away at exit.
import { parseNetRule } from '../sentry/net/policy.js';
import { parsePublish } from '../sentry/net/publish.js';
import type { PortRule } from '../sentry/net/nft.js';
import fs from 'node:fs';
import path from 'node:path';
import tty from 'node:tty';
import {
  runSandbox, SandboxError, type BindMount, type ExtraMount, type OverlayMode, type TmpfsMount,
} from '../sentry/sandbox.js';
import { UsageError } from './usage.js';
import type { SentryThread } from '../sentry/thread.js';
import type { PlatformName } from '../platform/handshake.js';
import {
  DEFAULT_PIDS_LIMIT, MemorySizeError, PidsLimitError, hasController, parseMemorySize, parsePidsLimit,
} from '../sentry/kernel/cgroup.js';

export const DO_USAGE = `usage: tsvisor do [--rootfs DIR] [--overlay MODE] [--bind SRC:DST[:ro]]... [--tmpfs DST[:OPTS]]...
                  [--memory SIZE] [--pids-limit N] [--network none|host|sandbox] [--platform seccomp|ptrace]
                  [-p [HOSTIP:]HOSTPORT:PORT[/tcp|/udp]]...
                  [--net-allow CIDR[:PORTS]]... [--net-deny CIDR[:PORTS]]... [--net-raw]
                  [--strace] [--strict] [--stats] [--tty|--no-tty] -- CMD [ARGS...]

  --rootfs DIR       the sandbox's root (read-only lower layer); default /
  --overlay MODE     where writes to the root go, thrown away at exit in every mode:
                     memory: a tmpfs (default)
                     dir=PATH: a fresh folder in the host directory PATH (disk, not memory)
                     none: nowhere: the root is read-only (EROFS); /tmp stays writable
  --bind SRC:DST[:ro|rw]
                     the host file or directory SRC at the absolute path DST in the sandbox,
                     read-write (default) or read-only; DST is made when missing
  --tmpfs DST[:size=N[k|m|g]][,mode=OCTAL]
                     a fresh tmpfs at the absolute path DST, of at most N bytes
                     (--bind and --tmpfs are mounted in the order given)
  --memory SIZE      limit the sandbox's memory to SIZE (512m, 2g, 262144k; bytes without a
                     unit): a program past it is killed (OOM); /proc/meminfo shows it
  --pids-limit N     allow the sandbox N tasks (processes and threads): a fork or clone
                     past it fails with EAGAIN (a fork bomb stops there); max: no limit;
                     default ${DEFAULT_PIDS_LIMIT} where the host has the pids controller (cgroup v1,
                     or cgroup v2 with the root handing it down)
  --network MODE     none: loopback only, in the sandbox's own network namespace (default)
                     host: the host's network
                     sandbox: a network namespace of the sandbox's own joined to the host's by a
                     veth pair with NAT (an address in 100.96.0.0/16); turns on the host's
                     IPv4 forwarding (net.ipv4.ip_forward, machine-wide) if it is off, and says so
  -p, --publish [HOSTIP:]HOSTPORT:PORT[/tcp|/udp]
                     with --network sandbox: the sandbox's PORT reached at the host's HOSTPORT
                     (on HOSTIP only, if given), from other machines and from the host itself
                     (in every mode /etc/resolv.conf, /etc/hosts and /etc/hostname are the
                     sandbox's own copies, made by tsvisor, unless --bind covers them; none: no
                     nameservers)
  --net-allow CIDR[:PORTS], --net-deny CIDR[:PORTS]
                     egress policy, checked by the sentry at connect and at every send to an
                     address: a destination a deny rule matches, or (with allow rules) no
                     allow rule matches, is refused (connect: ECONNREFUSED; send: EPERM) and
                     logged; with --network none or sandbox, the same rules are nftables rules
                     in the sandbox's network namespace too. CIDR: 10.0.0.0/8, 1.2.3.4, ::1, [fd00::/8]:443; PORTS: 80,
                     8000-8100, or a comma list of those
  --net-raw          allow raw IP and packet sockets to tasks holding CAP_NET_RAW (default: EPERM)
  --platform NAME    how syscalls are trapped: seccomp (user notification; the default where
                     the kernel has it) or ptrace (a tracer; the fallback, about 2x slower per call)
  --strace           print each trapped syscall and its result to stderr
  --strict           trap every syscall, passthrough ones included (research, fuzzing)
  --stats            print trapped-syscall counts to stderr at exit
  --tty, --no-tty    give the program a terminal of the sandbox's own (/dev/pts/0, its
                     controlling terminal; window size changes passed through), relayed to
                     ours in raw mode, as docker run -it does; or do not, and let it inherit
                     stdio as it is. Default: a terminal when stdin and stdout both are one;
                     --tty needs stdin to be one`;

export interface DoOptions {
  rootfs: string;
  overlay: OverlayMode;
  mounts: ExtraMount[];
  network: 'none' | 'host' | 'sandbox';
  /** -p / --publish, parsed. */
  publish: PortRule[];
  strace: boolean;
  strict: boolean;
  stats: boolean;
  /** --tty / --no-tty, or auto: a terminal when stdin and stdout are both terminals. */
  tty: 'auto' | 'yes' | 'no';
  /** --memory in bytes, or null for no limit. */
  memory: number | null;
  /** --pids-limit: a number of tasks, 'max' (no limit), or 'default' when not given. */
  pidsLimit: number | 'max' | 'default';
  /** --platform, or null: the best the kernel has. */
  platform: PlatformName | null;
  /** --net-allow, --net-deny rules as given (checked by NetPolicy.fromTexts), and --net-raw. */
  netAllow: string[];
  netDeny: string[];
  netRaw: boolean;
  argv: string[];
}

export function parseDoArgs(args: readonly string[]): DoOptions {
  const o: DoOptions = {
    rootfs: '/', overlay: { kind: 'memory' }, mounts: [], network: 'none', strace: false, strict: false, stats: false, memory: null, pidsLimit: 'default', tty: 'auto', platform: null, argv: [],
    netAllow: [], netDeny: [], netRaw: false, publish: [],
  };
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') {
      i++;
      break;
    }
    const [flag, inline] = a.startsWith('--') && a.includes('=') ? [a.slice(0, a.indexOf('=')), a.slice(a.indexOf('=') + 1)] : [a, undefined];
    const value = (): string => {
      const v = inline ?? args[++i];
      if (v === undefined) throw new UsageError(`${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--rootfs': o.rootfs = value(); break;
      case '--overlay': o.overlay = parseOverlay(value()); break;
      case '--bind': o.mounts.push(parseBind(value())); break;
      case '--tmpfs': o.mounts.push(parseTmpfs(value())); break;
      case '--network': {
        const v = value();
        if (v !== 'none' && v !== 'host' && v !== 'sandbox') throw new UsageError(`--network must be none, host or sandbox, not '${v}'`);
        o.network = v;
        break;
      }
      case '--platform': {
        const v = value();
        if (v !== 'seccomp' && v !== 'ptrace') throw new UsageError(`--platform must be seccomp or ptrace, not '${v}'`);
        o.platform = v;
        break;
      }
      case '--net-allow': o.netAllow.push(netRule(flag, value())); break;
      case '--net-deny': o.netDeny.push(netRule(flag, value())); break;
      case '--net-raw': o.netRaw = true; break;
      case '-p':
      case '--publish': o.publish.push(publishRule(flag, value())); break;
      case '--strace': o.strace = true; break;
      case '--strict': o.strict = true; break;
      case '--stats': o.stats = true; break;
      case '--tty': o.tty = 'yes'; break;
      case '--no-tty': o.tty = 'no'; break;
      case '--memory': o.memory = parseMemoryOption(value()); break;
      case '--pids-limit': o.pidsLimit = parsePidsOption(value()); break;
      default:
        if (a.startsWith('-')) throw new UsageError(`unknown option '${a}'`);
        // No "--": the command starts here.
        o.argv = args.slice(i);
        return validated(o);
    }
  }
  o.argv = args.slice(i);
  return validated(o);
}

function publishRule(flag: string, text: string): PortRule {
  const r = parsePublish(text);
  if (typeof r === 'string') throw new UsageError(`${flag} ${text}: ${r}`);
  return r;
}

function netRule(flag: string, text: string): string {
  const r = parseNetRule(text);
  if (typeof r === 'string') throw new UsageError(`${flag} ${text}: ${r}`);
  return text;
}

function parseMemoryOption(text: string): number {
  try {
    return parseMemorySize(text);
  } catch (err) {
    if (err instanceof MemorySizeError) throw new UsageError(err.message);
    throw err;
  }
}

function parsePidsOption(text: string): number | 'max' {
  try {
    return parsePidsLimit(text) ?? 'max';
  } catch (err) {
    if (err instanceof PidsLimitError) throw new UsageError(err.message);
    throw err;
  }
}

/**
 * The pids limit to apply: the default only where the host has the pids
 * controller (a limit asked for by name on a host without one is an error,
 * from the sandbox's setup).
 */
function effectivePidsLimit(o: DoOptions): number | null {
  if (o.pidsLimit === 'max') return null;
  if (o.pidsLimit === 'default') return hasController('pids') ? DEFAULT_PIDS_LIMIT : null;
  return o.pidsLimit;
}

function validated(o: DoOptions): DoOptions {
  if (o.argv.length === 0) throw new UsageError('no command given');
  if (o.publish.length > 0 && o.network !== 'sandbox') throw new UsageError('-p needs --network sandbox (none has no way in; host: the program binds host ports itself)');
  const root = path.resolve(o.rootfs);
  let st: fs.Stats;
  try {
    st = fs.statSync(root);
  } catch {
    throw new UsageError(`--rootfs ${o.rootfs}: no such directory`);
  }
  if (!st.isDirectory()) throw new UsageError(`--rootfs ${o.rootfs}: not a directory`);
  o.rootfs = root;
  return o;
}

/** --overlay memory|none|dir=PATH (PATH: an existing directory, made absolute). */
export function parseOverlay(spec: string): OverlayMode {
  if (spec === 'memory' || spec === 'none') return { kind: spec };
  if (spec.startsWith('dir=')) {
    const dir = spec.slice(4);
    if (dir === '') throw new UsageError('--overlay dir=PATH: PATH is empty');
    requireDirectory(dir, `--overlay ${spec}`);
    return { kind: 'dir', dir: path.resolve(dir) };
  }
  throw new UsageError(`--overlay must be memory, none or dir=PATH, not '${spec}'`);
}

/** --bind SRC:DST[:ro|rw]. SRC must exist (made absolute); DST is a path in the sandbox. */
export function parseBind(spec: string): BindMount {
  const parts = spec.split(':');
  if (parts.length < 2) throw new UsageError(`--bind '${spec}': expected SRC:DST[:ro|rw] (no colon)`);
  if (parts.length > 3) throw new UsageError(`--bind '${spec}': expected SRC:DST[:ro|rw] (too many colons; paths with ':' are not supported)`);
  const [src, dst, mode] = parts as [string, string, string | undefined];
  if (mode !== undefined && mode !== 'ro' && mode !== 'rw') throw new UsageError(`--bind '${spec}': the mode must be ro or rw, not '${mode}'`);
  if (src === '') throw new UsageError(`--bind '${spec}': SRC is empty`);
  try {
    fs.statSync(src);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    throw new UsageError(`--bind '${spec}': ${src}: ${code === 'ENOENT' ? 'no such file or directory' : code ?? 'cannot stat'}`);
  }
  return { kind: 'bind', source: path.resolve(src), target: sandboxTarget(dst, `--bind '${spec}'`), readOnly: mode === 'ro' };
}

/** --tmpfs DST[:size=N[k|m|g]][,mode=OCTAL] */
export function parseTmpfs(spec: string): TmpfsMount {
  const colon = spec.indexOf(':');
  const dst = colon < 0 ? spec : spec.slice(0, colon);
  const what = `--tmpfs '${spec}'`;
  const m: { kind: 'tmpfs'; target: string; size?: number; mode?: number } = { kind: 'tmpfs', target: sandboxTarget(dst, what) };
  if (colon < 0) return m;
  for (const opt of spec.slice(colon + 1).split(',')) {
    const eq = opt.indexOf('=');
    const key = eq < 0 ? opt : opt.slice(0, eq);
    const val = eq < 0 ? '' : opt.slice(eq + 1);
    if (key === 'size') {
      if (m.size !== undefined) throw new UsageError(`${what}: size given twice`);
      m.size = parseSize(val, what);
    } else if (key === 'mode') {
      if (m.mode !== undefined) throw new UsageError(`${what}: mode given twice`);
      if (!/^[0-7]{1,4}$/.test(val)) throw new UsageError(`${what}: mode must be octal permission bits (such as 1777), not '${val}'`);
      m.mode = parseInt(val, 8);
    } else {
      throw new UsageError(`${what}: unknown option '${opt}' (size=N[k|m|g] and mode=OCTAL are known)`);
    }
  }
  return m;
}

const SIZE_UNITS: Readonly<Record<string, number>> = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 };

/** N[k|m|g] in bytes: a whole number above 0 (a tmpfs of size 0 would have no limit at all). */
export function parseSize(text: string, what = '--tmpfs'): number {
  const m = /^([0-9]+)([kmg]?)$/i.exec(text);
  const bytes = m ? Number(m[1]) * SIZE_UNITS[m[2]!.toLowerCase()]! : NaN;
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UsageError(`${what}: bad size '${text}' (a whole number above 0, optionally followed by k, m or g)`);
  return bytes;
}

/** An absolute path inside the sandbox, normalised; not the root itself nor in /proc (the sandbox's own procfs covers it). */
function sandboxTarget(dst: string, what: string): string {
  if (dst === '') throw new UsageError(`${what}: DST is empty`);
  if (!dst.startsWith('/')) throw new UsageError(`${what}: DST must be an absolute path, not '${dst}'`);
  const norm = path.posix.normalize(dst).replace(/(.)\/+$/, '$1');
  if (norm === '/') throw new UsageError(`${what}: cannot mount over the sandbox's root`);
  if (norm === '/proc' || norm.startsWith('/proc/')) throw new UsageError(`${what}: cannot mount in /proc (the sandbox's own procfs is mounted there)`);
  return norm;
}

function requireDirectory(dir: string, what: string): void {
  let st: fs.Stats;
  try {
    st = fs.statSync(dir);
  } catch {
    throw new UsageError(`${what}: ${dir}: no such directory`);
  }
  if (!st.isDirectory()) throw new UsageError(`${what}: ${dir}: not a directory`);
}

/** sentry: the sentry's thread, started by the caller before it loaded this module (sentry/thread.ts). */
export async function doCommand(args: readonly string[], sentry?: SentryThread): Promise<number> {
  const o = parseDoArgs(args);
  if (process.getuid?.() !== 0) {
    process.stderr.write('tsvisor: do needs root (it creates namespaces and mounts)\n');
    return 125;
  }
  // The working directory carries over where the sandbox has it too.
  const cwd = process.cwd();
  // docker's rule: a terminal when asked (-t), by default when stdin and stdout both are one.
  if (o.tty === 'yes' && !tty.isatty(0)) {
    process.stderr.write('tsvisor: --tty: stdin is not a terminal (the sandbox\'s terminal relays it in raw mode)\n');
    return 2;
  }
  const terminal = o.tty === 'yes' || (o.tty === 'auto' && tty.isatty(0) && tty.isatty(1));
  const pidsLimit = effectivePidsLimit(o);
  try {
    const result = await runSandbox({
      rootfs: o.rootfs, overlay: o.overlay, mounts: o.mounts, network: o.network, argv: o.argv, env: process.env, cwd,
      publish: o.publish, etcFiles: true,
      strace: o.strace, strict: o.strict, withInit: true, terminal,
      net: { allow: o.netAllow, deny: o.netDeny, rawSockets: o.netRaw },
      ...(o.memory !== null ? { memoryLimit: o.memory } : {}),
      ...(pidsLimit !== null ? { pidsLimit } : {}),
      ...(o.platform !== null ? { platform: o.platform } : {}),
      ...(sentry ? { sentry } : {}),
    });
    if (o.stats) {
      const rows = Object.entries(result.counts).sort((a, b) => b[1] - a[1]);
      process.stderr.write(rows.map(([n, c]) => `${String(c).padStart(8)}  ${n}`).join('\n') + '\n');
    }
    return result.status;
  } catch (err) {
    if (err instanceof SandboxError) {
      process.stderr.write(`tsvisor: ${err.message}\n`);
      return 125;
    }
    throw err;
  }
}
