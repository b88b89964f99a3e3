// The ptrace platform (`tsvisor do --platform ptrace`): real programs give
// what they give natively, and the parts ptrace makes hard (many threads
// trapping at once, a program that stops itself, fds installed by syscall
// injection into a program that closed or took the hidden socket's number,
// fork/exec chains, exit statuses, cleanup) behave as on seccomp.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compileHelper, makeWorkDir, processesWithEnv, removeDir, runNative, runSandboxed, BASE_ENV, type RunResult,
} from './helpers/sandbox.js';

const PTRACE = ['--platform', 'ptrace'];
const BOTH = [['seccomp', ['--platform', 'seccomp']], ['ptrace', PTRACE]] as const;

let work = '';
let threads = '';
let sigstop = '';
beforeAll(() => {
  work = makeWorkDir('ptrace');
  // No -pthread needed: glibc 2.34+ has threads in libc.
  threads = compileHelper('threads', work);
  sigstop = compileHelper('sigstop', work);
});
afterAll(() => removeDir(work));

function show(r: RunResult): string {
  return `status=${r.status} signal=${r.signal}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;
}

/** The status a shell would report: tsvisor exits with 128 + the signal that killed the program. */
function shellStatus(r: RunResult): number | null {
  return r.signal ? 128 + os.constants.signals[r.signal] : r.status;
}

async function sameAsNative(argv: readonly string[], flags: readonly string[] = PTRACE): Promise<RunResult> {
  const native = await runNative(argv, { cwd: work });
  const sandboxed = await runSandboxed(argv, { cwd: work, flags });
  expect(sandboxed.stdout, show(sandboxed)).toBe(native.stdout);
  expect(sandboxed.status, show(sandboxed)).toBe(shellStatus(native));
  return sandboxed;
}

describe('--platform ptrace runs programs as natively', () => {
  it('echo', async () => {
    const r = await sameAsNative(['echo', 'hello', 'world']);
    expect(r.stdout).toBe('hello world\n');
  });

  it('ls of directories', async () => {
    fs.writeFileSync(path.join(work, 'a-file'), 'x');
    const r = await sameAsNative(['ls', work, '/usr']);
    expect(r.stdout).toContain('a-file');
  });

  it('python3 running a subprocess (which closes every fd above 2 before its exec)', async () => {
    const r = await sameAsNative(['python3', '-c', [
      'import subprocess',
      'print(subprocess.run(["cat", "/etc/passwd"], capture_output=True, text=True).stdout.splitlines()[0])',
      'print(subprocess.run(["sh", "-c", "exit 3"]).returncode)',
    ].join('\n')]);
    expect(r.stdout).toMatch(/^root:.*\n3\n$/);
  });

  it('gcc compiles a program and runs it', async () => {
    fs.writeFileSync(path.join(work, 'hello.c'), '#include <stdio.h>\nint main(int c, char **v) { printf("hi %s\\n", v[1]); return 4; }\n');
    const script = `cd ${work} && gcc -o /tmp/hello hello.c && /tmp/hello there`;
    const r = await runSandboxed(['sh', '-c', script], { cwd: work, flags: PTRACE });
    expect(r.stdout, show(r)).toBe('hi there\n');
    expect(r.status).toBe(4);
  });

  it("sh -c 'kill -9 $$' ends with 137", async () => {
    const r = await sameAsNative(['sh', '-c', 'kill -9 $$']);
    expect(r.status).toBe(137);
  });

  it('exit statuses and fatal signals pass through', async () => {
    expect((await sameAsNative(['sh', '-c', 'exit 42'])).status).toBe(42);
    expect((await sameAsNative(['sh', '-c', 'kill -TERM $$'])).status).toBe(143);
    expect((await sameAsNative(['sh', '-c', 'sh -c "kill -SEGV \\$\\$"; echo $?'])).stdout).toBe('139\n');
  });

  it('fork/exec chains, with an open file at each level', async () => {
    const inner = 'head -c 4 /etc/passwd; echo; sh -c "wc -l < /etc/hostname; exit 5"; echo inner $?';
    const r = await sameAsNative(['sh', '-c', `sh -c '${inner}'; echo outer $?`]);
    expect(r.stdout).toMatch(/^root\n1\ninner 5\nouter 0\n$/);
  });

  it('opens files after the program closed every fd, and never takes its fd 1023 from it', async () => {
    const program = [
      'import os',
      'os.closerange(3, 65536)',
      'print(open("/etc/hostname").read() == open("/etc/hostname").read())',
      'fd = os.open("/etc/passwd", os.O_RDONLY)',
      'os.dup2(fd, 1023)',
      'print(len(open("/etc/passwd").read()) > 0)',
      'print(os.read(1023, 5))',
    ].join('\n');
    const r = await sameAsNative(['python3', '-c', program]);
    expect(r.stdout).toBe("True\nTrue\nb'root:'\n");
  });
});

describe.each(BOTH)('on %s', (_name, flags) => {
  it('16 threads making trapped syscalls at once get every answer right', async () => {
    const r = await runSandboxed([threads, '300', '/etc/passwd'], { cwd: work, flags });
    expect(r.stdout, show(r)).toBe('threads 16 rounds 300 bad 0\n');
    expect(r.status).toBe(0);
  });

  it('a child that stops itself (SIGSTOP) is seen stopped and continued by its parent', async () => {
    const native = await runNative([sigstop], { cwd: work });
    const r = await runSandboxed([sigstop], { cwd: work, flags });
    expect(native.stdout).toBe('stopped: 1 by 19\ncontinued: 1\nchild resumed, parent ok: 1\nexited: 1 status 7\n');
    expect(r.stdout, show(r)).toBe(native.stdout);
    expect(r.status).toBe(0);
  });

  // On ptrace an ELF program is exec'd by an fd of the file the sentry
  // checked: the program must not be able to tell, and a failed exec must
  // leave no fd behind.
  it('exec: the new image has its name, /proc/self/exe and maps, and no extra fd; a failed exec leaves none', async () => {
    const program = [
      'import os, subprocess',
      'try:',
      "    os.execv('/bin/true', ['true', 'x' * 300000])",
      'except OSError as e:',
      "    print('exec failed', e.errno)",
      "print(sorted(int(f) for f in os.listdir('/proc/self/fd') if int(f) < 100))",
      "code = 'import os; print(open(\"/proc/self/comm\").read().strip(), os.readlink(\"/proc/self/exe\"), any(l.rstrip().endswith(os.readlink(\"/proc/self/exe\")) for l in open(\"/proc/self/maps\")), sorted(int(f) for f in os.listdir(\"/proc/self/fd\") if int(f) < 100))'",
      "print(subprocess.run(['/usr/bin/python3', '-c', code], stdout=subprocess.PIPE, stdin=subprocess.DEVNULL, text=True).stdout, end='')",
    ].join('\n');
    const native = await runNative(['python3', '-c', program], { cwd: work });
    const r = await runSandboxed(['python3', '-c', program], { cwd: work, flags });
    // (fd 3: the listing's own open directory)
    expect(native.stdout).toMatch(/^exec failed 7\n\[0, 1, 2, 3\]\npython3 \/usr\/bin\/python3\.\d+ True \[0, 1, 2, 3\]\n$/);
    expect(r.stdout, show(r)).toBe(native.stdout);
  });

  it('leaves no process behind when the program exits with children still running', async () => {
    const tag = `ptrace-${process.pid}-${Date.now()}-${_name}`;
    const r = await runSandboxed(['sh', '-c', 'sleep 60 & sleep 60 & echo started'], {
      cwd: work, flags, env: { ...BASE_ENV, TSVISOR_TEST_TAG: tag },
    });
    expect(r.stdout, show(r)).toBe('started\n');
    // The sandbox's pid namespace dies with its init: tsvisor returns after that.
    expect(processesWithEnv('TSVISOR_TEST_TAG', tag)).toEqual([]);
  });
});
