// `tsvisor do --pids-limit N`: a pids cgroup of the sandbox's own caps its
// tasks, so a fork bomb inside stops at the limit (fork answers EAGAIN, as
// Linux does at any pids limit), the sentry keeps answering the sandbox's
// other processes, and nothing of the bomb outlives the sandbox on the host.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_ENV, descendantsOf, doArgs, makeWorkDir, processesWithEnv, removeDir, runCli, runSandboxed, sandboxArgs, waitFor,
  type RunResult,
} from './helpers/sandbox.js';
import { DEFAULT_PIDS_LIMIT } from '../sentry/kernel/cgroup.js';

const PIDS_CGROUPS = '/sys/fs/cgroup/pids/tsvisor';

let work = '';
beforeAll(() => {
  work = makeWorkDir('pids');
});
afterAll(() => removeDir(work));
// A failed test must not leave its sandbox running (tsvisor's death takes the sandbox with it).
const started: ChildProcess[] = [];
afterEach(() => {
  for (const c of started.splice(0)) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
});

function show(r: RunResult): string {
  return `status=${r.status} signal=${r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** The pids cgroup tsvisor made for a running sandbox: the one holding a process of it. */
function sandboxPidsCgroup(tsvisorPid: number): string | null {
  let names: string[];
  try {
    names = fs.readdirSync(PIDS_CGROUPS, { withFileTypes: true }).filter((d) => d.isDirectory()).map((d) => d.name);
  } catch {
    return null;
  }
  const ours = new Set(descendantsOf(tsvisorPid).map((p) => p.pid));
  for (const name of names) {
    const dir = path.join(PIDS_CGROUPS, name);
    try {
      const procs = fs.readFileSync(path.join(dir, 'cgroup.procs'), 'latin1').split('\n').filter(Boolean).map(Number);
      if (procs.some((p) => ours.has(p))) return dir;
    } catch {
      // removed meanwhile
    }
  }
  return null;
}

/**
 * Starts `tsvisor do` with a pipe on the program's stdin: the test holds the
 * program there (a host file made meanwhile is not a signal: the sandbox's
 * overlay may cache that the name was missing) until it has looked at the
 * running sandbox.
 */
function spawnHeld(argv: readonly string[], flags: readonly string[], env: Readonly<Record<string, string>> = BASE_ENV): ChildProcess {
  const child = spawn(process.execPath, sandboxArgs(argv, flags), { cwd: work, env: { ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
  started.push(child);
  return child;
}

// Every process of the bomb forks for ever; the first refusal is reported on
// a pipe (non-blocking: the bomb must never wait on its reader). The program
// itself waits for that report, then does a call the sentry must answer (an
// open) while the bomb still hammers fork, waits for the test to have looked
// at the cgroup (a line on stdin), and exits: the sandbox ends with it, and
// the kernel kills the whole pid namespace.
const BOMB = `
import os, sys
r, w = os.pipe()
os.set_blocking(w, False)
if os.fork() == 0:
    os.close(r)
    while True:
        try:
            os.fork()
        except BlockingIOError:
            try:
                os.write(w, b"x")
            except OSError:
                pass
        except OSError:
            pass  # the pid namespace is going away (ENOMEM), or the reader is gone
os.close(w)
os.read(r, 1)
print("fork failed with EAGAIN", flush=True)
with open("/etc/hostname") as f:
    f.read()
print("alive", flush=True)
sys.stdin.readline()
os._exit(0)
`;

describe('--pids-limit', () => {
  it('stops a fork bomb at the limit with EAGAIN; the sentry stays responsive; nothing is left on the host', async () => {
    const tag = `bomb-${process.pid}-${Date.now()}`;
    const env = { ...BASE_ENV, TSVISOR_TEST_TAG: tag };
    const child = spawnHeld(['python3', '-c', BOMB], ['--pids-limit', '64'], env);
    let stdout = '';
    let stderr = '';
    child.stdout!.on('data', (b: Buffer) => { stdout += b.toString(); });
    child.stderr!.on('data', (b: Buffer) => { stderr += b.toString(); });
    const exited = new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    const cg = await new Promise<string | null>((resolve) => {
      child.stdout!.on('data', () => {
        if (stdout.includes('alive\n')) resolve(sandboxPidsCgroup(child.pid!));
      });
      child.on('close', () => resolve(null));
    });
    // The limit is the kernel's: the sandbox's cgroup says 64, never held
    // more, and refused forks at it (its "max" event count).
    expect(cg, `the sandbox ran in a pids cgroup of its own\n${stdout}\n${stderr}`).not.toBeNull();
    expect(fs.readFileSync(path.join(cg!, 'pids.max'), 'latin1').trim()).toBe('64');
    expect(Number(fs.readFileSync(path.join(cg!, 'pids.peak'), 'latin1').trim())).toBeLessThanOrEqual(64);
    expect(fs.readFileSync(path.join(cg!, 'pids.events'), 'latin1')).toMatch(/^max [1-9][0-9]*$/m);
    child.stdin!.end('go\n');
    const code = await exited;
    expect(code, `${stdout}\n${stderr}`).toBe(0);
    expect(stdout).toBe('fork failed with EAGAIN\nalive\n');
    // Torn down: no process of the run is left, and its cgroup is gone.
    expect(await waitFor(() => processesWithEnv('TSVISOR_TEST_TAG', tag).length === 0, 10_000)).toBe(true);
    expect(fs.existsSync(cg!)).toBe(false);
  });

  it(`defaults to ${DEFAULT_PIDS_LIMIT}, and 'max' makes no pids cgroup at all`, async () => {
    for (const [flags, expected] of [[[], String(DEFAULT_PIDS_LIMIT)], [['--pids-limit', 'max'], null]] as const) {
      const child = spawnHeld(['sh', '-c', 'echo started; read line'], flags);
      const exited = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)));
      // Running once its program says so.
      await new Promise<void>((resolve) => child.stdout!.once('data', () => resolve()));
      const cg = sandboxPidsCgroup(child.pid!);
      if (expected === null) expect(cg).toBeNull();
      else expect(fs.readFileSync(path.join(cg!, 'pids.max'), 'latin1').trim()).toBe(expected);
      child.stdin!.end('go\n');
      expect(await exited).toBe(0);
      if (cg !== null) expect(fs.existsSync(cg)).toBe(false);
    }
  });

  it('removes a pids cgroup left behind by a tsvisor that was killed', async () => {
    // Named like a sandbox whose state folder is gone: the next run sweeps it.
    const stale = path.join(PIDS_CGROUPS, 'stale0test');
    fs.mkdirSync(stale, { recursive: true });
    const r = await runSandboxed(['true'], { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(fs.existsSync(stale)).toBe(false);
  });

  it.each([
    ['abc', 'not a whole number'],
    ['-1', 'not a whole number'],
    ['1.5', 'not a whole number'],
    ['3', 'below the minimum of 8'],
    ['99999999999', 'above the kernel\'s ceiling'],
  ])('--pids-limit %s is refused with a message', async (value, message) => {
    const r = await runCli(doArgs(['--pids-limit', value, '--', 'true']), { cwd: work });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--pids-limit: '${value}'`);
    expect(r.stderr).toContain(message);
  });

  it('--pids-limit without a value is refused', async () => {
    const r = await runCli(doArgs(['--pids-limit']), { cwd: work });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--pids-limit needs a value');
  });
});
