// stress-ng's process and signal stressors run to their end in the sandbox
// (exit 0, no stressor failing), leave no process behind on the host, and
// the sentry keeps answering the sandbox's other processes meanwhile. Each
// run is short (5 s of stress): the point is correctness under load, not
// throughput.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BASE_ENV, makeWorkDir, processesWithEnv, removeDir, runSandboxed, waitFor, type RunResult } from './helpers/sandbox.js';

let work = '';
beforeAll(() => {
  work = makeWorkDir('stress');
});
afterAll(() => removeDir(work));

function show(r: RunResult): string {
  return `status=${r.status} signal=${r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/**
 * Runs stress-ng in the background of a sandboxed shell, and in the
 * foreground a few calls the sentry must answer (opens, an exec) while it
 * works; then waits for stress-ng and prints its status. stress-ng refuses
 * some stressors to root (exec, spawn), so it runs as nobody (setpriv, in
 * the sandbox's user namespace), with its temporary files in the sandbox's /tmp.
 */
async function stress(stressors: readonly string[]): Promise<RunResult> {
  const tag = `stress-${process.pid}-${Date.now()}`;
  const cmd = ['setpriv', '--reuid', '65534', '--regid', '65534', '--clear-groups',
    'stress-ng', ...stressors, '--timeout', '5s', '--temp-path', '/tmp'].join(' ');
  const script = [
    `${cmd} &`,
    'sleep 1',
    'for i in 1 2 3; do cat /etc/hostname > /dev/null || exit 10; done',
    'echo alive',
    'wait $!',
    'echo stress-ng=$?',
  ].join('\n');
  const r = await runSandboxed(['sh', '-c', script], { cwd: work, env: { ...BASE_ENV, TSVISOR_TEST_TAG: tag } });
  // Nothing of the run is left on the host once tsvisor has exited.
  expect(await waitFor(() => processesWithEnv('TSVISOR_TEST_TAG', tag).length === 0, 10_000)).toBe(true);
  return r;
}

function expectClean(r: RunResult): void {
  expect(r.status, show(r)).toBe(0);
  expect(r.stdout, show(r)).toBe('alive\nstress-ng=0\n');
  expect(r.stderr, show(r)).toContain('successful run completed');
  expect(r.stderr, show(r)).not.toMatch(/ (fail|error): /);
}

describe('stress-ng', () => {
  it('fork, clone, exec, vfork, wait, zombie and pidfd stressors', async () => {
    // The zombie stressor keeps up to --zombie-max zombies (8192 by default),
    // each a task of the sandbox's pids cgroup (4096 by default): with forks
    // at native speed it fills it, and the shell's own forks below then fail
    // with EAGAIN, as Linux answers at that limit. 1024 leaves room for them.
    expectClean(await stress(['--fork', '2', '--clone', '2', '--exec', '2', '--vfork', '1', '--wait', '1', '--zombie', '1', '--zombie-max', '1024', '--pidfd', '1']));
  });

  it('signal stressors', async () => {
    expectClean(await stress([
      '--sigchld', '1', '--sigpipe', '1', '--sigq', '1', '--sigsuspend', '1', '--sigfpe', '1', '--sigsegv', '1',
      '--kill', '1', '--sigrt', '1', '--sigabrt', '1', '--sigfd', '1', '--sigio', '1', '--signal', '1', '--signest', '1',
      '--sigpending', '1', '--sigtrap', '1',
    ]));
  });
});
