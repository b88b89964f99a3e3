// Everyday tools give the same results under `tsvisor do` as natively: tar and
// untar, cp -a, find -exec, git, sqlite3 with a file database, and make of a
// small C project.
//
// Each workload is one bash script of named steps. It runs twice, natively and
// sandboxed, each time in its own fresh work dir under /var/tmp prepared the
// same way (the host side writes the inputs, with fixed modes, owners and
// mtimes). The sandbox's writes land in its throwaway overlay, so the trees a
// workload produces are listed from inside the same run, by
// test/helpers/tree-list.py (type, mode, owner, size, link target, contents
// hash, hardlink groups, user xattrs and, where the tool preserves them,
// mtimes). Every step's output and exit status is compared, after the work
// dir's path is replaced by $W; and on the native side, each workload checks
// that the tool really did what the comparison relies on (an extracted tree
// equals its source, and so on), so that a broken workload cannot pass by
// printing nothing on both sides.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { BASE_ENV, HELPERS_DIR, makeWorkDir, removeDir, runNative, runSandboxed, type RunResult } from './helpers/sandbox.js';

/**
 * The lister runs inside the sandbox too, so it is copied next to the work
 * dirs (under /var/tmp, which the sandbox sees): the checkout itself may be
 * under /tmp, which in the sandbox is a fresh tmpfs.
 */
const LISTER_DIR = makeWorkDir('tools-lister');
fs.copyFileSync(path.join(HELPERS_DIR, 'tree-list.py'), path.join(LISTER_DIR, 'tree-list.py'));
const LISTER = `/usr/bin/python3 ${path.join(LISTER_DIR, 'tree-list.py')}`;

interface Step {
  readonly name: string;
  readonly sh: string;
}

interface Section {
  readonly out: string;
  readonly exit: number;
}

interface Side {
  readonly run: RunResult;
  readonly steps: ReadonlyMap<string, Section>;
}

interface Outcome {
  readonly native: Side;
  readonly sandboxed: Side;
}

const dirs: string[] = [];

afterAll(() => {
  for (const d of dirs) removeDir(d);
  removeDir(LISTER_DIR);
});

/** The steps as one bash script: per step (in a subshell) a header line, its output (stderr folded in), its exit status. */
function script(steps: readonly Step[]): string {
  const names = new Set<string>();
  const parts = ['set +e'];
  for (const s of steps) {
    if (names.has(s.name) || !/^[^'\n]+$/.test(s.name)) throw new Error(`bad step name: ${s.name}`);
    names.add(s.name);
    parts.push(`echo '### ${s.name}'`, `(\n${s.sh}\n) 2>&1`, 'echo "### exit $?"');
  }
  parts.push('exit 0');
  return parts.join('\n');
}

function parse(stdout: string): Map<string, Section> {
  const steps = new Map<string, Section>();
  let name: string | undefined;
  let lines: string[] = [];
  for (const line of stdout.split('\n')) {
    const exit = /^### exit (\d+)$/.exec(line);
    if (exit && name !== undefined) {
      steps.set(name, { out: lines.join('\n'), exit: Number(exit[1]) });
      name = undefined;
    } else if (line.startsWith('### ') && name === undefined) {
      name = line.slice(4);
      lines = [];
    } else if (name !== undefined) {
      lines.push(line);
    }
  }
  return steps;
}

function normalize(r: RunResult, dir: string): RunResult {
  const fix = (s: string): string => s.split(dir).join('$W');
  return { ...r, stdout: fix(r.stdout), stderr: fix(r.stderr) };
}

/**
 * Prepares two identical work dirs, runs the steps natively in one and sandboxed
 * in the other (one after the other), and returns both sides' step outputs.
 */
async function workload(
  prefix: string,
  prepare: (dir: string) => void,
  steps: readonly Step[],
  env: Readonly<Record<string, string>> = BASE_ENV,
): Promise<Outcome> {
  const text = script(steps);
  const side = async (which: 'nat' | 'sbx'): Promise<Side> => {
    const dir = makeWorkDir(`tools-${prefix}-${which}`);
    dirs.push(dir);
    prepare(dir);
    const argv = ['bash', '-c', text];
    const opts = { cwd: dir, env: { ...env, W: dir }, timeoutMs: 100_000 };
    const raw = which === 'nat' ? await runNative(argv, opts) : await runSandboxed(argv, opts);
    const run = normalize(raw, dir);
    return { run, steps: parse(run.stdout) };
  };
  const native = await side('nat');
  const sandboxed = await side('sbx');
  return { native, sandboxed };
}

/** Every step: same output, same exit status; and the scripts themselves end the same way. */
function expectSameSteps(o: Outcome, steps: readonly Step[]): void {
  expect(o.native.run.status, `native run failed:\n${o.native.run.stderr}`).toBe(0);
  expect([...o.native.steps.keys()], 'native ran every step').toEqual(steps.map((s) => s.name));
  for (const s of steps) {
    expect.soft(o.sandboxed.steps.get(s.name), `step "${s.name}"`).toEqual(o.native.steps.get(s.name));
  }
  expect.soft(o.sandboxed.run.stderr, 'stderr of the script').toBe(o.native.run.stderr);
  expect.soft(o.sandboxed.run.status, 'exit status of the script').toBe(o.native.run.status);
}

/** A native step's output; fails the test if the step is missing. */
function out(side: Side, step: string): Section {
  const s = side.steps.get(step);
  if (s === undefined) throw new Error(`no step "${step}" in:\n${side.run.stdout}\n${side.run.stderr}`);
  return s;
}

/** A listing without its "== root" header line (so two roots' listings compare). */
function body(listing: string): string {
  return listing.split('\n').filter((l) => !l.startsWith('== ')).join('\n');
}

/** A listing with the xattrs fields left out (for copies made by a tool that does not keep them). */
function withoutXattrs(listing: string): string {
  return listing.replace(/ xattrs\{[^}]*\}/g, '');
}

// ---------------------------------------------------------------------------
// The inputs, written on the host.

/** 2021-01-02T03:04:05Z, in seconds: every input's mtime is this plus a multiple of 3607 s. */
const T0 = Date.UTC(2021, 0, 2, 3, 4, 5) / 1000;

/** Deterministic bytes that do not compress to nothing. */
function bytes(seed: string, n: number): Buffer {
  const parts: Buffer[] = [];
  for (let i = 0; parts.length * 32 < n; i++) parts.push(createHash('sha256').update(`${seed}:${i}`).digest());
  return Buffer.concat(parts).subarray(0, n);
}

function setXattrs(p: string, pairs: ReadonlyArray<readonly [string, string]>): void {
  const code = 'import os, sys\nfor i in range(2, len(sys.argv), 2): os.setxattr(sys.argv[1], sys.argv[i], bytes.fromhex(sys.argv[i + 1]))';
  execFileSync('/usr/bin/python3', ['-c', code, p, ...pairs.flatMap(([n, v]) => [n, Buffer.from(v, 'latin1').toString('hex')])]);
}

/** Gives every entry under root (root included) a fixed mtime and atime, in sorted path order. */
function fixTimes(root: string): void {
  const all: string[] = [];
  const walk = (rel: string): void => {
    all.push(rel);
    const p = path.join(root, rel);
    if (fs.lstatSync(p).isDirectory()) for (const n of fs.readdirSync(p)) walk(path.join(rel, n));
  };
  walk('.');
  all.sort();
  all.forEach((rel, i) => {
    const t = T0 + i * 3607;
    fs.lutimesSync(path.join(root, rel), t, t);
  });
}

const LONG_NAME = `long-${'n'.repeat(150)}.txt`;
const DEEP_DIRS = ['a', 'b', 'c', 'd'].map((c) => `${c}${'x'.repeat(59)}`);

/**
 * The tree that tar, cp and find work on: regular files with odd modes, an
 * empty, a big and a sparse file, setuid, setgid and sticky bits, a file owned
 * by an unknown user, names with spaces, UTF-8 and over 100 bytes (tar's old
 * limit), a path over 256 bytes, hardlinks (three names), symlinks (relative,
 * absolute, dangling, to a directory), a FIFO, user xattrs, and C sources.
 */
function makeTree(dir: string): void {
  const t = path.join(dir, 'tree');
  const file = (rel: string, content: string | Buffer, mode: number): void => {
    fs.writeFileSync(path.join(t, rel), content);
    fs.chmodSync(path.join(t, rel), mode);
  };
  const mkdir = (rel: string, mode: number): void => {
    fs.mkdirSync(path.join(t, rel), { recursive: true });
    fs.chmodSync(path.join(t, rel), mode);
  };
  mkdir('.', 0o755);
  mkdir('sub/deep', 0o755);
  mkdir('sub', 0o755);
  mkdir('shared', 0o2775);
  mkdir('sticky', 0o1777);
  mkdir('private', 0o700);
  mkdir('emptydir', 0o750);
  mkdir('src', 0o755);
  mkdir(DEEP_DIRS.join('/'), 0o755);
  file('README', 'a tree for tar, cp and find\n', 0o644);
  file('secret', 'only the owner reads this\n', 0o600);
  file('script.sh', '#!/bin/sh\necho script ran\n', 0o755);
  file('readonly.txt', 'read only\n', 0o444);
  file('suid-prog', '#!/bin/sh\necho suid\n', 0o4755);
  file('empty', '', 0o644);
  file('big.bin', bytes('big', 1 << 20), 0o640);
  file('with space.txt', 'spaces in the name\n', 0o644);
  file('\u00fcn\u00efc\u00f6d\u00e9.txt', 'utf-8 name\n', 0o644);
  file(LONG_NAME, 'a long name\n', 0o644);
  file(path.join(...DEEP_DIRS, `${'f'.repeat(80)}.txt`), 'a long path\n', 0o644);
  file('shared/group.txt', 'in a setgid dir\n', 0o664);
  file('sticky/tmpfile', 'in a sticky dir\n', 0o666);
  file('private/key', 'private\n', 0o400);
  file('sub/deep/notes.txt', 'deep notes\n', 0o644);
  file('sub/data.csv', 'a,b\n1,2\n3,4\n', 0o644);
  file('src/main.c', '#include "util.h"\nint main(void) { return util(); }\n', 0o644);
  file('src/util.c', '#include "util.h"\nint util(void)\n{\n\treturn 0;\n}\n', 0o644);
  file('src/util.h', 'int util(void);\n', 0o644);
  file('hard-a', 'one inode, three names\n', 0o644);
  fs.linkSync(path.join(t, 'hard-a'), path.join(t, 'sub/hard-b'));
  fs.linkSync(path.join(t, 'hard-a'), path.join(t, 'sub/deep/hard-c'));
  // A sparse file: 3 MiB long, one byte of data at 1 MiB.
  const fd = fs.openSync(path.join(t, 'sparse'), 'w', 0o644);
  fs.writeSync(fd, 'x', 1 << 20);
  fs.ftruncateSync(fd, 3 << 20);
  fs.closeSync(fd);
  fs.chmodSync(path.join(t, 'sparse'), 0o644);
  file('owned', 'owned by 1234:5678\n', 0o640);
  fs.chownSync(path.join(t, 'owned'), 1234, 5678);
  fs.symlinkSync('README', path.join(t, 'link-rel'));
  fs.symlinkSync('/etc/hostname', path.join(t, 'link-abs'));
  fs.symlinkSync('does/not/exist', path.join(t, 'link-dangling'));
  fs.symlinkSync('sub', path.join(t, 'link-dir'));
  fs.symlinkSync('../README', path.join(t, 'sub/link-up'));
  fs.symlinkSync('owned', path.join(t, 'link-owned'));
  fs.lchownSync(path.join(t, 'link-owned'), 1234, 5678);
  execFileSync('mkfifo', ['-m', '0640', path.join(t, 'fifo')]);
  setXattrs(path.join(t, 'README'), [['user.comment', 'hello'], ['user.bin', '\x00\x01\x02\xff']]);
  setXattrs(path.join(t, 'sub'), [['user.dir', 'a directory attribute']]);
  fixTimes(t);
}

// ---------------------------------------------------------------------------

describe('tar', () => {
  const TAR_STEPS: readonly Step[] = [
    // --sort=name: the archive's order must not depend on readdir order (Linux
    // promises none), so the archives themselves can be compared byte for byte.
    { name: 'tar -cf', sh: 'tar --sort=name -cf plain.tar tree && sha256sum plain.tar' },
    { name: 'tar -tvf', sh: 'tar -tvf plain.tar' },
    { name: 'tar -czf', sh: 'tar --sort=name -czf plain.tgz tree && gzip -t plain.tgz && gzip -dc plain.tgz | sha256sum' },
    { name: 'tar -tzvf', sh: 'tar -tzvf plain.tgz' },
    {
      name: 'tar --xattrs --format=posix -cf',
      sh: 'tar --sort=name --xattrs --format=posix --pax-option=delete=atime,delete=ctime -cf x.tar tree && sha256sum x.tar',
    },
    { name: 'tar --xattrs -tvf', sh: 'tar --xattrs -tvf x.tar' },
    { name: 'tar -xpf', sh: 'mkdir out1 && tar -xpf plain.tar -C out1' },
    { name: 'tar -xzpf', sh: 'mkdir out2 && tar -xzpf plain.tgz -C out2' },
    { name: 'tar --xattrs -xpf', sh: 'mkdir out3 && tar --xattrs -xpf x.tar -C out3' },
    { name: 'tar -cf - | tar -xpf -', sh: 'mkdir out4 && tar -cf - tree | (cd out4 && tar -xpf -)' },
    // An archive whose times lie beyond what any file system stores: Linux
    // clamps them to the file system's range and succeeds (the clamped values
    // are the file system's own, so only success is compared).
    {
      name: 'tar -xpf of an archive with far-future mtimes',
      sh: 'tar --mtime=@10000000000000000 -cf far.tar tree/src && mkdir far && tar --warning=no-timestamp -xpf far.tar -C far',
    },
    { name: 'tar -xpf again, over the extracted files', sh: 'tar -xpf plain.tar -C out1' },
    // --overwrite writes into the existing files instead of replacing them (GNU
    // tar then reports the setuid file's mode as differing: same on both sides).
    {
      name: 'tar --overwrite -xpf',
      sh: 'mkdir out5 && tar -xpf plain.tar -C out5 && tar --overwrite -xpf plain.tar -C out5 && stat -c "%a %s %n" out5/tree/suid-prog out5/tree/hard-a; cd out5 && tar -df ../plain.tar; true',
    },
    { name: 'tar -df (archive vs extracted tree)', sh: 'cd out1 && tar -df ../plain.tar' },
    { name: 'extracted script runs', sh: './out1/tree/script.sh && cat out1/tree/link-rel' },
    { name: 'list tree', sh: `${LISTER} --mtime tree` },
    { name: 'list out1', sh: `${LISTER} --mtime out1/tree` },
    { name: 'list out2', sh: `${LISTER} --mtime out2/tree` },
    { name: 'list out3', sh: `${LISTER} --mtime out3/tree` },
    { name: 'list out4', sh: `${LISTER} --mtime out4/tree` },
  ];

  it('tar -cf, -czf, --xattrs; list -tvf; extract -xpf; trees and archives as natively', async () => {
    const o = await workload('tar', makeTree, TAR_STEPS);
    const n = o.native;
    // The native run shows what the comparison relies on: every step succeeded,
    // the tree has what makeTree made, and every extraction equals the source
    // (mtimes included; xattrs only where --xattrs was given).
    for (const s of TAR_STEPS) expect(out(n, s.name).exit, `native step ${s.name}`).toBe(0);
    const src = out(n, 'list tree').out;
    for (const want of ["\n'fifo' p 00640", "\n'shared' d 02775", "'suid-prog' f 04755", 'uid=1234 gid=5678', "same-as='hard-a'", 'xattrs{user.bin=0001', LONG_NAME]) {
      expect(src).toContain(want);
    }
    expect(body(out(n, 'list out1').out)).toBe(withoutXattrs(body(src)));
    expect(body(out(n, 'list out2').out)).toBe(withoutXattrs(body(src)));
    expect(body(out(n, 'list out3').out)).toBe(body(src));
    expect(body(out(n, 'list out4').out)).toBe(withoutXattrs(body(src)));
    expectSameSteps(o, TAR_STEPS);
  });
});

describe('cp', () => {
  const CP_STEPS: readonly Step[] = [
    { name: 'cp -a', sh: 'cp -a tree copy1' },
    { name: 'cp -a --preserve=all', sh: 'cp -a --preserve=all tree copy2' },
    // The source of this one was written in the sandbox (the overlay's upper layer).
    { name: 'cp -a of a copy', sh: 'cp -a copy1 copy3' },
    { name: 'cp -r (no preserve)', sh: 'cp -r tree copy4' },
    { name: 'cp -a onto an existing copy', sh: 'cp -a tree/. copy3/' },
    { name: 'list tree', sh: `${LISTER} --mtime tree` },
    { name: 'cp -al (hardlink farm)', sh: 'cp -al tree linked && stat -c "%h %n" tree/README linked/README linked/hard-a' },
    { name: 'list copy1', sh: `${LISTER} --mtime copy1` },
    { name: 'list copy2', sh: `${LISTER} --mtime copy2` },
    { name: 'list copy3', sh: `${LISTER} --mtime copy3` },
    { name: 'list copy4', sh: `${LISTER} copy4` },
    { name: 'list linked', sh: `${LISTER} --mtime linked` },
    // The input tree's three names of one file: a write through one shows through the others.
    { name: 'append through one hardlink, read the others', sh: 'echo appended >> tree/hard-a && cat tree/sub/hard-b tree/sub/deep/hard-c' },
  ];

  it('cp -a keeps modes, owners, mtimes, hardlinks, symlinks, FIFOs and xattrs as natively', async () => {
    const o = await workload('cp', makeTree, CP_STEPS);
    const n = o.native;
    for (const s of CP_STEPS) expect(out(n, s.name).exit, `native step ${s.name}`).toBe(0);
    const src = body(out(n, 'list tree').out);
    expect(src).toContain('xattrs{user.bin=0001');
    for (const c of ['copy1', 'copy2', 'copy3']) expect(body(out(n, `list ${c}`).out), c).toBe(src);
    expect(body(out(n, 'list copy4').out)).not.toBe(src);
    expectSameSteps(o, CP_STEPS);
  });
});

describe('find', () => {
  const FIND_STEPS: readonly Step[] = [
    { name: 'find -type f -exec sha256sum {} +', sh: 'find tree -type f -exec sha256sum {} + | sort' },
    {
      name: 'find -name *.c -exec sh -c ... ;',
      sh: `find tree -name '*.c' -exec sh -c 'printf "%s %s lines\\n" "$1" "$(wc -l < "$1")"' _ {} \\; | sort`,
    },
    { name: 'find -execdir', sh: `find tree -name '*.txt' -execdir sh -c 'echo "$PWD" "$1"' _ {} \\; | sort` },
    { name: 'find -newer', sh: "touch -d '2021-01-03 00:00:00 UTC' ref && find tree -newer ref | sort" },
    { name: 'find -perm -u+x -type f', sh: 'find tree -perm -u+x -type f | sort' },
    { name: 'find -perm /6000', sh: 'find tree -perm /6000 | sort' },
    { name: 'find -perm -o+w', sh: 'find tree -perm -o+w ! -type l | sort' },
    { name: 'find -type l -printf', sh: "find tree -type l -printf '%p -> %l %U:%G\\n' | sort" },
    { name: 'find -links +1', sh: 'find tree -type f -links +1 -printf "%n %p\\n" | sort' },
    { name: 'find -empty', sh: 'find tree -empty | sort' },
    { name: 'find -user -group', sh: 'find tree -user 1234 -group 5678 | sort' },
    { name: 'find -size', sh: 'find tree -type f -size +100k -printf "%s %p\\n" | sort' },
    { name: 'find -xtype l (dangling)', sh: 'find tree -xtype l | sort' },
    { name: 'find -L -type d', sh: 'find -L tree -type d 2>&1 | sort' },
    { name: 'find -printf (non-directories)', sh: "find tree ! -type d -printf '%y %m %U %G %s %T@ %p\\n' | sort" },
    { name: 'find -printf (directories)', sh: "find tree -type d -printf '%y %m %U %G %T@ %p\\n' | sort" },
    { name: 'find -maxdepth -mindepth', sh: 'find tree -mindepth 2 -maxdepth 2 -type d | sort' },
    { name: 'find -prune', sh: 'find tree -path tree/sub -prune -o -type f -print | sort' },
    { name: 'find -exec false (status)', sh: 'find tree -name README -exec false {} +' },
    { name: 'find missing path (status)', sh: 'find tree/nonexistent' },
    // Changes through find: on a copy, then listed.
    { name: 'cp -a', sh: 'cp -a tree work' },
    { name: 'find -exec chmod +', sh: 'find work -type f -name "*.txt" -exec chmod 0600 {} +' },
    { name: 'find -delete', sh: 'find work -name "*.c" -delete && find work -name "*.c" | wc -l' },
    { name: 'find -exec mv ;', sh: 'find work -maxdepth 1 -name "*.sh" -exec mv {} {}.bak \\;' },
    { name: 'list work', sh: `${LISTER} work` },
  ];

  it('find with -exec, -execdir, -newer, -perm, -printf and -delete prints what it prints natively', async () => {
    const o = await workload('find', makeTree, FIND_STEPS);
    const n = o.native;
    expect(out(n, 'find -type f -exec sha256sum {} +').out.split('\n').length).toBeGreaterThan(20);
    expect(out(n, 'find -perm /6000').out).toBe('tree/shared\ntree/suid-prog');
    expect(out(n, 'find -exec false (status)').exit).toBe(1);
    expect(out(n, 'find missing path (status)').exit).toBe(1);
    expect(out(n, 'find -newer').out).not.toBe('');
    expect(out(n, 'list work').out).toContain("'script.sh.bak' f 00755");
    expectSameSteps(o, FIND_STEPS);
  });
});

// ---------------------------------------------------------------------------

describe('git', () => {
  /** Fixed dates and no host config: the commit hashes must be the same on both sides. */
  const GIT_ENV: Readonly<Record<string, string>> = {
    ...BASE_ENV,
    GIT_AUTHOR_DATE: '2021-02-03T04:05:06Z',
    GIT_COMMITTER_DATE: '2021-02-03T04:05:06Z',
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_CONFIG_GLOBAL: '/dev/null',
  };

  function makeProject(dir: string): void {
    const p = path.join(dir, 'proj');
    fs.mkdirSync(path.join(p, 'src', 'lib'), { recursive: true });
    fs.mkdirSync(path.join(p, 'docs'));
    fs.writeFileSync(path.join(p, 'README.md'), '# proj\n\nA small project.\n');
    fs.writeFileSync(path.join(p, 'src', 'main.c'), '#include "lib/util.h"\nint main(void) { return util(); }\n');
    fs.writeFileSync(path.join(p, 'src', 'lib', 'util.c'), 'int util(void) { return 0; }\n');
    fs.writeFileSync(path.join(p, 'src', 'lib', 'util.h'), 'int util(void);\n');
    fs.writeFileSync(path.join(p, 'docs', 'guide.txt'), Array.from({ length: 200 }, (_, i) => `line ${i}\n`).join(''));
    fs.writeFileSync(path.join(p, 'build.sh'), '#!/bin/sh\ncc -o main src/main.c src/lib/util.c\n', { mode: 0o755 });
    fs.writeFileSync(path.join(p, 'data.bin'), bytes('git', 64 << 10));
    fs.writeFileSync(path.join(p, '.gitignore'), '*.o\nmain\n');
    fs.symlinkSync('docs/guide.txt', path.join(p, 'GUIDE'));
  }

  const GIT_STEPS: readonly Step[] = [
    { name: 'git init', sh: 'git init -b main repo' },
    { name: 'git config', sh: 'cd repo && git config user.name "Test User" && git config user.email test@example.com && git config pack.threads 1' },
    // What git init found out about the file system by trying it (core.filemode, core.symlinks, ...).
    { name: 'git config --local --list', sh: 'cd repo && git config --local --list' },
    { name: 'copy files in', sh: 'cp -a proj/. repo/ && echo "ignored" > repo/x.o' },
    { name: 'git status before add', sh: 'cd repo && git status --porcelain' },
    { name: 'git add', sh: 'cd repo && git add -A && git status --porcelain' },
    { name: 'git commit', sh: 'cd repo && git commit -q -m "initial import" && git rev-parse HEAD' },
    { name: 'git ls-files -s', sh: 'cd repo && git ls-files -s' },
    { name: 'git status clean', sh: 'cd repo && git status --porcelain && touch README.md && git status --porcelain && git diff --stat' },
    {
      name: 'edit, mv, rm, chmod',
      sh: 'cd repo && echo "more" >> README.md && git mv docs/guide.txt docs/manual.txt && ln -sfn docs/manual.txt GUIDE && git rm -q data.bin && chmod -x build.sh && git status --porcelain',
    },
    { name: 'git diff --stat', sh: 'cd repo && git diff --stat && git diff --summary' },
    { name: 'git commit -a', sh: 'cd repo && git add -A && git commit -q -m "second" && git rev-parse HEAD' },
    { name: 'git branch and checkout', sh: 'cd repo && git checkout -q -b feature && git branch' },
    {
      name: 'commit on the branch',
      sh: 'cd repo && printf "int extra(void) { return 1; }\\n" > src/lib/extra.c && git add src/lib/extra.c && git commit -q -m "extra" && git rev-parse HEAD',
    },
    { name: 'checkout main', sh: 'cd repo && git checkout -q main && ls src/lib && git status --porcelain' },
    { name: 'merge --no-ff', sh: 'cd repo && git merge -q --no-ff -m "merge feature" feature && git rev-parse HEAD' },
    { name: 'git tag -a', sh: 'cd repo && git tag -a v1.0 -m "release 1.0" && git rev-parse v1.0' },
    { name: 'git log --oneline --graph', sh: 'cd repo && git log --oneline --graph --all --decorate' },
    { name: 'git log --stat', sh: 'cd repo && git log --stat --format="%H %an <%ae> %ad %s" --date=iso-strict' },
    { name: 'git gc', sh: 'cd repo && git gc -q && git count-objects -v' },
    { name: 'git verify-pack', sh: 'cd repo && git verify-pack -v .git/objects/pack/*.idx | sort' },
    { name: 'git fsck', sh: 'cd repo && git fsck --full --strict' },
    { name: 'git archive', sh: 'cd repo && git archive --format=tar v1.0 | sha256sum && git archive --format=tar v1.0 | tar -tvf -' },
    { name: 'git clone (local, hardlinks)', sh: 'git clone -q repo clone && git -C clone log --oneline && git -C clone status --porcelain' },
    { name: 'git stash', sh: 'cd clone && echo wip >> README.md && git stash -q && git status --porcelain && git stash list | wc -l && git stash pop -q && git status --porcelain' },
    { name: 'git reset --hard', sh: 'cd clone && git reset -q --hard HEAD~1 && git rev-parse HEAD && ls src/lib' },
    { name: '.git layout', sh: 'find repo/.git -path "*/objects/*" -o -name index -prune -o -printf "%y %m %P\\n" | sort' },
    { name: 'list repo', sh: `${LISTER} --skip .git repo` },
    { name: 'list clone', sh: `${LISTER} --skip .git clone` },
  ];

  it('git init, add, commit, branch, merge, gc, clone: same hashes and outputs as natively', async () => {
    const o = await workload('git', makeProject, GIT_STEPS, GIT_ENV);
    const n = o.native;
    for (const s of GIT_STEPS) expect(out(n, s.name).exit, `native step ${s.name}`).toBe(0);
    expect(out(n, 'git commit').out).toMatch(/^[0-9a-f]{40}$/);
    expect(out(n, 'git log --oneline --graph').out).toContain('merge feature');
    expect(out(n, 'git status clean').out).toBe('');
    expectSameSteps(o, GIT_STEPS);
  });
});

// ---------------------------------------------------------------------------

describe('sqlite3', () => {
  function makeSql(dir: string): void {
    const inserts = Array.from({ length: 3000 }, (_, i) => `INSERT INTO items(name, qty, price) VALUES ('item-${i}', ${i % 97}, ${(i * 1.25).toFixed(2)});`);
    fs.writeFileSync(
      path.join(dir, 'create.sql'),
      [
        'PRAGMA journal_mode;',
        'CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE, qty INTEGER, price REAL, note BLOB);',
        'BEGIN;',
        ...inserts,
        'COMMIT;',
        'CREATE INDEX items_qty ON items(qty);',
        'SELECT count(*), sum(qty), printf("%.2f", sum(price)) FROM items;',
        'SELECT qty, count(*) FROM items GROUP BY qty ORDER BY count(*) DESC, qty LIMIT 5;',
        'PRAGMA integrity_check;',
        '',
      ].join('\n'),
    );
  }

  const SQL_STEPS: readonly Step[] = [
    { name: 'create, insert in a transaction (rollback journal)', sh: 'sqlite3 app.db < create.sql' },
    {
      name: 'recursive insert, update, rollback',
      sh:
        'sqlite3 app.db "BEGIN; WITH RECURSIVE n(x) AS (SELECT 1 UNION ALL SELECT x+1 FROM n WHERE x < 20000)' +
        " INSERT INTO items(name, qty, price, note) SELECT 'gen-' || x, x % 13, x / 8.0, zeroblob(x % 3) FROM n; COMMIT;" +
        " UPDATE items SET qty = qty + 1 WHERE id % 7 = 0; BEGIN; DELETE FROM items; ROLLBACK; SELECT count(*), sum(qty) FROM items;\"",
    },
    { name: 'journal_mode=TRUNCATE', sh: 'sqlite3 app.db "PRAGMA journal_mode=TRUNCATE; DELETE FROM items WHERE id % 11 = 0; SELECT changes(), count(*) FROM items;" && ls app.db*' },
    { name: 'journal_mode=PERSIST', sh: 'sqlite3 app.db "PRAGMA journal_mode=PERSIST; INSERT INTO items(name) VALUES (\'persist\'); SELECT count(*) FROM items;" && ls app.db*' },
    {
      name: 'journal_mode=WAL, a second process reads the WAL',
      sh: [
        "sqlite3 app.db <<'EOF'",
        'PRAGMA journal_mode=WAL;',
        'PRAGMA wal_autocheckpoint=0;',
        'PRAGMA mmap_size=67108864;',
        "INSERT INTO items(name, qty) SELECT 'wal-' || id, 1 FROM items WHERE id % 5 = 0;",
        'SELECT count(*) FROM items;',
        // The writer's connection stays open (no checkpoint): the reader must find the rows in the WAL, through the shared -shm index.
        `.shell sqlite3 app.db "SELECT count(*) FROM items WHERE name LIKE 'wal-%'" && ls app.db*`,
        'PRAGMA wal_checkpoint(TRUNCATE);',
        'EOF',
        'ls app.db*',
      ].join('\n'),
    },
    {
      name: 'a writer is locked out while another holds a write lock',
      sh: [
        "sqlite3 app.db <<'EOF'",
        'BEGIN IMMEDIATE;',
        "INSERT INTO items(name) VALUES ('locker');",
        `.shell sqlite3 app.db "INSERT INTO items(name) VALUES ('blocked')"; echo "second writer: $?"`,
        'COMMIT;',
        "SELECT count(*) FROM items WHERE name IN ('locker', 'blocked');",
        'EOF',
      ].join('\n'),
    },
    { name: 'back to DELETE, vacuum', sh: 'sqlite3 app.db "PRAGMA journal_mode=DELETE; VACUUM; PRAGMA integrity_check;" && ls app.db*' },
    { name: 'mmap reads', sh: 'sqlite3 app.db "PRAGMA mmap_size=67108864; SELECT sum(length(name)), max(id) FROM items; PRAGMA quick_check;"' },
    { name: '.backup and VACUUM INTO', sh: 'sqlite3 app.db ".backup copy.db" "VACUUM INTO \'into.db\'" && sqlite3 copy.db "PRAGMA integrity_check; SELECT count(*) FROM items" && sqlite3 into.db "SELECT count(*) FROM items"' },
    { name: '.dump', sh: 'sqlite3 app.db .dump | sha256sum && sqlite3 app.db .dump | wc -l' },
    { name: 'a write through a read-only open fails', sh: 'sqlite3 -readonly copy.db "INSERT INTO items(name) VALUES (\'x\')"' },
    { name: 'list', sh: `${LISTER} .` },
  ];

  it('sqlite3 on a file database: transactions, journal modes, WAL with a second process, locks, as natively', async () => {
    const o = await workload('sqlite', makeSql, SQL_STEPS);
    const n = o.native;
    expect(out(n, 'create, insert in a transaction (rollback journal)').out).toContain('3000|');
    expect(out(n, 'journal_mode=WAL, a second process reads the WAL').out).toContain('app.db-wal');
    expect(out(n, 'a writer is locked out while another holds a write lock').out).toMatch(/database is locked[\s\S]*\n1$/);
    expect(out(n, 'a write through a read-only open fails').exit).not.toBe(0);
    expectSameSteps(o, SQL_STEPS);
  });
});

// ---------------------------------------------------------------------------

describe('make', () => {
  function makeCProject(dir: string): void {
    const p = path.join(dir, 'proj');
    fs.mkdirSync(p);
    const files: Record<string, string> = {
      Makefile: [
        'CC = gcc',
        'CFLAGS = -O2 -Wall -Werror',
        'OBJS = main.o util.o mathx.o',
        '',
        'prog: $(OBJS)',
        '\t$(CC) -o $@ $(OBJS)',
        '',
        'main.o: main.c util.h mathx.h version.h',
        'util.o: util.c util.h',
        'mathx.o: mathx.c mathx.h',
        '',
        'version.h: VERSION',
        '\techo "#define VERSION \\"$$(cat VERSION)\\"" > $@',
        '',
        'check: prog',
        '\t./prog 5 && ./prog 10',
        '',
        'clean:',
        '\trm -f prog $(OBJS) version.h',
        '',
        '.PHONY: check clean',
        '',
      ].join('\n'),
      'main.c': [
        '#include <stdio.h>',
        '#include <stdlib.h>',
        '#include "util.h"',
        '#include "mathx.h"',
        '#include "version.h"',
        'int main(int argc, char **argv)',
        '{',
        '\tint n = argc > 1 ? atoi(argv[1]) : 7;',
        '\tprintf("%s v%s: fib(%d) = %ld, %s\\n", greeting(), VERSION, n, fib(n), shout("done"));',
        '\treturn 0;',
        '}',
        '',
      ].join('\n'),
      'util.h': '#ifndef UTIL_H\n#define UTIL_H\nconst char *greeting(void);\nconst char *shout(const char *s);\n#endif\n',
      'util.c': [
        '#include <ctype.h>',
        '#include <string.h>',
        '#include "util.h"',
        'static char buf[64];',
        'const char *greeting(void) { return "hello"; }',
        'const char *shout(const char *s)',
        '{',
        '\tsize_t i;',
        '\tfor (i = 0; s[i] && i < sizeof buf - 1; i++) buf[i] = (char)toupper((unsigned char)s[i]);',
        "\tbuf[i] = '\\0';",
        '\treturn buf;',
        '}',
        '',
      ].join('\n'),
      'mathx.h': '#ifndef MATHX_H\n#define MATHX_H\nlong fib(int n);\n#endif\n',
      'mathx.c': '#include "mathx.h"\nlong fib(int n) { long a = 0, b = 1; while (n-- > 0) { long t = a + b; a = b; b = t; } return a; }\n',
      VERSION: '1.2.3\n',
    };
    for (const [name, text] of Object.entries(files)) fs.writeFileSync(path.join(p, name), text);
    fixTimes(p);
  }

  const MAKE_STEPS: readonly Step[] = [
    { name: 'make', sh: 'make -C proj' },
    { name: 'run', sh: './proj/prog 30' },
    { name: 'make again: up to date', sh: 'make -C proj' },
    { name: 'make -q', sh: 'make -q -C proj' },
    { name: 'touch util.h, make -n', sh: 'touch proj/util.h && make -n -C proj' },
    { name: 'make -q after touch', sh: 'make -q -C proj' },
    { name: 'make rebuilds dependents only', sh: 'make -C proj' },
    { name: 'touch mathx.c, make', sh: 'touch proj/mathx.c && make -C proj' },
    { name: 'change VERSION, make check', sh: 'echo 2.0.0 > proj/VERSION && make -C proj check' },
    { name: 'list build', sh: `${LISTER} proj` },
    { name: 'a compile error fails make', sh: 'echo "int broken(void) { return x; }" >> proj/mathx.c && make -C proj; echo "make: $?"; ls proj/mathx.o' },
    { name: 'make clean', sh: 'make -C proj clean && ls proj' },
    { name: 'make -j2 -s from clean', sh: 'sed -i "$ d" proj/mathx.c && make -j2 -s -C proj && ./proj/prog' },
  ];

  it('make builds, rebuilds only what depends on a touched header, cleans: as natively', async () => {
    const o = await workload('make', makeCProject, MAKE_STEPS);
    const n = o.native;
    expect(out(n, 'run').out).toBe('hello v1.2.3: fib(30) = 832040, DONE');
    expect(out(n, 'make again: up to date').out).toContain("'prog' is up to date");
    expect(out(n, 'make -q').exit).toBe(0);
    expect(out(n, 'make -q after touch').exit).toBe(1);
    const rebuilt = out(n, 'make rebuilds dependents only').out;
    expect(rebuilt).toContain('main.c');
    expect(rebuilt).toContain('util.c');
    expect(rebuilt).not.toContain('mathx.c');
    expect(out(n, 'a compile error fails make').out).toMatch(/make: 2\n/);
    expectSameSteps(o, MAKE_STEPS);
  });
});
