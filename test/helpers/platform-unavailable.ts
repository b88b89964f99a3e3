// The only test of a platform's project while that platform is not built into
// the CLI (vitest.config.ts probes it). It reports the platform as skipped,
// with the reason, so a green run still says plainly that half the matrix did
// not run. Not named *.test.ts: only that project includes it.
import { it } from 'vitest';
import { PLATFORM, UNAVAILABLE_ENV } from './platform.js';

const reason = process.env[UNAVAILABLE_ENV] ?? 'no reason given';

it(`${PLATFORM} platform not available: ${reason}`, (ctx) => {
  ctx.skip(reason);
});
