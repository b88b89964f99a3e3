// CPython's regression tests for sockets and readiness (issue 7) end the
// same way under `tsvisor do` as natively, but for the differences listed
// here, each with its reason (see helpers/regrtest.ts).
import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectSameOutcomes } from './helpers/regrtest.js';
import { makeWorkDir, removeDir } from './helpers/sandbox.js';

/** Known differences: test id -> why the sandbox ends it otherwise. */
const KNOWN: Readonly<Record<string, string>> = {};

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-regrtest-net-');
});
afterAll(() => removeDir(work));

describe("CPython's socket regression tests", () => {
  it('end the same way under tsvisor as natively, but for the listed differences', async () => {
    await expectSameOutcomes({
      modules: [
        'test_socket', 'test_selectors', 'test_poll', 'test_select', 'test_epoll', 'test_socketserver',
        'test_asyncio.test_sock_lowlevel', 'test_asyncio.test_events',
      ],
      cwd: work,
      atLeast: 500,
      known: KNOWN,
    });
  }, 2_400_000);
});
