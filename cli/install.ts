// `tsvisor install --docker`: adds tsvisor to dockerd's daemon.json as a
// runtime ("runtimes": {"tsvisor": {"path": ...}}), as `runsc install` does,
// keeping everything else in the file. A file that is not a JSON object is
// refused with a message and left as it is. Podman and containerd take the
// runtime by path in their own files: docs/oci.md has the snippets.
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { CommandError, UsageError } from './usage.js';

export const INSTALL_USAGE = `usage: tsvisor install --docker [--daemon-json PATH] [--runtime-name NAME] [--path RUNTIME] [-- RUNTIME-ARGS...]

  adds tsvisor to Docker's daemon.json (default /etc/docker/daemon.json, made
  when missing) as the runtime NAME (default tsvisor), run as RUNTIME
  (default: this checkout's bin/tsvisor-runtime) with RUNTIME-ARGS (global
  flags such as --platform ptrace); the rest of the file is kept. Restart
  dockerd (or send it SIGHUP) and use \`docker run --runtime NAME ...\``;

export const DEFAULT_DAEMON_JSON = '/etc/docker/daemon.json';

/** bin/tsvisor-runtime of this checkout (this file runs from dist/cli/). */
export function defaultRuntimePath(): string {
  return path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'bin', 'tsvisor-runtime');
}

interface InstallOptions {
  readonly daemonJson: string;
  readonly name: string;
  readonly runtimePath: string;
  readonly runtimeArgs: readonly string[];
}

function parseInstall(args: readonly string[]): InstallOptions {
  let docker = false;
  let daemonJson = DEFAULT_DAEMON_JSON;
  let name = 'tsvisor';
  let runtimePath = defaultRuntimePath();
  let runtimeArgs: string[] = [];
  for (let i = 0; i < args.length; i++) {
    const a = args[i]!;
    const eq = a.indexOf('=');
    const flag = a.startsWith('--') && eq > 0 ? a.slice(0, eq) : a;
    const value = (): string => {
      const v = eq > 0 && a.startsWith('--') ? a.slice(eq + 1) : args[++i];
      if (v === undefined || v === '') throw new UsageError(`install: ${flag} needs a value`);
      return v;
    };
    switch (flag) {
      case '--docker': docker = true; break;
      case '--daemon-json': daemonJson = value(); break;
      case '--runtime-name': name = value(); break;
      case '--path': runtimePath = path.resolve(value()); break;
      case '--': runtimeArgs = args.slice(i + 1); i = args.length; break;
      default: throw new UsageError(`install: unknown argument '${a}'`);
    }
  }
  if (!docker) throw new UsageError('install: say what to install into: --docker');
  if (!/^[A-Za-z0-9_.-]+$/.test(name)) throw new UsageError(`install: --runtime-name: '${name}' is not a runtime name (letters, digits, _ . -)`);
  return { daemonJson, name, runtimePath, runtimeArgs };
}

/** The daemon.json object with tsvisor in its runtimes; throws a CommandError naming what is wrong with the text. */
export function withRuntime(text: string, file: string, o: Pick<InstallOptions, 'name' | 'runtimePath' | 'runtimeArgs'>): Record<string, unknown> {
  let json: unknown = {};
  if (text.trim() !== '') {
    try {
      json = JSON.parse(text);
    } catch (e) {
      throw new CommandError(`install: ${file} is not valid JSON (${(e as Error).message}); it was left as it is`);
    }
  }
  if (typeof json !== 'object' || json === null || Array.isArray(json)) {
    throw new CommandError(`install: ${file} is not a JSON object; it was left as it is`);
  }
  const conf = json as Record<string, unknown>;
  const runtimes = conf['runtimes'] ?? {};
  if (typeof runtimes !== 'object' || runtimes === null || Array.isArray(runtimes)) {
    throw new CommandError(`install: ${file}: "runtimes" is not a JSON object; it was left as it is`);
  }
  const entry: Record<string, unknown> = { path: o.runtimePath };
  if (o.runtimeArgs.length > 0) entry['runtimeArgs'] = [...o.runtimeArgs];
  return { ...conf, runtimes: { ...(runtimes as Record<string, unknown>), [o.name]: entry } };
}

export function installCommand(args: readonly string[]): number {
  const o = parseInstall(args);
  let text = '';
  try {
    text = fs.readFileSync(o.daemonJson, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw new CommandError(`install: cannot read ${o.daemonJson}: ${(e as Error).message}`);
  }
  const conf = withRuntime(text, o.daemonJson, o);
  if (!fs.existsSync(o.runtimePath)) process.stderr.write(`tsvisor: warning: ${o.runtimePath} does not exist (yet)\n`);
  // A temporary file renamed over the old one: dockerd never reads half a file.
  const dir = path.dirname(path.resolve(o.daemonJson));
  const tmp = path.join(dir, `.${path.basename(o.daemonJson)}.tsvisor-${process.pid}`);
  try {
    fs.mkdirSync(dir, { recursive: true });
    let mode = 0o644;
    try {
      mode = fs.statSync(o.daemonJson).mode & 0o777;
    } catch {
      // A new file.
    }
    fs.writeFileSync(tmp, JSON.stringify(conf, null, 2) + '\n', { mode });
    fs.renameSync(tmp, o.daemonJson);
  } catch (e) {
    fs.rmSync(tmp, { force: true });
    throw new CommandError(`install: cannot write ${o.daemonJson}: ${(e as Error).message}`);
  }
  process.stdout.write(`tsvisor: runtime "${o.name}" (${o.runtimePath}) added to ${o.daemonJson}; restart dockerd or send it SIGHUP\n`);
  return 0;
}
