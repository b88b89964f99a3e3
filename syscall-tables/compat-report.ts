// The compatibility report: for every syscall, what the sandbox does with it. The
// sentry passes the names it has handlers for; an emulated syscall without one is
// answered ENOSYS (fail closed), which this report makes visible.
import { SYSCALL_FAMILIES, SYSCALLS, type Disposition, type SyscallEntry, type SyscallFamily } from './index.js';

/** What a program sees when it makes the call. */
export type CompatStatus = 'native' | 'implemented' | 'missing' | 'denied';

export interface CompatTally {
  readonly total: number;
  /** passthrough: run by the host kernel. */
  readonly native: number;
  /** emulated with a sentry handler. */
  readonly implemented: number;
  /** emulated without a handler: ENOSYS. */
  readonly missing: number;
  /** refused by policy in the filter. */
  readonly denied: number;
}

export interface CompatCounts extends CompatTally {
  readonly byFamily: ReadonlyMap<SyscallFamily, CompatTally>;
  /** Handler names that match no emulated syscall: dead code, or a disposition mistake. */
  readonly strayHandlers: readonly string[];
}

export function compatStatus(entry: SyscallEntry, implementedEmulated: ReadonlySet<string>): CompatStatus {
  switch (entry.disposition) {
    case 'passthrough':
      return 'native';
    case 'denied':
      return 'denied';
    case 'emulated':
      return implementedEmulated.has(entry.name) ? 'implemented' : 'missing';
  }
}

interface MutableTally {
  total: number;
  native: number;
  implemented: number;
  missing: number;
  denied: number;
}

function emptyTally(): MutableTally {
  return { total: 0, native: 0, implemented: 0, missing: 0, denied: 0 };
}

export function compatCounts(implementedEmulated: ReadonlySet<string>): CompatCounts {
  const overall = emptyTally();
  const byFamily = new Map<SyscallFamily, MutableTally>();
  for (const entry of SYSCALLS) {
    const status = compatStatus(entry, implementedEmulated);
    let family = byFamily.get(entry.family);
    if (!family) {
      family = emptyTally();
      byFamily.set(entry.family, family);
    }
    for (const tally of [overall, family]) {
      tally.total++;
      tally[status]++;
    }
  }
  const emulatedNames = new Set(SYSCALLS.filter((entry) => entry.disposition === 'emulated').map((entry) => entry.name));
  const strayHandlers = [...implementedEmulated].filter((name) => !emulatedNames.has(name)).sort();
  // Families in their declared order, so the report reads the same every time.
  const ordered = new Map<SyscallFamily, CompatTally>();
  for (const family of SYSCALL_FAMILIES) {
    const tally = byFamily.get(family);
    if (tally) ordered.set(family, tally);
  }
  return { ...overall, byFamily: ordered, strayHandlers };
}

const STATUS_TEXT: Readonly<Record<CompatStatus, string>> = {
  native: 'runs natively',
  implemented: 'implemented by the sentry',
  missing: '**ENOSYS**: no handler yet',
  denied: 'refused by policy',
};

const ERRNO_NAMES: Readonly<Record<number, string>> = { 1: 'EPERM', 13: 'EACCES', 22: 'EINVAL', 38: 'ENOSYS', 95: 'EOPNOTSUPP' };

function errnoName(errno: number): string {
  return ERRNO_NAMES[errno] ?? `errno ${errno}`;
}

function dispositionText(entry: SyscallEntry): string {
  const disposition: Disposition = entry.disposition;
  if (disposition === 'denied') return `denied (${errnoName(entry.deniedErrno ?? 0)})`;
  if (disposition === 'passthrough' && entry.argDeny && entry.argDeny.length > 0) {
    const rules = entry.argDeny.map((rule) => {
      const argName = entry.args[rule.arg]?.name ?? `arg${rule.arg}`;
      return `${argName}=0x${rule.value.toString(16)}: ${errnoName(rule.errno)}`;
    });
    return `passthrough, except ${rules.join(', ')}`;
  }
  return disposition;
}

function percent(part: number, whole: number): string {
  return whole === 0 ? '0%' : `${((100 * part) / whole).toFixed(1)}%`;
}

/** A Markdown report: totals, a per-family summary, then every syscall. */
export function compatReport(implementedEmulated: ReadonlySet<string>): string {
  const counts = compatCounts(implementedEmulated);
  const handled = counts.native + counts.implemented;
  const lines: string[] = [
    '# tsvisor syscall compatibility (x86_64)',
    '',
    `**${handled} of ${counts.total} syscalls handled** (${percent(handled, counts.total)}): ` +
      `${counts.native} run natively (passthrough), ${counts.implemented} implemented by the sentry (emulated).`,
    '',
    `- ${counts.denied} refused by policy (denied in the seccomp filter)`,
    `- ${counts.missing} emulated but without a handler (answered ENOSYS)`,
    '',
    '| family | syscalls | native | implemented | missing (ENOSYS) | denied |',
    '|---|---:|---:|---:|---:|---:|',
  ];
  for (const [family, tally] of counts.byFamily) {
    lines.push(`| ${family} | ${tally.total} | ${tally.native} | ${tally.implemented} | ${tally.missing} | ${tally.denied} |`);
  }
  lines.push(
    `| **total** | **${counts.total}** | **${counts.native}** | **${counts.implemented}** | **${counts.missing}** | **${counts.denied}** |`,
    '',
  );
  if (counts.strayHandlers.length > 0) {
    lines.push(
      '## Handlers for syscalls that are not emulated',
      '',
      'Outside strict mode the filter never traps these, so their handlers run only in strict mode (or never, for a name ' +
        'the table does not know): ' +
        counts.strayHandlers.map((name) => `\`${name}\``).join(', '),
      '',
    );
  }
  for (const family of counts.byFamily.keys()) {
    lines.push(`## ${family}`, '', '| nr | syscall | disposition | status |', '|---:|---|---|---|');
    for (const entry of SYSCALLS) {
      if (entry.family !== family) continue;
      const status = STATUS_TEXT[compatStatus(entry, implementedEmulated)];
      lines.push(`| ${entry.nr} | \`${entry.name}\` | ${dispositionText(entry)} | ${status} |`);
    }
    lines.push('');
  }
  return lines.join('\n');
}
