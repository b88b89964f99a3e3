// pidfds in the sandbox, with Linux's semantics: the kernel carries them out
// (passthrough), confined by the sandbox's pid namespace (only its own
// processes can be named) and by the ptrace rules (its init, non-dumpable,
// gives no fd away). Each check runs natively and sandboxed and must print
// the same (test/helpers/pidfd.c).
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileHelper, differential, makeWorkDir, removeDir, runSandboxed, type RunResult } from './helpers/sandbox.js';

let work = '';
let helper = '';
beforeAll(() => {
  work = makeWorkDir('pidfd');
  helper = compileHelper('pidfd', work);
});
afterAll(() => removeDir(work));

function show(r: RunResult): string {
  return `status=${r.status} signal=${r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

describe('pidfds', () => {
  it.each([
    ['wait', 'pidfd_open: ok\nrunning: exited 0\nafter exit: POLLIN 1\nwaitid: right pid 1, exited 7\npidfd_open of the reaped child: -1 No such process\n'],
    ['signal', 'signal 0: 0\nSIGTERM: 0\nwaitid: right pid 1, killed by 15\nafter its end: -1 No such process\nbad flags: -1 Invalid argument\n'],
    ['getfd', "pidfd_getfd: read 'from the child'\nclose-on-exec: 1\nan fd it does not have: -1 Bad file descriptor\nbad flags: -1 Invalid argument\nwaitid: right pid 1, exited 0\n"],
    ['clone', 'clone(CLONE_PIDFD): pidfd set\nclose-on-exec: 1\nwaitid: right pid 1, exited 5\nwith CLONE_PARENT_SETTID: -1 Invalid argument\n'],
  ])('%s: as natively', async (mode, expected) => {
    const d = await differential([helper, mode], { cwd: work });
    expect(d.native.stdout, show(d.native)).toBe(expected);
    expect(d.sandboxed.stdout, show(d.sandboxed)).toBe(expected);
    expect(d.sandboxed.status).toBe(0);
  });

  it('reaches no process outside the sandbox, and not the sandbox\'s init', async () => {
    // This test's own process exists on the host (it runs tsvisor, whose
    // sentry thread lives in a process like it), with a pid far above the
    // few the sandbox's fresh namespace hands out.
    const r = await runSandboxed([helper, 'outside', String(process.pid)], { cwd: work });
    expect(r.status, show(r)).toBe(0);
    expect(r.stdout).toBe([
      'pidfd_open(host pid): -1 No such process',
      'pidfd_open(1): ok',
      // Non-dumpable, its mm of the host's user namespace: the sandbox's root may not take its fds.
      'pidfd_getfd(init, 0): -1 Operation not permitted',
      // Accepted and dropped, as for kill(1, SIGKILL) inside a pid namespace: init handles no such signal.
      'SIGKILL to init: 0',
      'init still there: 0',
      '',
    ].join('\n'));
  });
});
