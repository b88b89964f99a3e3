// CPython's regression tests for the filesystem modules end the same way
// under `tsvisor do` as natively, but for the differences listed here, each
// with its reason (see helpers/regrtest.ts).
import { afterAll, beforeAll, describe, it } from 'vitest';
import { expectSameOutcomes } from './helpers/regrtest.js';
import { makeWorkDir, removeDir } from './helpers/sandbox.js';

const NO_TRUSTED_XATTRS =
  'CPython skips its xattr tests unless trusted.* attributes can be set, which needs CAP_SYS_ADMIN in the host\'s user namespace: natively the tests run as real root; a sandbox\'s root lacks it, as in any container (the gofer acts with the task\'s file capabilities only)';

/** Known differences: test id -> why the sandbox ends it otherwise. */
const KNOWN: Readonly<Record<string, string>> = {
  'test.test_shutil.TestCopy.test_copyxattr': NO_TRUSTED_XATTRS,
  'test.test_shutil.TestCopy.test_copyxattr_symlinks': NO_TRUSTED_XATTRS,
  'test.test_shutil.TestCopy.test_copy2_xattr': NO_TRUSTED_XATTRS,
  'test.test_shutil.TestMisc.test_disk_usage': 'statfs of the overlay root reports its tmpfs upper layer, nearly empty (used = 0)',
};

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-regrtest-');
});
afterAll(() => removeDir(work));

describe("CPython's filesystem regression tests", () => {
  it('end the same way under tsvisor as natively, but for the listed differences', async () => {
    await expectSameOutcomes({
      modules: [
        'test_os', 'test_shutil', 'test_pathlib', 'test_tempfile', 'test_glob',
        'test_stat', 'test_fileio', 'test_posix', 'test_fcntl', 'test_mmap',
      ],
      cwd: work,
      atLeast: 500,
      known: KNOWN,
    });
  }, 1_600_000);
});
