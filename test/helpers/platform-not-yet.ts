// Whole test files a platform does not run yet, each with its reason
// (vitest.config.ts lists them): one skipped test per file, titled with the
// exception mark, so the run says what did not run and why, and
// platform-report.ts lists them with the rest. Not named *.test.ts: only the
// platform projects include it.
import { it } from 'vitest';
import { NOT_YET_ENV, PLATFORM } from './platform.js';

const notYet = JSON.parse(process.env[NOT_YET_ENV] ?? '{}') as Record<string, string>;

for (const [file, reason] of Object.entries(notYet)) {
  it.skip(`${file} [${PLATFORM} exception, not run: ${reason}]`, () => {});
}
