// The fixed-width summary table and the per-measurement details under it.
import type { Outcome } from './stats.js';

/** A cell is a measurement, or '-' where the figure has no such peer by design. */
export type Cell = Outcome | '-';

export interface Row {
  readonly label: string;
  readonly native: Cell;
  readonly floor: Cell;
  readonly runsc: Cell;
  readonly tsvisor: Cell;
}

const COLS = ['native', 'C floor', 'runsc', 'tsvisor', 'tsv/native', 'tsv/floor', 'tsv/runsc'] as const;
const LABEL_WIDTH = 40;
const COL_WIDTH = 11;

/** Three significant-ish figures whatever the magnitude (0.29, 8.71, 152, 1203). */
export function fmtValue(v: number): string {
  if (v >= 100) return v.toFixed(0);
  if (v >= 10) return v.toFixed(1);
  return v.toFixed(2);
}

function fmtRatio(r: number): string {
  if (r >= 10) return `${r.toFixed(0)}x`;
  return `${r.toFixed(2)}x`;
}

function median(c: Cell): number | null {
  return c !== '-' && c.ok ? c.summary.median : null;
}

function valueCell(c: Cell): string {
  if (c === '-') return '-';
  if (!c.ok) return 'n/a';
  return fmtValue(c.summary.median) + (c.warning !== undefined ? '*' : '');
}

function ratioCell(num: Cell, den: Cell): string {
  if (num === '-' || den === '-') return '-';
  const a = median(num);
  const b = median(den);
  return a === null || b === null || b === 0 ? 'n/a' : fmtRatio(a / b);
}

export function renderTable(rows: readonly Row[]): string {
  const line = (label: string, cells: readonly string[]): string =>
    label.padEnd(LABEL_WIDTH) + cells.map((c) => c.padStart(COL_WIDTH)).join('');
  const out = [line('figure (medians)', COLS)];
  for (const r of rows) {
    out.push(line(r.label, [
      valueCell(r.native), valueCell(r.floor), valueCell(r.runsc), valueCell(r.tsvisor),
      ratioCell(r.tsvisor, r.native), ratioCell(r.tsvisor, r.floor), ratioCell(r.tsvisor, r.runsc),
    ]));
  }
  return out.join('\n');
}

/** The detail lines of one figure: a line per measured cell, named. */
function detailLines(label: string, cells: readonly (readonly [string, Cell])[]): string[] {
  const out = [label];
  const w = Math.max(8, ...cells.map(([name]) => name.length));
  for (const [name, c] of cells) {
    if (c === '-') continue;
    if (!c.ok) {
      out.push(`  ${name.padEnd(w)} unavailable (${c.reason})`);
      continue;
    }
    const s = c.summary;
    const nums = `n=${String(s.n).padEnd(3)} min ${fmtValue(s.min).padStart(7)}  median ${fmtValue(s.median).padStart(7)}  max ${fmtValue(s.max).padStart(7)}`;
    out.push(`  ${name.padEnd(w)} ${nums}${c.note !== undefined ? `  (${c.note})` : ''}`);
    if (c.warning !== undefined) out.push(`  ${''.padEnd(w)} * ${c.warning}`);
  }
  return out;
}

/** The details of a figure whose peers are not the table's columns (the OCI run's runc and crun). */
export function renderNamedDetails(label: string, cells: readonly (readonly [string, Cell])[]): string {
  return detailLines(label, cells).join('\n');
}

export function renderDetails(rows: readonly Row[]): string {
  return rows.flatMap((r) => detailLines(r.label, [['native', r.native], ['C floor', r.floor], ['runsc', r.runsc], ['tsvisor', r.tsvisor]])).join('\n');
}

/**
 * One way of trapping a syscall, or a sandbox on it, in the round-trip
 * table. `floor` is the C floor of the same mechanism (itself for a floor,
 * '-' for native), so each sandbox is set against what its own trap costs.
 */
export interface MechanismRow {
  readonly label: string;
  readonly value: Outcome;
  readonly floor: Cell;
  /** Shown instead of 'n/a' when the figure could not be measured by design of this build. */
  readonly absent?: string;
}

const MECH_COLS = ['µs/call', 'x native', 'x floor'] as const;
const MECH_LABEL_WIDTH = 52;

/** The trapped-syscall round trip by mechanism: every row against native and against its own floor. */
export function renderMechanisms(native: Outcome, rows: readonly MechanismRow[]): string {
  const line = (label: string, cells: readonly string[]): string =>
    label.padEnd(MECH_LABEL_WIDTH) + cells.map((c) => c.padStart(COL_WIDTH)).join('');
  const out = [line('getppid round trip by mechanism (medians)', MECH_COLS)];
  out.push(line('native (no trap)', [valueCell(native), '1.00x', '-']));
  for (const r of rows) {
    if (r.absent !== undefined && !r.value.ok) {
      // Longer than a column: it stands in for the whole row.
      out.push(`${r.label.padEnd(MECH_LABEL_WIDTH)}  ${r.absent}`);
      continue;
    }
    out.push(line(r.label, [valueCell(r.value), ratioCell(r.value, native), ratioCell(r.value, r.floor)]));
  }
  return out.join('\n');
}

export function renderMechanismDetails(native: Outcome, rows: readonly MechanismRow[]): string {
  return detailLines('getppid round trip by mechanism (µs/call)', [['native', native], ...rows.map((r) => [r.label, r.value] as const)]).join('\n');
}

/** "a / b = 0.91x", or why there is no such ratio. */
export function renderRatio(what: string, num: Outcome, den: Outcome): string {
  return `${what}: ${ratioCell(num, den)}`;
}
