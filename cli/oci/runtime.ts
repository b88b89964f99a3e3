// The OCI runtime's command line, as runc's (and runsc's global flags):
//
//   tsvisor [global flags] create|start|state|kill|delete|run|list|wait|events|
//           update|pause|resume|ps|exec [flags] ID ...
//
// Global flags come before the command, in Go's forms (-flag, --flag,
// --flag=value). Errors go to stderr and, with --log, to that file in
// --log-format (json: one {"level":"error","msg":...,"time":...} line, which
// containerd's shim and conmon read back). This file stays small: the
// commands' modules are imported only when run, so `state` and `kill` do not
// load the sentry.
import fs from 'node:fs';
import path from 'node:path';
import { takeSentryThread } from '../../sentry/thread.js';
import { CommandError, UsageError } from '../usage.js';
import { parseOverlay2 } from './overlay2.js';
import type { RunFlags } from './translate.js';

export const OCI_COMMANDS = [
  'create', 'start', 'state', 'kill', 'delete', 'run', 'list', 'wait', 'events', 'update', 'pause', 'resume', 'ps', 'exec',
] as const;
export type OciCommand = (typeof OCI_COMMANDS)[number];

/** The hidden command `create` starts its daemon with. */
export const DAEMON_COMMAND = '__oci-daemon';
/** The hidden command `exec --detach` leaves behind to wait for the process (cli/oci/operations.ts). */
export const EXEC_WAIT_COMMAND = '__oci-exec-wait';

export const OCI_USAGE = `OCI runtime commands (as runc's): tsvisor [global flags] COMMAND [flags] ID ...
  create --bundle DIR [--pid-file F] [--console-socket SOCK] ID
  start ID | state ID | kill [--all] ID [SIGNAL] | delete [--force] ID
  run [--bundle DIR] [--detach] [--pid-file F] [--console-socket SOCK] ID
  list [--format table|json] [-q] | wait ID | events [--stats] [--interval 5s] ID
  update [--memory N] [--memory-swap N] [--pids-limit N] [--cpu-shares N] [--cpu-quota N] [--cpu-period N] [-r FILE] ID
  pause ID | resume ID | ps [--format table|json] ID
  exec [--process FILE] [--detach] [--tty] [--console-socket SOCK] [--pid-file F] [--cwd DIR] [--env K=V]...
       [--user UID[:GID]] [--additional-gids G]... [--cap CAP]... ID [CMD ARGS...]
global flags: --root DIR (default /run/tsvisor), --log FILE, --log-format text|json, --debug,
  --debug-log FILE, --systemd-cgroup (accepted; cgroupfs is used), --platform seccomp|ptrace,
  --network none|host|sandbox, --strace,
  --overlay2 none|root:memory|root:self|root:dir=/PATH (where a writable root's writes go; default none: into the rootfs)`;

export interface GlobalOptions {
  root?: string;
  log?: string;
  logFormat: 'text' | 'json';
  debug: boolean;
  /** --debug-log: where the debug log goes (default: stderr). */
  debugLog?: string;
  flags: RunFlags;
}

/** Value-taking global flags; the others are booleans. */
const VALUE_FLAGS = new Set(['root', 'log', 'log-format', 'debug-log', 'platform', 'network', 'overlay2', 'criu', 'rootless', 'debug-log-format', 'panic-log']);
const BOOL_FLAGS = new Set(['debug', 'systemd-cgroup', 'strace', 'help']);

/** Whether argv is an OCI runtime invocation: global flags first, or one of the commands. */
export function isOciInvocation(argv: readonly string[]): boolean {
  const first = argv[0];
  if (first === undefined) return false;
  if (first === DAEMON_COMMAND || first === EXEC_WAIT_COMMAND || (OCI_COMMANDS as readonly string[]).includes(first)) return true;
  return first.startsWith('-') && first !== '-h' && first !== '--help';
}

/** Whether this OCI command line runs a sandbox in this process: the daemon, or `run` in the foreground. */
export function hostsSandbox(argv: readonly string[]): boolean {
  if (argv[0] === DAEMON_COMMAND) return true;
  if (!isOciInvocation(argv)) return false;
  try {
    const [cmd, ...args] = parseGlobal(argv).rest;
    return cmd === 'run' && !args.some((a) => a === '-d' || a === '--detach' || a.startsWith('--detach='));
  } catch {
    return false;
  }
}

export function parseGlobal(argv: readonly string[]): { opts: GlobalOptions; rest: string[] } {
  const opts: GlobalOptions = { logFormat: 'text', debug: false, flags: { strace: false } };
  let i = 0;
  for (; i < argv.length && argv[i]!.startsWith('-'); i++) {
    const a = argv[i]!.replace(/^--?/, '');
    const eq = a.indexOf('=');
    const name = eq < 0 ? a : a.slice(0, eq);
    let value = eq < 0 ? undefined : a.slice(eq + 1);
    if (VALUE_FLAGS.has(name)) {
      value ??= argv[++i];
      if (value === undefined) throw new UsageError(`--${name} needs a value`);
      setGlobal(opts, name, value);
    } else if (BOOL_FLAGS.has(name)) {
      setGlobal(opts, name, value ?? 'true');
    } else {
      throw new UsageError(`unknown global flag '${argv[i]}'`);
    }
  }
  return { opts, rest: argv.slice(i) };
}

function setGlobal(o: GlobalOptions, name: string, v: string): void {
  const on = v !== 'false';
  switch (name) {
    case 'root': o.root = v; break;
    case 'log': o.log = v; break;
    case 'log-format':
      if (v !== 'text' && v !== 'json') throw new UsageError(`--log-format must be text or json, not '${v}'`);
      o.logFormat = v;
      break;
    case 'debug': o.debug = on; break;
    case 'debug-log': o.debugLog = v; break;
    case 'strace': o.flags = { ...o.flags, strace: on }; break;
    case 'platform':
      if (v !== 'seccomp' && v !== 'ptrace') throw new UsageError(`--platform must be seccomp or ptrace, not '${v}'`);
      o.flags = { ...o.flags, platform: v };
      break;
    case 'network':
      if (v !== 'none' && v !== 'host' && v !== 'sandbox') throw new UsageError(`--network must be none, host or sandbox, not '${v}'`);
      o.flags = { ...o.flags, network: v };
      break;
    case 'overlay2': {
      const overlay2 = parseOverlay2(v);
      if (typeof overlay2 === 'string') throw new UsageError(overlay2);
      o.flags = { ...o.flags, overlay2 };
      break;
    }
    default:
      // --systemd-cgroup, --criu, --rootless: accepted, no effect here.
      break;
  }
}

/** Writes an error line to the --log file in its format, as runc's logrus does. */
function logError(o: GlobalOptions, msg: string): void {
  if (o.log === undefined) return;
  const time = new Date().toISOString();
  const line = o.logFormat === 'json'
    ? JSON.stringify({ level: 'error', msg, time })
    : `time="${time}" level=error msg=${JSON.stringify(msg)}`;
  try {
    fs.appendFileSync(o.log, line + '\n');
  } catch {
    // The log is the client's; stderr still has the message.
  }
}

export async function ociMain(argv: readonly string[]): Promise<number> {
  if (argv[0] === DAEMON_COMMAND) {
    const sentry = takeSentryThread();
    const { daemonCommand } = await import('./daemon.js');
    return daemonCommand(argv.slice(1), sentry);
  }
  if (argv[0] === EXEC_WAIT_COMMAND) {
    const { execWaitCommand } = await import('./operations.js');
    return execWaitCommand(argv.slice(1));
  }
  const { opts, rest } = parseGlobal(argv);
  // The sentry's logger (sentry/log.ts) reads these, here, in the daemon and in the sentry's thread alike.
  if (opts.debug || opts.debugLog !== undefined) process.env['TSVISOR_LOG'] = 'debug';
  if (opts.debugLog !== undefined) process.env['TSVISOR_LOG_FILE'] = path.resolve(opts.debugLog);
  const [cmd, ...args] = rest;
  if (cmd === undefined) throw new UsageError('no command given after the global flags');
  try {
    return await dispatch(opts, cmd, args);
  } catch (e) {
    if (e instanceof CommandError || e instanceof UsageError) logError(opts, e.message);
    throw e;
  }
}

async function dispatch(opts: GlobalOptions, cmd: string, args: string[]): Promise<number> {
  switch (cmd) {
    case 'create': case 'start': case 'state': case 'kill': case 'delete': case 'run': case 'list': case 'wait': {
      const m = await import('./lifecycle.js');
      return m.lifecycleCommand(opts, cmd, args);
    }
    case 'events': case 'update': case 'pause': case 'resume': case 'ps': case 'exec': {
      const m = await import('./operations.js');
      return m.operationCommand(opts, cmd, args);
    }
    case 'spec': case 'features': {
      const m = await import('./commands.js');
      return cmd === 'spec' ? m.specCommand(args) : m.featuresCommand(args);
    }
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}
