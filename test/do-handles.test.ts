// File handles: what a sandbox gets is what a container's root gets from
// Linux itself (the kernel decides open_by_handle_at), compared with the same
// program run natively as root of a fresh user namespace.
import { execFileSync } from 'node:child_process';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compileHelper, makeWorkDir, removeDir, runSandboxed } from './helpers/sandbox.js';

let work = '';
let program = '';
beforeAll(() => {
  work = makeWorkDir('handles');
  program = compileHelper('handles', work);
});
afterAll(() => removeDir(work));

describe('name_to_handle_at and open_by_handle_at', () => {
  it('answer in the sandbox as for root in a user namespace natively', async () => {
    const native = execFileSync('unshare', ['--user', '--map-root-user', '--mount', 'sh', '-c', `mount -t tmpfs t /tmp && ${program}`],
      { cwd: work, encoding: 'utf8' });
    const sandboxed = await runSandboxed([program], { cwd: work });
    expect(sandboxed.status, sandboxed.stderr).toBe(0);
    expect(sandboxed.stdout).toBe(native);
    expect(native).toContain('name_to_handle_at /tmp/sub/f = ok');
  });
});
