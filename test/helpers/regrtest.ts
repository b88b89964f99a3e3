// CPython's own regression tests (Debian's libpython3.11-testsuite, run with
// Debian's /usr/bin/python3.11), natively and under `tsvisor do`: every test
// must end the same way in both, except listed differences, each with its
// reason. A listed difference that no longer happens fails too, so the lists
// stay true.
import fs from 'node:fs';
import { expect } from 'vitest';
import { runNative, runSandboxed } from './sandbox.js';

const PYTHON = '/usr/bin/python3.11';

type Outcome = 'ok' | 'FAIL' | 'ERROR' | 'skipped' | 'expected failure' | 'unexpected success';

/** "name (test.module.Class.name) ... outcome" lines of `-m test -v`, by test id. */
function outcomes(output: string): Map<string, Outcome> {
  const found = new Map<string, Outcome>();
  for (const line of output.split('\n')) {
    const m = /^\S+ \(([\w.]+)\)(?:\n|.)* \.\.\. (ok|FAIL|ERROR|skipped|expected failure|unexpected success)\b/.exec(line);
    if (m) found.set(m[1]!, m[2] as Outcome);
  }
  return found;
}

export interface RegrtestRun {
  /** Test modules, e.g. test_os. */
  readonly modules: readonly string[];
  /** A work directory under /var/tmp (the sandbox sees it at the same path). */
  readonly cwd: string;
  /** The native run must report at least this many tests (it really ran). */
  readonly atLeast: number;
  /** test id -> why the sandbox ends it otherwise. */
  readonly known: Readonly<Record<string, string>>;
  /**
   * test id -> the race in the test itself (between its own threads) that
   * decides how it ends, natively too when the timing changes (each reason
   * says how to make it happen natively): it may end either way, in both runs.
   */
  readonly racy?: Readonly<Record<string, string>>;
}

/** Runs the modules both ways and asserts the outcomes match but for `known`. */
export async function expectSameOutcomes(run: RegrtestRun): Promise<void> {
  expect(fs.existsSync(`/usr/lib/python3.11/test/${run.modules[0]}.py`), 'libpython3.11-testsuite is installed (.ci/run does)').toBe(true);
  // The VSOCK tests hang in this VM, natively too.
  const argv = [PYTHON, '-m', 'test', '-v', '-i', '*VSOCK*', ...run.modules];
  const env = { PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', TZ: 'UTC' };
  const native = await runNative(argv, { cwd: run.cwd, env, timeoutMs: 600_000 });
  const sandboxed = await runSandboxed(argv, { cwd: run.cwd, env, timeoutMs: 900_000 });
  const n = outcomes(native.stdout + native.stderr);
  const s = outcomes(sandboxed.stdout + sandboxed.stderr);
  expect(n.size, 'the native run reported its tests').toBeGreaterThan(run.atLeast);

  const differences: string[] = [];
  for (const [id, outcome] of n) {
    const theirs = s.get(id) ?? 'missing';
    if (theirs !== outcome) differences.push(`${id}: native ${outcome}, sandboxed ${theirs}`);
  }
  for (const id of s.keys()) if (!n.has(id)) differences.push(`${id}: only in the sandbox`);
  const racy = run.racy ?? {};
  const unexplained = differences.filter((d) => !(d.split(':')[0]! in run.known) && !(d.split(':')[0]! in racy));
  const vanished = Object.keys(run.known).filter((id) => !differences.some((d) => d.startsWith(`${id}:`)));
  expect(unexplained, 'differences without a reason').toEqual([]);
  expect(vanished, 'listed differences that no longer happen: take them off the list').toEqual([]);
}
