// Fail closed: a syscall the table routes to the sentry but no handler
// carries out is answered ENOSYS, never passed through, and logged once per
// name however often it is called.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SYSCALLS } from '../syscall-tables/index.js';
import { makeWorkDir, removeDir, runSandboxed } from './helpers/sandbox.js';
import { HANDLERS } from '../sentry/syscalls/dispatch.js';

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-enosys-');
});
afterAll(() => removeDir(work));

describe('an emulated syscall without a handler', () => {
  // One the table routes to the sentry (it names a path) and no family handles yet.
  const entry = SYSCALLS.find((s) => s.disposition === 'emulated' && HANDLERS[s.name] === undefined);
  if (!entry) throw new Error('every emulated syscall has a handler: pick another way to test ENOSYS');

  it('is one the table emulates and the sentry does not handle', () => {
    expect(entry.disposition).toBe('emulated');
    expect(HANDLERS[entry.name]).toBeUndefined();
  });

  it('gets ENOSYS every time, and one log line in all', async () => {
    const program = [
      'import ctypes, errno',
      'libc = ctypes.CDLL(None, use_errno=True)',
      'for _ in range(3):',
      `    r = libc.syscall(${entry.nr}, b"/tmp")`,
      '    print(r, errno.errorcode[ctypes.get_errno()])',
    ].join('\n');
    const r = await runSandboxed(['python3', '-c', program], { cwd: work, env: { PATH: '/usr/bin:/bin', TSVISOR_LOG: 'warn' } });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('-1 ENOSYS\n'.repeat(3));
    const logLines = r.stderr.split('\n').filter((l) => l.includes('"no handler: ENOSYS"'));
    expect(logLines).toHaveLength(1);
    expect(logLines[0]).toContain(`"syscall":"${entry.name}"`);
  });
});
