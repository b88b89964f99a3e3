// Summaries of repeated measurements. The machine is noisy (2 shared vCPUs),
// so every figure is a median; min shows what the machine can do when left
// alone, max how bad the noise got.

export interface Summary {
  readonly n: number;
  readonly min: number;
  readonly median: number;
  readonly max: number;
}

export function summarize(samples: readonly number[]): Summary {
  if (samples.length === 0) throw new Error('no samples');
  const s = [...samples].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  // Even counts take the mean of the two middle values, the usual median.
  const median = s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
  return { n: s.length, min: s[0]!, median, max: s[s.length - 1]! };
}

/**
 * A measurement either produced samples or failed with a reason to print.
 * `warning` says some runs failed and the figure comes from the others: a
 * flaky sandbox should show up, but not hide the runs that did work.
 */
export type Outcome =
  | { readonly ok: true; readonly summary: Summary; readonly note?: string; readonly warning?: string }
  | { readonly ok: false; readonly reason: string };

export function measured(samples: readonly number[], extra: { note?: string; warning?: string } = {}): Outcome {
  return { ok: true, summary: summarize(samples), ...extra };
}

export function failed(reason: string): Outcome {
  return { ok: false, reason };
}

/**
 * Samples of one configuration over several runs. A failed run adds no
 * samples (its figures cannot be trusted) but is counted and shown; only if
 * every run failed is the figure n/a.
 */
export class Collector {
  readonly values: number[] = [];
  private readonly failures: string[] = [];
  readonly notes: string[] = [];

  fail(why: string): void { this.failures.push(why); }

  outcome(): Outcome {
    if (this.values.length === 0) return failed(this.failures[0] ?? 'no samples');
    const note = [...new Set(this.notes)].join('; ');
    const warning = this.failures.length === 0 ? undefined
      : `${this.failures.length} run(s) failed and are left out: ${[...new Set(this.failures)].join('; ')}`;
    return measured(this.values, {
      ...(note === '' ? {} : { note }),
      ...(warning === undefined ? {} : { warning }),
    });
  }
}
