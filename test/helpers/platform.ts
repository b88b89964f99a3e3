// The one place that says which platform (DESIGN.md: `platform/`) the
// sandboxed side of a test runs on. vitest.config.ts runs every integration
// and differential file once per platform, as the projects "seccomp" and
// "ptrace", and tells each file its platform in TSVISOR_TEST_PLATFORM.
// sandbox.ts puts the matching `--platform` option into every `tsvisor do`
// it builds. Nothing here imports vitest: the config loads this file too.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The env var naming the whole test files a platform's project does not run yet (JSON: file -> reason). */
export const NOT_YET_ENV = 'TSVISOR_TEST_NOT_YET';
export const PLATFORMS = ['seccomp', 'ptrace'] as const;
export type Platform = (typeof PLATFORMS)[number];

/** The variable vitest.config.ts sets per project; unset means seccomp, the CLI's default. */
export const PLATFORM_ENV = 'TSVISOR_TEST_PLATFORM';
/** Set in a platform's project when that platform cannot run at all: why. */
export const UNAVAILABLE_ENV = 'TSVISOR_PLATFORM_UNAVAILABLE';

export function parsePlatform(value: string | undefined): Platform {
  if (value === undefined || value === '') return 'seccomp';
  const p = PLATFORMS.find((x) => x === value);
  // A typo must not quietly test the default platform twice.
  if (p === undefined) throw new Error(`${PLATFORM_ENV}=${value}: not one of ${PLATFORMS.join(', ')}`);
  return p;
}

/** The platform this test file's sandboxes run on. */
export const PLATFORM: Platform = parsePlatform(process.env[PLATFORM_ENV]);

/**
 * The `tsvisor do` options that select `platform`. seccomp is the CLI's
 * default, so it adds none: a run on the default platform tests the default
 * as a user gets it, and works with a CLI older than the option.
 */
export function platformFlags(platform: Platform = PLATFORM): string[] {
  return platform === 'seccomp' ? [] : ['--platform', platform];
}

const CLI = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'dist', 'bundle', 'main.cjs');

export type PlatformProbe = { readonly ok: true } | { readonly ok: false; readonly reason: string };

/**
 * Whether the built CLI has `platform`: `tsvisor do --platform P -- true`.
 * Only a usage error about the platform (exit 2, the CLI's code for a bad
 * command line) means "not there": any other failure means the platform is
 * there but broken, and its project must then run and fail, not hide behind
 * a skip.
 */
export function probePlatform(platform: Platform): PlatformProbe {
  // The default needs no option, so there is nothing the CLI could refuse.
  if (platformFlags(platform).length === 0) return { ok: true };
  const r = spawnSync(process.execPath, [CLI, 'do', ...platformFlags(platform), '--', 'true'], {
    encoding: 'utf8',
    stdio: ['ignore', 'ignore', 'pipe'],
    timeout: 60_000,
  });
  const firstLine = (r.stderr ?? '').split('\n').find((l) => l.trim() !== '')?.trim() ?? '';
  if (r.status === 2 && /platform/i.test(firstLine)) return { ok: false, reason: `\`tsvisor do --platform ${platform}\` says: ${firstLine}` };
  return { ok: true };
}
