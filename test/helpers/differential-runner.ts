// The differential runner shared by the syscall suites (test/fs-differential,
// test/proc-differential). Each C program in a suite's folder exercises one
// family of calls and their error cases and prints one deterministic line per
// check ("mkdir exists = -1 EEXIST"). It is compiled once per run, run
// natively in a fresh work directory, then under `tsvisor do` in another
// fresh work directory with the same (empty) layout, and the two outputs and
// exit statuses must be identical, line for line.
//
// Where the sandbox differs from Linux for a reason that cannot be fixed in
// the sentry's syscall handlers, the check is listed in the suite's known
// differences with the reason: those lines, and only those, may differ, and
// each one listed must still differ (a fixed difference fails the test until
// it is taken off the list, so the list stays true).
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELPERS_DIR, makeWorkDir, removeDir, runNative, runSandboxed, type RunResult } from './sandbox.js';
import { platformException, type ExceptionKind } from './platform-exception.js';
import type { Platform } from './platform.js';

/** program -> check label -> why the sandbox answers differently. */
export type KnownDifferences = Readonly<Record<string, Readonly<Record<string, string>>>>;

export interface DifferentialSuite {
  /** The describe() title. */
  readonly title: string;
  /** The folder under test/ that holds the programs (NAME.c each). */
  readonly folder: string;
  /** A short tag for work directory names. */
  readonly tag: string;
  /** The suite must hold at least this many programs (a guard against a wrong folder). */
  readonly minPrograms: number;
  readonly known: KnownDifferences;
  /** Programs one platform cannot pass as a whole, with the reason (see platform-exception.ts). */
  readonly platformExceptions?: Readonly<Record<string, { platform: Platform; kind: ExceptionKind; reason: string }>>;
  /** Extra gcc arguments after the source file (libraries). */
  readonly link?: readonly string[];
}

/** The check's label: the text before " = " or ": ". */
export function labelOf(line: string): string {
  const eq = line.indexOf(' = ');
  const colon = line.indexOf(': ');
  const cut = [eq, colon].filter((i) => i >= 0);
  return cut.length === 0 ? line : line.slice(0, Math.min(...cut));
}

/** The exit status a shell would report: the code, or 128 + the signal's number. */
export function exitStatus(r: RunResult): number | null {
  if (r.status !== null) return r.status;
  if (r.signal !== null) return 128 + (os.constants.signals[r.signal] ?? 0);
  return null;
}

/** Declares the suite's tests: one per program, comparing the native and the sandboxed run. */
export function differentialSuite(suite: DifferentialSuite): void {
  const sourceDir = path.join(HELPERS_DIR, '..', suite.folder);
  const programs = fs.readdirSync(sourceDir).filter((f) => f.endsWith('.c')).map((f) => f.slice(0, -2)).sort();
  let binDir = '';
  const workDirs: string[] = [];

  beforeAll(() => {
    // Under /var/tmp, which the sandbox sees at the same path (its /tmp is its own).
    binDir = makeWorkDir(`${suite.tag}-bin`);
    for (const name of programs) {
      execFileSync('gcc', [
        '-O1', '-Wall', '-Werror', '-Wno-unused-result', '-o', path.join(binDir, name), path.join(sourceDir, `${name}.c`),
        ...(suite.link ?? []),
      ], { stdio: ['ignore', 'ignore', 'pipe'] });
    }
  });

  afterAll(() => {
    removeDir(binDir);
    for (const d of workDirs) removeDir(d);
  });

  function freshDir(tag: string): string {
    const d = makeWorkDir(`${suite.tag}-${tag}`);
    workDirs.push(d);
    return d;
  }

  describe(suite.title, () => {
    it('has the programs', () => {
      expect(programs.length).toBeGreaterThanOrEqual(suite.minPrograms);
      for (const name of Object.keys(suite.known)) expect(programs).toContain(name);
    });

    for (const name of programs) {
      const exception = suite.platformExceptions?.[name];
      const define = exception ? platformException(exception.platform, exception.kind, exception.reason) : it;
      define(name, async () => {
        const bin = path.join(binDir, name);
        const native = await runNative([bin], { cwd: freshDir(`${name}-n`) });
        const sandboxed = await runSandboxed([bin], { cwd: freshDir(`${name}-s`) });

        // The program itself must work natively: every check printed, exit 0.
        expect(native.stderr, 'native stderr').toBe('');
        expect(exitStatus(native), 'native exit status').toBe(0);
        const n = native.stdout.split('\n');
        const s = sandboxed.stdout.split('\n');
        expect(n.length, 'native line count').toBeGreaterThan(10);

        expect.soft(exitStatus(sandboxed), `exit status (stderr: ${sandboxed.stderr})`).toBe(exitStatus(native));
        if (s.length !== n.length) {
          // Lines missing or extra: no line-by-line comparison makes sense.
          expect(sandboxed.stdout, 'stdout').toBe(native.stdout);
          return;
        }
        const known = suite.known[name] ?? {};
        const unexpected: string[] = [];
        const differed = new Set<string>();
        for (let i = 0; i < n.length; i++) {
          const nl = n[i]!;
          const sl = s[i]!;
          if (nl === sl) continue;
          const label = labelOf(nl);
          if (labelOf(sl) === label && known[label] !== undefined) differed.add(label);
          else unexpected.push(`  native:    ${nl}\n  sandboxed: ${sl}`);
        }
        expect.soft(unexpected.join('\n'), 'lines that differ, not listed as known').toBe('');
        const stale = Object.keys(known).filter((label) => !differed.has(label));
        expect.soft(stale, 'known differences that no longer differ (take them off the list)').toEqual([]);
      });
    }
  });
}
