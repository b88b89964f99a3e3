// Real programs print under `tsvisor do` exactly what they print natively.
// Each case runs the same argv, with the same cwd (a fresh host directory under
// /var/tmp, which the sandbox sees at the same path: not /tmp, because the
// sandbox's /tmp is its own fresh tmpfs) and the same environment, once on the
// host and once in a sandbox, and compares stdout, exit status and (where the
// program's stderr is deterministic) stderr.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  BASE_ENV,
  differential,
  makeWorkDir,
  removeDir,
  runNative,
  runSandboxed,
  type RunResult,
} from './helpers/sandbox.js';

/** The exit status a shell would report: the code, or 128 + the signal's number. */
function exitStatus(r: RunResult): number | null {
  if (r.status !== null) return r.status;
  if (r.signal !== null) return 128 + (os.constants.signals[r.signal] ?? 0);
  return null;
}

/** Both runs: same stdout, same exit status, and (if asked) same stderr. */
function expectSame(native: RunResult, sandboxed: RunResult, opts: { stderr: boolean }): void {
  expect.soft(sandboxed.stdout, 'stdout').toBe(native.stdout);
  if (opts.stderr) expect.soft(sandboxed.stderr, 'stderr').toBe(native.stderr);
  expect.soft(exitStatus(sandboxed), 'exit status').toBe(exitStatus(native));
}

let work = '';

beforeAll(() => {
  work = makeWorkDir('diff');
});

afterAll(() => {
  removeDir(work);
});

describe('shell basics', () => {
  // One `ls -la /` line: mode, links, owner, group, size, date, name[ -> target].
  const LS_LINE = /^([-dlcbps][-rwxsStT]{9}[.+@]?)\s+(\d+)\s+(\S+)\s+(\S+)\s+(\d+)\s+(\w{3}\s+\d+\s+(?:\d{2}:\d{2}|\d{4}))\s(.*)$/;

  interface LsEntry {
    readonly line: string;
    readonly mode: string;
    readonly name: string;
  }

  /** Splits the command's output into [lines before ls, ls entries, lines after ls]. */
  function splitLs(stdout: string): { before: string[]; total: string; entries: LsEntry[]; after: string[] } {
    const lines = stdout.split('\n');
    const t = lines.findIndex((l) => /^total \d+$/.test(l));
    expect(t, `no "total" line from ls -la / in:\n${stdout}`).toBeGreaterThanOrEqual(0);
    const entries: LsEntry[] = [];
    let i = t + 1;
    for (; i < lines.length; i++) {
      const m = LS_LINE.exec(lines[i]!);
      if (!m) break;
      const shown = m[7]!;
      const arrow = shown.indexOf(' -> ');
      entries.push({ line: lines[i]!, mode: m[1]!.slice(0, 10), name: arrow >= 0 ? shown.slice(0, arrow) : shown });
    }
    return { before: lines.slice(0, t), total: lines[t]!, entries, after: lines.slice(i) };
  }

  it("sh -c 'echo hi; ls -la /; cat /etc/os-release; id; uname -s; pwd; cd /tmp && touch x && ls x'", async () => {
    const script = (tmp: string): string =>
      `echo hi; ls -la /; cat /etc/os-release; id; uname -s; pwd; cd ${tmp} && touch x && ls x`;
    // Natively the `cd /tmp && touch x` part runs in a private directory instead of
    // the host's shared /tmp (it prints the same "x"); in the sandbox it is /tmp.
    const nativeTmp = fs.mkdtempSync(path.join(work, 'nativetmp-'));
    const native = await runNative(['sh', '-c', script(nativeTmp)], { cwd: work });
    const sandboxed = await runSandboxed(['sh', '-c', script('/tmp')], { cwd: work });
    fs.rmSync(nativeTmp, { recursive: true, force: true });

    expect.soft(sandboxed.stderr).toBe(native.stderr);
    expect.soft(exitStatus(sandboxed)).toBe(exitStatus(native));

    const n = splitLs(native.stdout);
    const s = splitLs(sandboxed.stdout);
    expect.soft(s.before).toEqual(n.before);
    expect.soft(s.after).toEqual(n.after);
    // The sandbox's /dev, /proc, /sys and /tmp are by design its own (a minimal
    // /dev, its own procfs and sysfs, a fresh tmpfs /tmp), and the root
    // directory's own lines ("." and "..") come from the overlay: for those six
    // only the name, the file type and the permission bits are compared. Every
    // other line must be identical (name, mode, links, owner, group, size, date).
    // The "total" line is not compared: it sums the blocks of those six too.
    // Nor is the column padding: ls pads to the widest value of all lines,
    // those six included (procfs's link count is the host's process count).
    const fields = (line: string | undefined): string[] | undefined => line?.trim().split(/\s+/);
    const OWN = new Set(['.', '..', 'dev', 'proc', 'sys', 'tmp']);
    expect.soft(s.entries.map((e) => e.name)).toEqual(n.entries.map((e) => e.name));
    for (const ne of n.entries) {
      const se = s.entries.find((e) => e.name === ne.name);
      if (OWN.has(ne.name)) expect.soft({ name: se?.name, mode: se?.mode }).toEqual({ name: ne.name, mode: ne.mode });
      else expect.soft(fields(se?.line)).toEqual(fields(ne.line));
    }
  });

  it("exit status: sh -c 'exit 7' gives 7", async () => {
    const { native, sandboxed } = await differential(['sh', '-c', 'exit 7'], { cwd: work });
    expect(exitStatus(native)).toBe(7);
    expectSame(native, sandboxed, { stderr: true });
  });

  it("exit status: sh -c 'kill -9 $$' gives 137", async () => {
    const { native, sandboxed } = await differential(['sh', '-c', 'kill -9 $$'], { cwd: work });
    expect(exitStatus(native)).toBe(137);
    expect(sandboxed.status).toBe(137);
    expectSame(native, sandboxed, { stderr: true });
  });

  it('a program that succeeds always exits 0 with nothing on stderr (20 runs of sh -c true)', async () => {
    // The program's own status must come back every time, never one made up by
    // tsvisor because its helpers shut down in a different order.
    const bad: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await runSandboxed(['sh', '-c', 'true'], { cwd: work });
      if (r.status !== 0 || r.stderr !== '') bad.push(`run ${i}: status=${r.status} stderr=${JSON.stringify(r.stderr)}`);
    }
    expect(bad).toEqual([]);
  });

  it("stdin is wired through: sh -c 'read x; echo got $x'", async () => {
    const { native, sandboxed } = await differential(['sh', '-c', 'read x; echo got $x'], { cwd: work, stdin: 'abc\n' });
    expect(native.stdout).toBe('got abc\n');
    expectSame(native, sandboxed, { stderr: true });
  });

  it('a busybox shell script with background jobs, wait and trap', async () => {
    // Every line is printed in an order the script forces (a job waits for
    // what comes before it through a FIFO), so the output is the same on
    // every run.
    const script = [
      'trap \'echo "trap: USR1"\' USR1',
      'trap \'echo "trap: EXIT status $?"\' EXIT',
      'rm -f f1 f2 f3; mkfifo f1 f2 f3',
      '(read x < f1; read z < f3; echo "job 2 after $x"; echo two > f2; exit 3) & j2=$!',
      '(echo "job 1 runs"; echo one > f1; exit 5) & j1=$!',
      'wait $j1; echo "job 1 status $?"; echo go > f3',
      'read y < f2; echo "got $y"',
      'wait $j2; echo "job 2 status $?"',
      'sleep 100 & s=$!; kill -TERM $s; wait $s; echo "sleep status $?"',
      'kill -USR1 $$',
      'sh -c \'kill -STOP $$; echo resumed\' & st=$!',
      'while ! grep -q "^State:.*T" /proc/$st/status 2>/dev/null; do :; done; echo stopped',
      'kill -CONT $st; wait $st; echo "stopped job status $?"',
      'wait; echo "all done"',
      'exit 7',
    ].join('\n');
    const { native, sandboxed } = await differential(['/bin/busybox', 'sh', '-c', script], { cwd: work });
    expect(native.stdout).toContain('all done');
    expectSame(native, sandboxed, { stderr: true });
  });
});

describe('busybox tools on a small tree', () => {
  const MTIME = new Date('2020-01-02T03:04:05Z');

  beforeAll(() => {
    const t = path.join(work, 'tree');
    fs.mkdirSync(path.join(t, 'sub', 'deep'), { recursive: true });
    fs.mkdirSync(path.join(t, 'emptydir'));
    fs.writeFileSync(path.join(t, 'a.txt'), 'apple\nbanana\ncherry\n');
    fs.writeFileSync(path.join(t, 'sub', 'b.txt'), 'alpha\nbeta\n');
    fs.writeFileSync(path.join(t, 'sub', 'deep', 'c.txt'), 'gamma apple\n');
    fs.writeFileSync(path.join(t, 'nums'), '1\n2\n3\n40\n');
    fs.writeFileSync(path.join(t, 'exec.sh'), '#!/bin/sh\necho run\n');
    fs.chmodSync(path.join(t, 'exec.sh'), 0o751);
    fs.symlinkSync('sub/b.txt', path.join(t, 'link'));
    for (const p of ['a.txt', 'sub/b.txt', 'sub/deep/c.txt', 'nums']) fs.chmodSync(path.join(t, p), 0o644);
    for (const p of ['emptydir', 'sub/deep', 'sub', '.']) fs.chmodSync(path.join(t, p), 0o755);
    for (const p of ['a.txt', 'sub/b.txt', 'sub/deep/c.txt', 'nums', 'exec.sh', 'emptydir', 'sub/deep', 'sub', '.']) {
      fs.utimesSync(path.join(t, p), MTIME, MTIME);
    }
    fs.lutimesSync(path.join(t, 'link'), MTIME, MTIME);
  });

  const bb = (script: string): string[] => ['busybox', 'sh', '-c', script];

  // Output that depends on readdir order is sorted: the order of entries in a
  // directory is not something Linux promises, and not what is being compared.
  const CASES: ReadonlyArray<readonly [string, string]> = [
    ['find | sort', 'busybox find tree | busybox sort'],
    ['find -type f -size', 'busybox find tree -type f -size -1k | busybox sort'],
    ['grep -rn', 'busybox grep -rn apple tree | busybox sort'],
    ['grep with no match exits 1', 'busybox grep -r nomatchanywhere tree'],
    ['sed -n s///p', "busybox sed -n 's/a/b/p' tree/a.txt"],
    ['awk sum', "busybox awk '{s+=$1} END {print s}' tree/nums"],
    ['sort -rn', 'busybox sort -rn tree/nums'],
    ['ls -ln (modes, owners, sizes, dates)', 'busybox ls -lnR --full-time tree'],
    ['tar -tv (modes, owners, sizes, mtimes)', 'busybox tar -cf - tree | busybox tar -tvf - | busybox sort'],
    [
      'tar extract, then md5sum and stat',
      'busybox mkdir new && busybox tar -cf - tree | busybox tar -xf - -C new' +
        ' && busybox find new -type f -exec busybox md5sum {} + | busybox sort' +
        // A file's mtime comes from the archive; a directory's and a symlink's is the
        // time of extraction (busybox tar does not restore them), so not printed.
        " && busybox find new -type f -exec busybox stat -c '%n %A %u %g %s %Y' {} + | busybox sort" +
        " && busybox find new ! -type f -exec busybox stat -c '%n %A %u %g' {} + | busybox sort" +
        ' && busybox readlink new/tree/link && busybox cat new/tree/link && ./new/tree/exec.sh;' +
        ' s=$?; busybox rm -rf new; exit $s',
    ],
  ];

  for (const [name, script] of CASES) {
    it(`busybox ${name}`, async () => {
      const { native, sandboxed } = await differential(bb(script), { cwd: work });
      if (!script.includes('nomatch')) expect(native.stdout).not.toBe('');
      else expect(exitStatus(native)).toBe(1);
      expectSame(native, sandboxed, { stderr: true });
    });
  }
});

describe('python3', () => {
  const PY = 'import os, json, subprocess; print(subprocess.run(["ls", "/"], capture_output=True).stdout)';

  it('/usr/bin/python3 runs ls / in a subprocess', async () => {
    const { native, sandboxed } = await differential(['/usr/bin/python3', '-c', PY], { cwd: work });
    expect(native.stdout).toMatch(/^b'.*\\nusr\\n/);
    expectSame(native, sandboxed, { stderr: true });
  });

  it('the python3 first on the host PATH (pyenv shim included) runs ls / in a subprocess', async () => {
    const env: Record<string, string> = { ...BASE_ENV, PATH: process.env.PATH ?? BASE_ENV.PATH! };
    if (process.env.PYENV_ROOT) env.PYENV_ROOT = process.env.PYENV_ROOT;
    const { native, sandboxed } = await differential(
      ['python3', '-c', `import sys; print(sys.version); ${PY}`],
      { cwd: work, env },
    );
    expect(native.stdout).toMatch(/\\nusr\\n/);
    expectSame(native, sandboxed, { stderr: true });
  });
});

describe('compilers and runtimes', () => {
  it('gcc compiles hello.c in /tmp and runs it', async () => {
    const script = (dir: string): string =>
      `cd ${dir} && printf '%s\\n' '#include <stdio.h>' 'int main(int c, char **v){printf("hello, %s %d\\n", v[0], c);return 3;}' > hello.c` +
      ' && gcc -o hello hello.c && ./hello a b';
    // Natively the same steps run in a private directory (not the host's shared /tmp).
    const nativeDir = fs.mkdtempSync(path.join(work, 'gcc-'));
    const native = await runNative(['sh', '-c', script(nativeDir)], { cwd: work });
    const sandboxed = await runSandboxed(['sh', '-c', script('/tmp')], { cwd: work });
    fs.rmSync(nativeDir, { recursive: true, force: true });
    expect(native.stdout).toBe('hello, ./hello 3\n');
    expectSame(native, sandboxed, { stderr: true });
  });

  it("node -e 'console.log(require(\"os\").platform())'", async () => {
    const { native, sandboxed } = await differential(['node', '-e', 'console.log(require("os").platform())'], { cwd: work });
    expect(native.stdout).toBe('linux\n');
    expectSame(native, sandboxed, { stderr: true });
  });

  it('sqlite3 :memory: "select 1"', async () => {
    const { native, sandboxed } = await differential(['sqlite3', ':memory:', 'select 1'], { cwd: work });
    expect(native.stdout).toBe('1\n');
    expectSame(native, sandboxed, { stderr: true });
  });

  it('sqlite3 with a table in :memory:', async () => {
    const sql = 'create table t(x integer, y text); insert into t values (1, "a"), (2, "b"), (40, "c"); select sum(x), group_concat(y) from t;';
    const { native, sandboxed } = await differential(['sqlite3', ':memory:', sql], { cwd: work });
    expect(native.stdout).toBe('43|a,b,c\n');
    expectSame(native, sandboxed, { stderr: true });
  });
});
