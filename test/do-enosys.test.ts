// Fail closed: a syscall that reaches the sentry with no handler to carry it
// out is answered ENOSYS, never passed through, and logged once per name
// however often it is called.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSCALLS } from '../syscall-tables/index.js';
import { makeWorkDir, removeDir, runSandboxed } from './helpers/sandbox.js';
import { HANDLERS } from '../sentry/syscalls/dispatch.js';

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-enosys-');
});
afterAll(() => removeDir(work));

describe('a syscall the table does not know', () => {
  // Every emulated call has a handler today; an unknown number takes the
  // same path (trapped by the filter, no handler in the sentry).
  const UNKNOWN_NR = 500;

  it('is not in the table and has no handler', () => {
    expect(SYSCALLS.find((s) => s.nr === UNKNOWN_NR)).toBeUndefined();
    for (const s of SYSCALLS) if (s.disposition === 'emulated') expect(HANDLERS[s.name], s.name).toBeDefined();
  });

  it('gets ENOSYS every time, and one log line in all', async () => {
    const program = [
      'import ctypes, errno',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'for _ in range(3):',
      `    r = libc.syscall(${UNKNOWN_NR}, b"/tmp")`,
      '    print(r, errno.errorcode[ctypes.get_errno()])',
    ].join('\n');
    const r = await runSandboxed(['python3', '-c', program], { cwd: work, env: { PATH: '/usr/bin:/bin', TSVISOR_LOG: 'warn' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('-1 ENOSYS\n'.repeat(3));
    const logLines = r.stderr.split('\n').filter((l) => l.includes('"no handler: ENOSYS"'));
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toContain(`"syscall":"syscall_${UNKNOWN_NR}"`);
  });
});
