// Runs a real program natively and under `tsvisor do`, the same way, so tests can
// compare the two. Nothing here is mocked: the sandboxed run is the real CLI
// (dist/bundle/main.cjs, built by `npm run build`) on the real kernel.
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { platformFlags } from './platform.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const PROJECT_ROOT = path.resolve(HERE, '..', '..');
export const CLI = path.join(PROJECT_ROOT, 'dist', 'bundle', 'main.cjs');
export const HELPERS_DIR = HERE;

/** A fixed environment for both sides, so output does not depend on the caller's locale or shell. */
export const BASE_ENV: Readonly<Record<string, string>> = {
  PATH: '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
  HOME: '/root',
  LANG: 'C',
  LC_ALL: 'C',
  TZ: 'UTC',
  TERM: 'dumb',
};

export interface RunResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface RunOptions {
  /** Working directory of the program (and of the tsvisor process). */
  readonly cwd: string;
  /** The environment; default BASE_ENV. */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the program's stdin, then closed; undefined: stdin is /dev/null. */
  readonly stdin?: string;
  /** Extra `tsvisor do` options placed before `--` (sandboxed runs only). */
  readonly flags?: readonly string[];
  /** Kill (SIGKILL) after this long; default 90 s. Not a threshold on speed: a hang guard. */
  readonly timeoutMs?: number;
}

function run(file: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(file, [...args], {
      cwd: opts.cwd,
      env: { ...(opts.env ?? BASE_ENV) },
      stdio: [opts.stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout?.on('data', (b: Buffer) => out.push(b));
    child.stderr?.on('data', (b: Buffer) => err.push(b));
    if (opts.stdin !== undefined && child.stdin) {
      child.stdin.on('error', () => { /* the program may exit before reading it all */ });
      child.stdin.end(opts.stdin);
    }
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 90_000);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      resolve({ status, signal, stdout: Buffer.concat(out).toString('utf8'), stderr: Buffer.concat(err).toString('utf8') });
    });
  });
}

/** Runs argv on the host, directly. argv[0] is looked up on the PATH of opts.env. */
export function runNative(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) throw new Error('runNative: empty argv');
  const env = opts.env ?? BASE_ENV;
  return run(resolveOnPath(cmd, env.PATH ?? ''), args, opts);
}

/**
 * `do` and the options that select the test's platform (helpers/platform.ts),
 * then `rest`: the CLI arguments of every sandbox a test starts, so that the
 * platform is chosen in one place. Tests of `do`'s command line use it too:
 * an option error must read the same on both platforms.
 */
export function doArgs(rest: readonly string[]): string[] {
  return ['do', ...platformFlags(), ...rest];
}

/** The argv of the tsvisor process that runs argv in a sandbox. */
export function sandboxArgs(argv: readonly string[], flags: readonly string[] = []): string[] {
  return [CLI, ...doArgs([...flags, '--', ...argv])];
}

/**
 * `sandboxArgs` as one shell command line, for tests that type it into a
 * terminal or a shell. Arguments must need no quoting (checked): the callers
 * pass paths and options, and append the program's own words themselves.
 */
export function sandboxCommandLine(flags: readonly string[] = []): string {
  const words = [process.execPath, CLI, ...doArgs(flags)];
  const bad = words.find((w) => !/^[\w./:=,@+-]+$/.test(w));
  if (bad !== undefined) throw new Error(`sandboxCommandLine: ${JSON.stringify(bad)} would need shell quoting`);
  return words.join(' ');
}

/** Runs argv under `node dist/bundle/main.cjs do [flags] -- argv`. */
export function runSandboxed(argv: readonly string[], opts: RunOptions): Promise<RunResult> {
  return run(process.execPath, sandboxArgs(argv, opts.flags), opts);
}

/** Runs the tsvisor CLI with raw arguments (for command-line error tests). */
export function runCli(args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return run(process.execPath, [CLI, ...args], opts);
}

/** Starts `tsvisor do` without waiting (for tests that kill parts of it). */
export function spawnSandboxed(argv: readonly string[], opts: RunOptions): ChildProcess {
  return spawn(process.execPath, sandboxArgs(argv, opts.flags), {
    cwd: opts.cwd,
    env: { ...(opts.env ?? BASE_ENV) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
}

export interface Differential {
  readonly native: RunResult;
  readonly sandboxed: RunResult;
}

/** Runs argv natively and sandboxed (one after the other), with the same cwd, env and stdin. */
export async function differential(argv: readonly string[], opts: RunOptions): Promise<Differential> {
  const native = await runNative(argv, opts);
  const sandboxed = await runSandboxed(argv, opts);
  return { native, sandboxed };
}

function resolveOnPath(cmd: string, pathVar: string): string {
  if (cmd.includes('/')) return cmd;
  for (const dir of pathVar.split(':')) {
    if (!dir) continue;
    const p = path.join(dir, cmd);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch {
      // next
    }
  }
  return cmd;
}

/**
 * A fresh host directory that the sandbox sees at the same path (the host root is
 * its lower layer). Not under /tmp: the sandbox's /tmp is its own tmpfs.
 */
export function makeWorkDir(prefix: string): string {
  return fs.mkdtempSync(path.join('/var/tmp', `tsvisor-${prefix}-`));
}

export function removeDir(dir: string): void {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
}

/** Compiles test/helpers/NAME.c into dir/NAME and returns the binary's path. */
export function compileHelper(name: string, dir: string): string {
  const out = path.join(dir, name);
  execFileSync('gcc', ['-O1', '-Wall', '-Werror', '-o', out, path.join(HELPERS_DIR, `${name}.c`)]);
  return out;
}

export interface HostProcess {
  readonly pid: number;
  readonly ppid: number;
  readonly cmdline: readonly string[];
}

/** Every process on the host, from /proc (processes that vanish mid-scan are skipped). */
export function listProcesses(): HostProcess[] {
  const procs: HostProcess[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    try {
      const raw = fs.readFileSync(`/proc/${name}/cmdline`, 'utf8');
      const stat = fs.readFileSync(`/proc/${name}/stat`, 'utf8');
      // pid (comm) state ppid ...: comm may hold spaces and parens, so split after the last ')'.
      const after = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      procs.push({ pid: Number(name), ppid: Number(after[1]), cmdline: raw.split('\0').filter((s) => s !== '') });
    } catch {
      // gone
    }
  }
  return procs;
}

/** The processes whose ancestry includes pid (pid itself excluded). */
export function descendantsOf(pid: number, procs: readonly HostProcess[] = listProcesses()): HostProcess[] {
  const children = new Map<number, HostProcess[]>();
  for (const p of procs) {
    const list = children.get(p.ppid) ?? [];
    list.push(p);
    children.set(p.ppid, list);
  }
  const found: HostProcess[] = [];
  const stack = [pid];
  while (stack.length > 0) {
    const cur = stack.pop()!;
    for (const c of children.get(cur) ?? []) {
      found.push(c);
      stack.push(c.pid);
    }
  }
  return found;
}

/** Whether a process with this pid and exactly this cmdline still exists (not a zombie). */
export function stillRunning(p: HostProcess): boolean {
  try {
    const raw = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8');
    const stat = fs.readFileSync(`/proc/${p.pid}/stat`, 'utf8');
    const state = stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0];
    if (state === 'Z' || state === 'X') return false;
    return raw.split('\0').filter((s) => s !== '').join('\0') === p.cmdline.join('\0');
  } catch {
    return false;
  }
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls cond every 100 ms until it holds or limitMs passes; returns whether it held. */
export async function waitFor(cond: () => boolean, limitMs: number): Promise<boolean> {
  const end = Date.now() + limitMs;
  for (;;) {
    if (cond()) return true;
    if (Date.now() >= end) return false;
    await sleep(100);
  }
}

/** The processes whose environment holds NAME=VALUE (children inherit it, so it tags a whole run). */
export function processesWithEnv(name: string, value: string): HostProcess[] {
  const needle = `${name}=${value}`;
  return listProcesses().filter((p) => {
    try {
      return fs.readFileSync(`/proc/${p.pid}/environ`, 'utf8').split('\0').includes(needle) && stillRunning(p);
    } catch {
      return false;
    }
  });
}
