// `tsvisor compat`: the compatibility report, generated from the syscall
// tables and the sentry's handlers: what runs natively, what the sentry
// carries out, what is refused by policy, and what is still ENOSYS.
import { compatCounts, compatReport } from '../syscall-tables/compat-report.js';
import { HANDLERS } from '../sentry/syscalls/dispatch.js';
import { UsageError } from './usage.js';

export const COMPAT_USAGE = `usage: tsvisor compat [--json]

  prints the syscall compatibility report (Markdown), or its counts as JSON`;

export function compatCommand(args: readonly string[]): number {
  const json = args.includes('--json');
  const unknown = args.filter((a) => a !== '--json');
  if (unknown.length > 0) throw new UsageError(`compat: unknown argument '${unknown[0]}'`);
  const implemented = new Set(Object.keys(HANDLERS));
  if (json) {
    const counts = compatCounts(implemented);
    // Maps have no JSON form of their own.
    const plain = JSON.stringify(counts, (_k, v: unknown) => (v instanceof Map ? Object.fromEntries(v) : v), 2);
    process.stdout.write(plain + '\n');
  }
  else process.stdout.write(compatReport(implemented));
  return 0;
}
