// Process identity as the sandbox's pid namespace shows it: getppid is
// emulated by the sentry (a cached answer, checked against the parent's
// pidfd), so it must stay right across fork and across a parent's death.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileHelper, differential, makeWorkDir, removeDir, runSandboxed } from './helpers/sandbox.js';

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-process-');
});
afterAll(() => removeDir(work));

describe('getppid', () => {
  it("is the parent's pid, in a child and a grandchild, as natively", async () => {
    const program = [
      'import os',
      'me = os.getpid()',
      'pid = os.fork()',
      'if pid == 0:',
      '    print("child", os.getppid() == me, flush=True)',
      '    mid = os.getpid()',
      '    g = os.fork()',
      '    if g == 0:',
      '        print("grandchild", os.getppid() == mid, flush=True)',
      '        os._exit(0)',
      '    os.waitpid(g, 0)',
      '    os._exit(0)',
      'os.waitpid(pid, 0)',
    ].join('\n');
    const d = await differential(['python3', '-c', program], { cwd: work });
    expect(d.native.stdout).toBe('child True\ngrandchild True\n');
    expect(d.sandboxed.stdout).toBe(d.native.stdout);
  });

  it('becomes 1, the sandbox init, when the parent is killed outright (it never traps its exit)', async () => {
    const program = [
      'import os, signal, time',
      'r, w = os.pipe()',
      'ready_r, ready_w = os.pipe()',
      'pid = os.fork()',
      'if pid == 0:',
      '    os.close(w)',
      '    before = os.getppid()',
      '    os.write(ready_w, b"x")',
      '    os.read(r, 1)  # the parent is gone when this returns',
      '    time.sleep(0.1)',
      '    print("before", before > 1, "after", os.getppid(), flush=True)',
      '    os._exit(0)',
      'os.read(ready_r, 1)',
      'os.kill(os.getpid(), signal.SIGKILL)',
    ].join('\n');
    // The shell waits long enough for the orphan to print.
    const r = await runSandboxed(['sh', '-c', `python3 -c '${program}'; sleep 1`], { cwd: work });
    expect(r.stdout).toBe('before True after 1\n');
  });
});

describe('fork under a stream of signals', () => {
  // A fork that was trapped waited for the sentry, and a signal caught by a
  // handler without SA_RESTART (busybox ash's SIGCHLD) ended that wait with
  // EINTR ("can't fork: Interrupted system call"), where Linux restarts it.
  // clone without a namespace flag now runs natively, as fork and vfork do.
  it('never fails with EINTR, as natively', async () => {
    const helper = compileHelper('fork-signals', work);
    const d = await differential([helper, '500'], { cwd: work });
    expect(d.native.stdout).toBe('forks 500 eintr 0 other 0\n');
    expect(d.sandboxed.stderr).toBe('');
    expect(d.sandboxed.stdout).toBe(d.native.stdout);
  });
});
