// CPython's regression tests for processes, signals, threads, terminals and
// time end the same way under `tsvisor do` as natively (see helpers/regrtest.ts).
import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectSameOutcomes } from './helpers/regrtest.js';
import { makeWorkDir, removeDir } from './helpers/sandbox.js';

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-regrtest-proc-');
});
afterAll(() => removeDir(work));

describe("CPython's process, signal, thread, pty and time regression tests", () => {
  it('end the same way under tsvisor as natively, but for the listed differences', async () => {
    await expectSameOutcomes({
      modules: ['test_subprocess', 'test_signal', 'test_threading', 'test_pty', 'test_wait4', 'test_time'],
      cwd: work,
      atLeast: 500,
      known: {
        'test.test_time.TimeTestCase.test_monotonic_settime':
          'it sets CLOCK_REALTIME, which needs CAP_SYS_TIME in the host\'s user namespace: natively root has it; a sandbox never does, as in any container (EPERM, so the test skips)',
      },
    });
  }, 1_600_000);
});
