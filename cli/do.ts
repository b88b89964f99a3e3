// `tsvisor do [options] -- CMD [ARGS...]`: run one command in a throwaway
// sandbox. The root is the host's / (or --rootfs), seen read-only under a
// writable layer that is thrown away at exit.
import fs from 'node:fs';
import path from 'node:path';
import { runSandbox, SandboxError } from '../sentry/sandbox.js';
import { UsageError } from './usage.js';

export const DO_USAGE = `usage: tsvisor do [--rootfs DIR] [--network none|host] [--strace] [--strict] [--stats] -- CMD [ARGS...]

  --rootfs DIR       the sandbox's root (read-only lower layer); default /
  --network MODE     none: loopback only, in the sandbox's own network namespace (default)
                     host: the host's network
  --strace           print each trapped syscall and its result to stderr
  --strict           trap every syscall, passthrough ones included (research, fuzzing)
  --stats            print trapped-syscall counts to stderr at exit`;

export interface DoOptions {
  rootfs: string;
  network: 'none' | 'host';
  strace: boolean;
  strict: boolean;
  stats: boolean;
  argv: string[];
}

export function parseDoArgs(args: readonly string[]): DoOptions {
  const o: DoOptions = { rootfs: '/', network: 'none', strace: false, strict: false, stats: false, argv: [] };
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
      case '--network': {
        const v = value();
        if (v !== 'none' && v !== 'host') throw new UsageError(`--network must be none or host, not '${v}'`);
        o.network = v;
        break;
      }
      case '--strace': o.strace = true; break;
      case '--strict': o.strict = true; break;
      case '--stats': o.stats = true; break;
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

function validated(o: DoOptions): DoOptions {
  if (o.argv.length === 0) throw new UsageError('no command given');
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

export async function doCommand(args: readonly string[]): Promise<number> {
  const o = parseDoArgs(args);
  if (process.getuid?.() !== 0) {
    process.stderr.write('tsvisor: do needs root (it creates namespaces and mounts)\n');
    return 125;
  }
  // The working directory carries over where the sandbox has it too.
  const cwd = process.cwd();
  try {
    const result = await runSandbox({
      rootfs: o.rootfs, network: o.network, argv: o.argv, env: process.env, cwd,
      strace: o.strace, strict: o.strict, withInit: true,
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
