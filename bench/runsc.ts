// Finding a runsc command line that works here, for the start-to-exit peer.
//
// Tried in order, first exit 0 wins. On this machine (runsc 0.0~20221219 from
// Debian, as root, Linux 6.18) the first one works as is:
//   runsc --network=none --platform=ptrace do /bin/true
// The second is the documented fallback for hosts where runsc trips over
// rootless detection or the cgroup setup. Flags that weaken runsc's own
// sandbox (--TESTONLY-*) are deliberately not tried: the peer must be real.
import { failure, run } from './proc.js';

export const RUNSC = '/usr/bin/runsc';

const CANDIDATES: readonly (readonly string[])[] = [
  ['--network=none', '--platform=ptrace'],
  ['--network=none', '--platform=ptrace', '--rootless=false', '--ignore-cgroups'],
];

export type RunscProbe =
  | { readonly ok: true; readonly flags: readonly string[] }
  | { readonly ok: false; readonly reason: string };

export async function findRunscFlags(): Promise<RunscProbe> {
  const reasons: string[] = [];
  for (const flags of CANDIDATES) {
    const r = await run(RUNSC, [...flags, 'do', '/bin/true'], { timeoutMs: 30_000 });
    const why = failure(r);
    if (why === null) return { ok: true, flags };
    reasons.push(`${flags.join(' ')}: ${why}`);
    // Not installed: no other flags will help.
    if (r.spawnError !== undefined) break;
  }
  return { ok: false, reason: reasons.join('; ') };
}
