// Host processes of a container, read from the host's /proc: whether a
// recorded pid is still the same process, and which processes live in a
// sandbox's pid namespace. Plain file reads, so the commands that use them
// (state, kill, ps, delete) load nothing heavy.
import fs from 'node:fs';

/**
 * Field 22 of /proc/PID/stat (start time in clock ticks since boot), or
 * undefined when there is no such process. The command name (field 2) may
 * hold spaces and parentheses: the fields are counted after its last ')'.
 */
export function startTime(pid: number): number | undefined {
  let text: string;
  try {
    text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  } catch {
    return undefined;
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state): field 22 is rest[19].
  const v = Number(rest[19]);
  return Number.isFinite(v) ? v : undefined;
}

/** Whether pid is alive and still the process that started at `start` (a zombie counts as gone). */
export function isSameProcess(pid: number, start: number | undefined): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  const now = startTime(pid);
  if (now === undefined || (start !== undefined && now !== start)) return false;
  return processState(pid) !== 'Z';
}

function processState(pid: number): string | undefined {
  try {
    const text = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
    return text.slice(text.lastIndexOf(')') + 2, text.lastIndexOf(')') + 3);
  } catch {
    return undefined;
  }
}

/** The inode of a process's pid namespace, or undefined when it is gone. */
export function pidNamespace(pid: number): number | undefined {
  try {
    return fs.statSync(`/proc/${pid}/ns/pid`).ino;
  } catch {
    return undefined;
  }
}

/** A process of a sandbox: its host pid and its pid in the sandbox's namespace. */
export interface SandboxProcess {
  readonly hostPid: number;
  readonly nsPid: number;
}

/**
 * Every process in the pid namespace of `initPid` (init included), from the
 * host's /proc: a process there whose ns/pid is the same namespace. Its
 * NSpid line's last number is its pid inside.
 */
export function sandboxProcesses(initPid: number): SandboxProcess[] {
  const ns = pidNamespace(initPid);
  if (ns === undefined) return [];
  const out: SandboxProcess[] = [];
  for (const name of fs.readdirSync('/proc')) {
    if (!/^[0-9]+$/.test(name)) continue;
    const pid = Number(name);
    if (pidNamespace(pid) !== ns) continue;
    const nsPid = namespacePid(pid);
    if (nsPid !== undefined) out.push({ hostPid: pid, nsPid });
  }
  return out.sort((a, b) => a.nsPid - b.nsPid);
}

/** The pid of a host process in its own (innermost) pid namespace. */
export function namespacePid(pid: number): number | undefined {
  try {
    const m = /^NSpid:\s*(.*)$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'latin1'));
    const last = m?.[1]?.trim().split(/\s+/).pop();
    return last === undefined ? undefined : Number(last);
  } catch {
    return undefined;
  }
}

/** The host pid of the process that is nsPid in the sandbox of initPid. */
export function hostPidOf(initPid: number, nsPid: number): number | undefined {
  return sandboxProcesses(initPid).find((p) => p.nsPid === nsPid)?.hostPid;
}

/** kill(2), with ESRCH (already gone) not an error. */
export function signalProcess(pid: number, signal: number): void {
  try {
    process.kill(pid, signal);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ESRCH') throw e;
  }
}
