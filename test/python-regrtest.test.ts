// CPython's own regression tests for the filesystem modules (Debian's
// libpython3.11-testsuite, run with Debian's /usr/bin/python3.11), natively
// and under `tsvisor do`: every test must end the same way in both, except
// the differences listed below, each with its reason. A listed difference
// that no longer happens fails too, so the list stays true.
import fs from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { makeWorkDir, removeDir, runNative, runSandboxed } from './helpers/sandbox.js';

const PYTHON = '/usr/bin/python3.11';
const MODULES = [
  'test_os', 'test_shutil', 'test_pathlib', 'test_tempfile', 'test_glob',
  'test_stat', 'test_fileio', 'test_posix', 'test_fcntl', 'test_mmap',
];
const NO_TRUSTED_XATTRS =
  'CPython skips its xattr tests unless trusted.* attributes can be set, which needs CAP_SYS_ADMIN in the host\'s user namespace: natively the tests run as real root; a sandbox\'s root lacks it, as in any container (the gofer acts with the task\'s file capabilities only)';

/** Known differences: test id -> why the sandbox ends it otherwise. */
const KNOWN: Readonly<Record<string, string>> = {
  'test.test_shutil.TestCopy.test_copyxattr': NO_TRUSTED_XATTRS,
  'test.test_shutil.TestCopy.test_copyxattr_symlinks': NO_TRUSTED_XATTRS,
  'test.test_shutil.TestCopy.test_copy2_xattr': NO_TRUSTED_XATTRS,
  'test.test_shutil.TestMisc.test_disk_usage': 'statfs of the overlay root reports its tmpfs upper layer, nearly empty (used = 0)',
  'test.test_posix.PosixTester.test_pidfd_open': 'pidfd_open is refused by policy (EPERM, so the test skips) until issue 4 brings pidfds',
};

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

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-regrtest-');
});
afterAll(() => removeDir(work));

describe("CPython's filesystem regression tests", () => {
  it('end the same way under tsvisor as natively, but for the listed differences', async () => {
    expect(fs.existsSync('/usr/lib/python3.11/test/test_os.py'), 'libpython3.11-testsuite is installed (.ci/run does)').toBe(true);
    const argv = [PYTHON, '-m', 'test', '-v', '-i', '*VSOCK*', ...MODULES];
    const env = { PATH: '/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', TZ: 'UTC' };
    const native = await runNative(argv, { cwd: work, env, timeoutMs: 300_000 });
    const sandboxed = await runSandboxed(argv, { cwd: work, env, timeoutMs: 600_000 });
    const n = outcomes(native.stdout + native.stderr);
    const s = outcomes(sandboxed.stdout + sandboxed.stderr);
    expect(n.size, 'the native run reported its tests').toBeGreaterThan(500);

    const differences: string[] = [];
    for (const [id, outcome] of n) {
      const theirs = s.get(id) ?? 'missing';
      if (theirs !== outcome) differences.push(`${id}: native ${outcome}, sandboxed ${theirs}`);
    }
    for (const id of s.keys()) if (!n.has(id)) differences.push(`${id}: only in the sandbox`);
    const unexplained = differences.filter((d) => !(d.split(':')[0]! in KNOWN));
    const vanished = Object.keys(KNOWN).filter((id) => !differences.some((d) => d.startsWith(`${id}:`)));
    expect(unexplained, 'differences without a reason').toEqual([]);
    expect(vanished, 'listed differences that no longer happen: take them off the list').toEqual([]);
  }, 900_000);
});
