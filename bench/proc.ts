// Running the measured programs: spawn, wall-clock from spawn to exit, capture
// output, and never hang the bench (every run has a timeout).
import { spawn } from 'node:child_process';

export interface RunOptions {
  /** Killed with SIGKILL after this long; the run then counts as failed. */
  readonly timeoutMs: number;
  readonly env?: NodeJS.ProcessEnv;
  /** Keep stdout (the C programs print their figures there). */
  readonly captureStdout?: boolean;
  /** Called with the pid right after spawn (the memory figure polls it). */
  readonly onSpawn?: (pid: number) => void;
  /** Called with each chunk of stdout as it arrives (with captureStdout). */
  readonly onStdout?: (chunk: string) => void;
  /**
   * stdout and stderr to /dev/null: for a command that leaves a process
   * behind holding them (an OCI runtime's create), whose result must not
   * wait for that process.
   */
  readonly detachedOutput?: boolean;
}

export interface RunResult {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Spawn to the 'exit' event, in milliseconds. */
  readonly wallMs: number;
  readonly timedOut: boolean;
  /** Set when the program could not be started at all. */
  readonly spawnError?: string;
}

export function run(cmd: string, args: readonly string[], opts: RunOptions): Promise<RunResult> {
  return new Promise((resolve) => {
    const t0 = process.hrtime.bigint();
    let wallMs = 0;
    let code: number | null = null;
    let signal: NodeJS.Signals | null = null;
    let timedOut = false;
    let stdout = '';
    let stderr = '';
    let settled = false;
    const child = spawn(cmd, args, {
      // stdin is /dev/null so that no run waits on the terminal.
      stdio: opts.detachedOutput ? 'ignore' : ['ignore', opts.captureStdout ? 'pipe' : 'ignore', 'pipe'],
      env: opts.env ?? process.env,
    });
    const finish = (spawnError?: string): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const base = { code, signal, stdout, stderr, wallMs, timedOut };
      resolve(spawnError === undefined ? base : { ...base, spawnError });
    };
    const timer = setTimeout(() => {
      timedOut = true;
      // Only the process we started, by its pid; tsvisor's own children die
      // with it (PR_SET_PDEATHSIG in its launcher).
      child.kill('SIGKILL');
      // If its pipes stay open (a grandchild holding them), do not wait on them.
      setTimeout(() => finish(), 2000).unref();
    }, opts.timeoutMs);
    child.stdout?.setEncoding('utf8').on('data', (d: string) => { stdout += d; opts.onStdout?.(d); });
    child.stderr?.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    child.on('error', (err) => finish(err.message));
    child.on('spawn', () => { if (child.pid !== undefined) opts.onSpawn?.(child.pid); });
    // Timing stops at 'exit' (the process is gone); the result is handed back
    // at 'close', once its output is fully read.
    child.on('exit', (c, s) => {
      wallMs = Number(process.hrtime.bigint() - t0) / 1e6;
      code = c;
      signal = s;
    });
    child.on('close', () => finish());
  });
}

/** Why a run failed, in one line, or null if it exited 0. */
export function failure(r: RunResult): string | null {
  if (r.spawnError !== undefined) return `cannot start: ${r.spawnError}`;
  if (r.timedOut) return 'timed out';
  if (r.code === 0) return null;
  const how = r.signal !== null ? `killed by ${r.signal}` : `exit status ${r.code}`;
  const line = telling(r.stderr);
  return line ? `${how}: ${line.slice(0, 160)}` : how;
}

/**
 * The stderr line that says what went wrong. A Node crash ends with a stack
 * and "Node.js v20...", so the last line says nothing: prefer the error
 * line itself ("Error: Cannot find module ..."), then a line of tsvisor's own,
 * then the last line.
 */
function telling(stderr: string): string | undefined {
  const lines = stderr.split('\n').map((l) => l.trim()).filter((l) => l.length > 0 && !/^Node\.js v\d/.test(l));
  return lines.find((l) => /^([A-Za-z]*Error|tsvisor:)/.test(l)) ?? lines.pop();
}

/** The numbers that follow `key` on lines of `text` ("ns_per_call 8.71"). */
export function numbersAfter(text: string, key: string): number[] {
  const out: number[] = [];
  for (const line of text.split('\n')) {
    const m = line.trim().match(new RegExp(`^${key}\\s+([0-9.]+)$`));
    if (m) out.push(Number(m[1]));
  }
  return out;
}
