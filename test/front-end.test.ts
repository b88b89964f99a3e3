// The native front end (native/front/tsvisor.c, run as bin/tsvisor-runtime):
// it passes every argument on as it is, keeps NODE_EXTRA_CA_CERTS from Node's
// start-up (Node 20 loads those certificates before any JavaScript runs)
// without taking it from what tsvisor runs, does the same for tsvisor's own
// daemon, and says what is wrong when it cannot run the CLI.
//
// A certificate file that does not exist makes Node print a warning as it
// starts: that is how these tests see whether Node loaded it.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { makeBundle, makeBusyboxRootfs } from './helpers/busybox-rootfs.js';
import { CLI, PROJECT_ROOT, runNative } from './helpers/sandbox.js';

const FRONT_END = path.join(PROJECT_ROOT, 'bin', 'tsvisor-runtime');
const tmp = fs.mkdtempSync('/var/tmp/tsvisor-front-end-');
const MISSING_CERTS = path.join(tmp, 'no-such-certificates.pem');
const NODE_WARNING = /Ignoring extra certs from/;

afterAll(() => {
  fs.rmSync(tmp, { recursive: true, force: true });
});

interface Result { status: number | null; stdout: string; stderr: string }

function run(file: string, args: readonly string[], env: NodeJS.ProcessEnv = { ...process.env, NODE_EXTRA_CA_CERTS: MISSING_CERTS }): Result {
  const r = spawnSync(file, args, { encoding: 'utf8', env, timeout: 90_000 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

describe('the front end', () => {
  it('keeps NODE_EXTRA_CA_CERTS from Node\'s start-up, which Node alone loads', () => {
    const direct = run(process.execPath, [CLI, 'features']);
    expect(direct.status, direct.stderr).toBe(0);
    expect(direct.stderr).toMatch(NODE_WARNING);
    const front = run(FRONT_END, ['features']);
    expect(front.status, front.stderr).toBe(0);
    expect(front.stderr).not.toMatch(NODE_WARNING);
    expect(front.stdout).toBe(direct.stdout);
  });

  it('passes every argument on as it is, and gives the sandboxed program the environment it was given', async () => {
    const argv = ['/bin/sh', '-c', 'printf "[%s]" "$@"; echo; echo "certs=$NODE_EXTRA_CA_CERTS"; env | grep -c "^TSVISOR_SAVED" || true', 'sh', 'a b', '', '--root', '-x', 'ünï'];
    const env = { PATH: '/usr/bin:/bin', NODE_EXTRA_CA_CERTS: MISSING_CERTS };
    const native = await runNative(argv, { cwd: tmp, env });
    const sandboxed = run(FRONT_END, ['do', '--', ...argv], { ...process.env, ...env });
    expect(sandboxed.status, sandboxed.stderr).toBe(0);
    expect(sandboxed.stdout).toBe(native.stdout);
    expect(sandboxed.stdout).toContain(`certs=${MISSING_CERTS}\n0\n`);
    expect(sandboxed.stderr).not.toMatch(NODE_WARNING);
  });

  it('starts an OCI container\'s daemon with the certificates kept from it too', () => {
    const rootfs = path.join(tmp, 'bundle', 'rootfs');
    makeBusyboxRootfs(rootfs);
    const bundle = makeBundle<{ root: { path: string }; process: { terminal: boolean; args: string[] } }>(CLI, path.join(tmp, 'bundle'), 'rootfs', (c) => {
      c.process.args = ['/bin/true'];
    });
    const global = ['--root', path.join(tmp, 'state')];
    // create leaves the daemon our stderr: a file, which it writes to as it starts.
    const log = path.join(tmp, 'create.log');
    const fd = fs.openSync(log, 'w');
    try {
      const r = spawnSync(FRONT_END, [...global, 'create', '--bundle', bundle, 'c1'], {
        stdio: ['ignore', fd, fd], env: { ...process.env, NODE_EXTRA_CA_CERTS: MISSING_CERTS }, timeout: 90_000,
      });
      expect(r.status, fs.readFileSync(log, 'utf8')).toBe(0);
    } finally {
      fs.closeSync(fd);
      run(FRONT_END, [...global, 'delete', '--force', 'c1']);
    }
    expect(fs.readFileSync(log, 'utf8')).not.toMatch(NODE_WARNING);
  });

  it('says which file is missing when the CLI is not built beside it, and exits 127', () => {
    const release = path.join(tmp, 'unbuilt', 'build', 'Release');
    fs.mkdirSync(release, { recursive: true });
    const copy = path.join(release, 'tsvisor');
    fs.copyFileSync(fs.realpathSync(FRONT_END), copy);
    fs.chmodSync(copy, 0o755);
    const r = run(copy, ['features']);
    expect(r.status).toBe(127);
    expect(r.stderr).toBe(`tsvisor: ${path.join(tmp, 'unbuilt', 'dist', 'bundle', 'main.cjs')}: not built (run npm ci, or npm run build)\n`);
  });

  it('runs $TSVISOR_NODE, and says so when it cannot', () => {
    const ok = run(FRONT_END, ['features'], { ...process.env, TSVISOR_NODE: process.execPath });
    expect(ok.status, ok.stderr).toBe(0);
    const missing = path.join(tmp, 'no-such-node');
    const r = run(FRONT_END, ['features'], { ...process.env, TSVISOR_NODE: missing });
    expect(r.status).toBe(127);
    expect(r.stderr).toBe(`tsvisor: ${missing}: No such file or directory\n`);
  });
});
