// `tsvisor spec` and `tsvisor features`: the two OCI commands that need no
// container. The lifecycle commands (create, start, state, kill, delete) will
// sit beside them on state.ts.
import fs from 'node:fs';
import path from 'node:path';
import { PROJECT_ROOT } from '../../native/paths.js';
import { CommandError, UsageError } from '../usage.js';
import { defaultConfig, features } from './defaults.js';

export const SPEC_USAGE = `usage: tsvisor spec [--bundle DIR] [--rootless]

  writes a starter config.json into DIR (default: the current directory), as
  \`runc spec\` does; an existing config.json is never overwritten`;

export const FEATURES_USAGE = `usage: tsvisor features

  prints what this tsvisor supports, as the OCI runtime-spec features JSON`;

export function specCommand(args: readonly string[]): number {
  let bundle = '.';
  let rootless = false;
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    // runc's spelling of the flag, with its short and --flag=value forms.
    if (a === '--bundle' || a === '-b') {
      const v = args[++i];
      if (v === undefined) throw new UsageError(`spec: ${a} needs a directory`);
      bundle = v;
    } else if (a.startsWith('--bundle=')) bundle = a.slice('--bundle='.length);
    else if (a === '--rootless') rootless = true;
    else throw new UsageError(`spec: unknown argument '${a}'`);
  }
  if (bundle === '') throw new UsageError('spec: --bundle needs a directory');
  const file = path.join(bundle, 'config.json');
  const text = JSON.stringify(defaultConfig(rootless), null, '\t');
  let fd: number;
  try {
    // O_EXCL: refusing to overwrite must hold even against a file made
    // between a check and the write.
    fd = fs.openSync(file, 'wx', 0o666);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') throw new CommandError('File config.json exists. Remove it first');
    throw new CommandError(`spec: cannot create ${file}: ${describe(e)}`);
  }
  try {
    fs.writeSync(fd, text + '\n');
  } catch (e) {
    // Nothing half-written is left behind.
    fs.closeSync(fd);
    fs.rmSync(file, { force: true });
    throw new CommandError(`spec: cannot write ${file}: ${describe(e)}`);
  }
  fs.closeSync(fd);
  return 0;
}

export function featuresCommand(args: readonly string[]): number {
  if (args.length > 0) throw new UsageError(`features: unknown argument '${args[0]}'`);
  process.stdout.write(JSON.stringify(features(packageVersion()), null, 4) + '\n');
  return 0;
}

/** tsvisor's version, from the package's package.json. */
function packageVersion(): string {
  try {
    const pkg: unknown = JSON.parse(fs.readFileSync(path.join(PROJECT_ROOT, 'package.json'), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && 'version' in pkg && typeof pkg.version === 'string') return pkg.version;
  } catch {
    // An installed copy without its package.json still answers, without a version.
  }
  return 'unknown';
}

function describe(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  return err.code !== undefined ? `${err.code}: ${err.message}` : String(e);
}
