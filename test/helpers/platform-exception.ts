// Marking a test that one platform cannot pass, with the reason, instead of
// skipping it silently (issue 5). The mark is in the test's title, so every
// reporter shows it, and test/helpers/platform-report.ts lists all of them at
// the end of `npm test`.
import { it, type TestFunction } from 'vitest';
import { PLATFORM, type Platform } from './platform.js';

/**
 * How the excepted platform treats the test:
 * - 'fails': it runs and must fail (vitest's it.fails). Once it passes, the
 *   run fails: the exception is stale and must be taken off.
 * - 'skip': it does not run, for a reason that running it cannot show (it
 *   would hang the run, or costs CPU time the run cannot spare).
 */
export type ExceptionKind = 'fails' | 'skip';

const KIND_WORDS: Readonly<Record<ExceptionKind, string>> = { fails: 'expected to fail', skip: 'not run' };

/** The title suffix platform-report.ts looks for: "[ptrace exception, not run: why]". */
export const EXCEPTION_MARK = /\[(\w+) exception, (expected to fail|not run): (.+)\]$/;

/** The title suffix of the placeholder test of a platform that cannot run at all. */
export const UNAVAILABLE_MARK = /^(\w+) platform not available: (.+)$/;

export type TestDefiner = (name: string, fn: TestFunction, timeout?: number) => void;

/**
 * `it` on every platform but `platform`; on `platform`, the same test marked
 * with `reason`. Use it where `it` would be: the reason is required, and it
 * should say why that platform cannot pass, not only that it does not.
 */
export function platformException(platform: Platform, kind: ExceptionKind, reason: string): TestDefiner {
  if (reason.trim() === '') throw new Error('platformException: a reason is required');
  if (platform !== PLATFORM) return (name, fn, timeout) => it(name, fn, timeout);
  const mark = `[${platform} exception, ${KIND_WORDS[kind]}: ${reason}]`;
  if (kind === 'fails') return (name, fn, timeout) => it.fails(`${name} ${mark}`, fn, timeout);
  return (name, fn, timeout) => it.skip(`${name} ${mark}`, fn, timeout);
}
