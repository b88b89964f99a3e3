// chroot: the sentry checks it and the kernel carries it out; from then on
// the sentry resolves that task's absolute paths, "..", symlinks and exec
// inside the new root, and getcwd answers relative to it, as Linux does.
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differential, makeWorkDir, removeDir } from './helpers/sandbox.js';

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-chroot-');
  const jail = path.join(work, 'jail');
  fs.mkdirSync(path.join(jail, 'sub'), { recursive: true });
  fs.mkdirSync(path.join(jail, 'bin'));
  fs.writeFileSync(path.join(jail, 'f'), 'inside\n');
  fs.symlinkSync('/f', path.join(jail, 'abs'));
  fs.symlinkSync('../../../../f', path.join(jail, 'sub', 'up'));
  fs.copyFileSync('/usr/bin/busybox', path.join(jail, 'bin', 'busybox'));
  fs.chmodSync(path.join(jail, 'bin', 'busybox'), 0o755);
});
afterAll(() => removeDir(work));

const PROGRAM = `
import os
os.chroot("jail")
os.chdir("/")
print(sorted(os.listdir("/")))
print(open("/f").read().strip(), open("/abs").read().strip(), open("/../../f").read().strip(), open("sub/up").read().strip())
print(os.path.exists("/etc/passwd"), os.path.exists("/usr/bin/busybox"))
os.chdir("/sub")
print(os.getcwd(), sorted(os.listdir("..")))
import sys; sys.stdout.flush()
os.execv("/bin/busybox", ["busybox", "sh", "-c", "pwd; cd /; busybox ls /; busybox cat /abs"])
`;

describe('chroot', () => {
  it('confines paths, symlinks, "..", getcwd and exec to the new root, as natively', async () => {
    const d = await differential(['python3', '-c', PROGRAM], { cwd: work });
    expect(d.native.status, d.native.stderr).toBe(0);
    expect(d.native.stdout).toContain("['abs', 'bin', 'f', 'sub']");
    expect(d.sandboxed.stderr).toBe(d.native.stderr);
    expect(d.sandboxed.stdout).toBe(d.native.stdout);
    expect(d.sandboxed.status).toBe(0);
  });

  it('refuses a file (ENOTDIR) and a missing directory (ENOENT), as natively', async () => {
    const program = [
      'import os',
      'for p in ("jail/f", "jail/none"):',
      '    try:',
      '        os.chroot(p)',
      '    except OSError as e:',
      '        print(p, e.strerror)',
    ].join('\n');
    const d = await differential(['python3', '-c', program], { cwd: work });
    expect(d.native.stdout).toBe('jail/f Not a directory\njail/none No such file or directory\n');
    expect(d.sandboxed.stdout).toBe(d.native.stdout);
  });
});
