// Peak RSS of the processes around a sandboxed run. The sentry's (tsvisor's
// own node process) comes from rss-probe.ts at its exit; the gofer is a
// separate node process started by tsvisor, which the bench cannot preload,
// so it is polled from outside (VmHWM only grows, so the last value read is
// a lower bound of its peak, short by at most one poll interval's growth).
import fs from 'node:fs';

/** VmHWM of a live process in KiB, or null once it is gone. */
export function vmHwmKb(pid: number): number | null {
  try {
    const m = fs.readFileSync(`/proc/${pid}/status`, 'utf8').match(/^VmHWM:\s+(\d+) kB$/m);
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

function childrenOf(pid: number): number[] {
  const out: number[] = [];
  let tids: string[];
  try {
    tids = fs.readdirSync(`/proc/${pid}/task`);
  } catch {
    return out;
  }
  for (const tid of tids) {
    try {
      for (const c of fs.readFileSync(`/proc/${pid}/task/${tid}/children`, 'utf8').trim().split(/\s+/)) {
        if (c !== '') out.push(Number(c));
      }
    } catch {
      // The thread or process went away between the two reads.
    }
  }
  return out;
}

function cmdline(pid: number): string {
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

/**
 * Polls the descendants of `root` for processes whose command line contains
 * `marker`, and keeps the largest VmHWM seen. stop() returns it (KiB), or
 * null if no such process was ever seen.
 */
export function pollPeak(root: number, marker: string, intervalMs: number): { stop: () => number | null } {
  let peak: number | null = null;
  const tick = (): void => {
    const todo = [root];
    while (todo.length > 0) {
      const pid = todo.pop()!;
      for (const c of childrenOf(pid)) {
        todo.push(c);
        if (cmdline(c).includes(marker)) {
          const kb = vmHwmKb(c);
          if (kb !== null && (peak === null || kb > peak)) peak = kb;
        }
      }
    }
  };
  const timer = setInterval(tick, intervalMs);
  return {
    stop: () => {
      clearInterval(timer);
      return peak;
    },
  };
}
