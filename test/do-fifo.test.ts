// FIFOs: an open without O_NONBLOCK waits for the other end, in either order,
// exactly as natively; the sandbox must neither fail it nor stall.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differential, makeWorkDir, removeDir } from './helpers/sandbox.js';

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-fifo-');
});
afterAll(() => removeDir(work));

const PROGRAM = (readerFirst: boolean): string => `
import os, time
os.mkfifo("fifo")
pid = os.fork()
if pid == 0:
    if ${readerFirst ? 'True' : 'False'}: time.sleep(0.2)
    fd = os.open("fifo", os.O_WRONLY)
    os.write(fd, b"through the fifo")
    os._exit(0)
if ${readerFirst ? 'False' : 'True'}: time.sleep(0.2)
fd = os.open("fifo", os.O_RDONLY)
print(os.read(fd, 100).decode())
os.waitpid(pid, 0)
try:
    os.open("fifo", os.O_WRONLY | os.O_NONBLOCK)
except OSError as e:
    print("nonblocking writer without reader:", e.strerror)
os.unlink("fifo")
`;

describe('FIFOs', () => {
  for (const readerFirst of [true, false]) {
    it(`${readerFirst ? 'reader' : 'writer'} first: the open waits for the other end`, async () => {
      const d = await differential(['python3', '-c', PROGRAM(readerFirst)], { cwd: work });
      expect(d.native.stdout).toContain('through the fifo');
      expect(d.sandboxed.stderr).toBe(d.native.stderr);
      expect(d.sandboxed.stdout).toBe(d.native.stdout);
      expect(d.sandboxed.status).toBe(d.native.status);
    });
  }
});
