// Builds the bench's C programs with gcc -O2 into a fresh directory, once per
// bench run, so the figures always come from the sources next to this file.
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const PROGRAMS = ['getppid_loop', 'open_read_close', 'notify_floor', 'ptrace_floor'] as const;
export type Program = (typeof PROGRAMS)[number];

export interface Built {
  readonly dir: string;
  readonly bin: Record<Program, string>;
}

/**
 * The directory must be visible inside the sandbox at the same path: the
 * sandbox sees the host's root read-only, but its /tmp is a fresh tmpfs, so
 * binaries under the host's /tmp would not exist in there. /var/tmp is on
 * the host root; the build dir next to the compiled bench is the fallback.
 */
function makeDir(fallback: string): string {
  try {
    return fs.mkdtempSync('/var/tmp/tsvisor-bench-');
  } catch {
    fs.mkdirSync(fallback, { recursive: true });
    return fs.mkdtempSync(path.join(fallback, 'bin-'));
  }
}

export function compileAll(srcDir: string, fallbackDir: string): Built {
  const dir = makeDir(fallbackDir);
  const bin = {} as Record<Program, string>;
  for (const p of PROGRAMS) {
    const out = path.join(dir, p);
    try {
      execFileSync('gcc', ['-O2', '-Wall', '-o', out, path.join(srcDir, `${p}.c`)], { stdio: ['ignore', 'ignore', 'pipe'] });
    } catch (err) {
      fs.rmSync(dir, { recursive: true, force: true });
      const stderr = (err as { stderr?: Buffer }).stderr?.toString().trim();
      throw new Error(`gcc ${p}.c failed${stderr ? `:\n${stderr}` : ''}`);
    }
    bin[p] = out;
  }
  return { dir, bin };
}
