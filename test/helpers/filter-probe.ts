// Runs syscalls under a seccomp filter on the real kernel: filter-probe.c
// (compiled here with gcc) installs the filter from a file, performs the calls
// given on its command line with syscall(2), and writes one line per call.
// Both the sentry's filter tests and the gofer's jail tests use it.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { expect } from 'vitest';

const HERE = path.dirname(fileURLToPath(import.meta.url));

export interface CallResult {
  readonly nr: number;
  readonly ret: number;
  readonly errno: number;
}

export interface ProbeRun {
  /** The probe's own sanity line: it ran isolated from the test runner. */
  readonly isolated: boolean;
  /** Every call ran (the filter did not kill the probe). */
  readonly completed: boolean;
  readonly results: readonly CallResult[];
  readonly signal: NodeJS.Signals | null;
  readonly status: number | null;
}

export class FilterProbe {
  private readonly binary: string;
  private runs = 0;

  /** Compiles the probe into workDir, where its filters and outputs go too. */
  constructor(private readonly workDir: string) {
    this.binary = path.join(workDir, 'filter-probe');
    execFileSync('gcc', ['-O2', '-Wall', '-Werror', '-o', this.binary, path.join(HERE, 'filter-probe.c')]);
  }

  /** Runs the calls under the filter (null: unfiltered); see filter-probe.c for the call syntax. */
  run(filter: Buffer | null, calls: readonly string[]): ProbeRun {
    const id = this.runs++;
    const outputPath = path.join(this.workDir, `probe-out-${id}`);
    let filterArg = '-';
    if (filter) {
      filterArg = path.join(this.workDir, `filter-${id}.bpf`);
      fs.writeFileSync(filterArg, filter);
    }
    const child = spawnSync(this.binary, [outputPath, filterArg, ...calls], { stdio: ['ignore', 'pipe', 'pipe'], timeout: 30_000 });
    if (child.status === 2) throw new Error(`filter-probe failed: ${child.stderr.toString()}`);
    const lines = fs.readFileSync(outputPath, 'utf8').replace(/\0+$/, '').split('\n').filter((line) => line !== '');
    const results = lines.filter((line) => line.startsWith('call ')).map((line): CallResult => {
      const [, nr, ret, errno] = line.split(' ');
      return { nr: Number(nr), ret: Number(ret), errno: Number(errno) };
    });
    return {
      isolated: lines[0] === 'isolated 1',
      completed: lines[lines.length - 1] === 'end',
      results,
      signal: child.signal,
      status: child.status,
    };
  }
}

/** The errno each call ended with (0: success), after checking every call ran. */
export function errnos(run: ProbeRun, expectedCalls: number): number[] {
  expect(run.completed, 'the probe ran every call').toBe(true);
  expect(run.results).toHaveLength(expectedCalls);
  return run.results.map((result) => result.errno);
}

/** One call for the probe's command line: the number, then its arguments. */
export function call(nr: number, ...args: (number | bigint | string)[]): string {
  return [nr, ...args].map(String).join(',');
}
