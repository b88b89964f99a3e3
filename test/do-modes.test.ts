// tsvisor do's modes: --strict (every syscall trapped), --strace, --stats,
// and the network modes, each checked against the same program run natively.
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { differential, makeWorkDir, removeDir, runNative, runSandboxed, sandboxCommandLine } from './helpers/sandbox.js';
import { PLATFORM } from './helpers/platform.js';

let work: string;
beforeAll(() => {
  work = makeWorkDir('tsvisor-modes-');
});
afterAll(() => removeDir(work));

const SCRIPT = 'echo hi; ls /usr | head -3; cat /etc/os-release | head -1; id -u; cd /tmp && echo x > f && cat f';

describe('--strict traps every syscall and changes nothing the program sees', () => {
  it('prints what the program prints natively', async () => {
    const d = await differential(['sh', '-c', SCRIPT], { cwd: work, flags: ['--strict'] });
    expect(d.sandboxed.status, d.sandboxed.stderr).toBe(d.native.status);
    expect(d.sandboxed.stdout).toBe(d.native.stdout);
  });

  it('counts passthrough syscalls too (read, mmap) in --stats', async () => {
    const r = await runSandboxed(['sh', '-c', 'echo hi'], { cwd: work, flags: ['--strict', '--stats'] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^\s+\d+\s+mmap$/m);
    expect(r.stderr).toMatch(/^\s+\d+\s+execve$/m);
  });

  // ptrace stops the task at its syscall's exit and reads the result; seccomp
  // notification lets the kernel finish a continued call unseen.
  it(`traces passthrough syscalls with ${PLATFORM === 'ptrace' ? 'their results' : '"? (host)" for their results'} under --strace`, async () => {
    const r = await runSandboxed(['sh', '-c', 'echo hi; exec 3</etc/hostname; read x <&3; exit 4'], { cwd: work, flags: ['--strict', '--strace'] });
    expect(r.status, r.stderr).toBe(4);
    expect(r.stdout).toBe('hi\n');
    if (PLATFORM === 'ptrace') {
      expect(r.stderr).toMatch(/\] mmap\([^\n]*\) = 0x[0-9a-f]+$/m);
      expect(r.stderr).toMatch(/\] write\(1, 0x[0-9a-f]+, 3\) = 3$/m);
      expect(r.stderr).toMatch(/\] read\(3, [^\n]*\) = [1-9][0-9]*$/m);
      expect(r.stderr).toMatch(/\] execve\("[^"]*\/sh", [^\n]*\) = 0$/m);
      expect(r.stderr).toMatch(/\] exit_group\(4\) = \?$/m);
    } else {
      expect(r.stderr).toMatch(/\] write\(1, 0x[0-9a-f]+, 3\) = \? \(host\)$/m);
    }
  });
});

describe('--strace', () => {
  it('prints each trapped call with its decoded arguments and result', async () => {
    const r = await runSandboxed(['cat', '/etc/hostname', '/nonexistent'], { cwd: work, flags: ['--strace'] });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/\[pid \d+\] openat\(AT_FDCWD, "\/etc\/hostname", 0x0, 0?0?\) = \(installed fd\)/);
    expect(r.stderr).toMatch(/\[pid \d+\] openat\(AT_FDCWD, "\/nonexistent", 0x0, 0?0?\) = -1 ENOENT/);
    expect(r.stderr).toMatch(/\[pid \d+\] execve\("\/usr\/bin\/cat"/);
  });
});

describe('--stats', () => {
  it('counts trapped syscalls without tracing passthrough ones', async () => {
    const r = await runSandboxed(['cat', '/etc/hostname'], { cwd: work, flags: ['--stats'] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/^\s+\d+\s+openat$/m);
    expect(r.stderr).not.toMatch(/^\s+\d+\s+read$/m);
  });
});

describe('--network', () => {
  let server: net.Server;
  let port = 0;
  beforeAll(async () => {
    server = net.createServer((s) => s.end('hello from the host\n'));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    port = (server.address() as net.AddressInfo).port;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  const client = (p: number): string[] => [
    'python3', '-c',
    `import socket\ntry:\n  s=socket.create_connection(("127.0.0.1",${p}),timeout=5); print(s.recv(100).decode().strip())\nexcept OSError as e:\n  print(type(e).__name__)`,
  ];

  it('none (the default): the host\'s loopback is not reachable, the sandbox has its own', async () => {
    const r = await runSandboxed(client(port), { cwd: work });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('ConnectionRefusedError');
    const lo = await runSandboxed(['python3', '-c', 'import socket; print(sorted(n for _, n in socket.if_nameindex()))'], { cwd: work });
    expect(lo.stdout.trim()).toBe("['lo']");
  });

  it('host: the host\'s network', async () => {
    const r = await runSandboxed(client(port), { cwd: work, flags: ['--network', 'host'] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe('hello from the host');
  });
});

describe('a terminal on stdio', () => {
  // script(1) gives each run a fresh pseudo-terminal, natively and around tsvisor.
  const underPty = (cmd: string): string[] => ['script', '-qec', cmd, '/dev/null'];
  const probe = "tty | sed 's/[0-9][0-9]*$/N/'; test -t 0 && test -t 1 && echo both-ttys";

  // By default (stdin and stdout both terminals) the program gets a pty of
  // the sandbox's own devpts, as docker run -it gives (test/do-terminal.test.ts
  // drives it interactively).
  it('is relayed to a terminal of the sandbox\'s own, /dev/pts/0', async () => {
    const native = await runNative(underPty(`sh -c "${probe}"`), { cwd: work });
    const sandboxed = await runNative(underPty(`${sandboxCommandLine()} -- sh -c "tty; ${probe}"`), { cwd: work });
    expect(native.stdout.replace(/\r/g, '')).toBe('/dev/pts/N\nboth-ttys\n');
    // script(1) types a NUL when its stdin (here /dev/null) ends; the sandbox's pty echoes it as ^@.
    expect(sandboxed.stdout.replace(/\r|\^@/g, '')).toBe('/dev/pts/0\n/dev/pts/N\nboth-ttys\n');
  });

  // With --no-tty stdio is inherited as it is. The sandbox's /dev/pts is a
  // devpts of its own, where the host's pty cannot appear: it is at
  // /dev/console, as runc puts a container's terminal.
  it('with --no-tty, is the program\'s terminal too, named /dev/console', async () => {
    const sandboxed = await runNative(underPty(`${sandboxCommandLine(['--no-tty'])} -- sh -c "${probe}"`), { cwd: work });
    expect(sandboxed.stdout.replace(/\r/g, '')).toBe('/dev/console\nboth-ttys\n');
  });
});
