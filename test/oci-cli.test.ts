// `tsvisor spec` and `tsvisor features` as a client runs them: the built CLI,
// in a temporary folder.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { defaultConfig } from '../cli/oci/defaults.js';
import {
  CAPABILITY_NAMES,
  HOOK_NAMES,
  MOUNT_OPTIONS,
  OCI_VERSION_MAX,
  OCI_VERSION_MIN,
  parseSpec,
  SECCOMP_ACTIONS,
  SECCOMP_ARCHES,
  SECCOMP_OPERATORS,
  SpecError,
  SUPPORTED_NAMESPACES,
  SUPPORTED_SECCOMP_ACTIONS,
} from '../cli/oci/spec.js';

const CLI = path.resolve(__dirname, '..', 'dist', 'bundle', 'main.cjs');
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-oci-cli-'));
afterAll(() => fs.rmSync(tmp, { recursive: true, force: true }));

function tsvisor(args: string[], cwd = tmp): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** A config with one more seccomp rule, to ask the parser about one action. */
function withAction(action: string): unknown {
  const c = JSON.parse(JSON.stringify(defaultConfig(false))) as { linux: Record<string, unknown> };
  c.linux.seccomp = { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['getpid'], action }] };
  return c;
}

describe('tsvisor spec', () => {
  it('writes a config.json in the current folder that parses, tab-indented as runc\'s', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'cwd-'));
    const r = tsvisor(['spec'], dir);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toBe('');
    const text = fs.readFileSync(path.join(dir, 'config.json'), 'utf8');
    expect(text).toMatch(/^\{\n\t"ociVersion": /);
    const spec = parseSpec(JSON.parse(text), dir);
    expect(spec).not.toBeInstanceOf(SpecError);
    expect(JSON.parse(text)).toEqual(defaultConfig(false));
  });

  it('writes into --bundle (and -b, --bundle=), and --rootless writes the rootless one', () => {
    for (const [flags, rootless] of [[['--bundle'], false], [['-b'], false], [['--rootless', '--bundle'], true]] as const) {
      const dir = fs.mkdtempSync(path.join(tmp, 'bundle-'));
      const r = tsvisor(['spec', ...flags, dir]);
      expect(r.status, r.stderr).toBe(0);
      expect(JSON.parse(fs.readFileSync(path.join(dir, 'config.json'), 'utf8'))).toEqual(defaultConfig(rootless));
    }
    const dir = fs.mkdtempSync(path.join(tmp, 'bundle-'));
    expect(tsvisor(['spec', `--bundle=${dir}`]).status).toBe(0);
    expect(fs.existsSync(path.join(dir, 'config.json'))).toBe(true);
  });

  it('refuses to overwrite an existing config.json, with runc\'s message, and leaves it alone', () => {
    const dir = fs.mkdtempSync(path.join(tmp, 'exists-'));
    fs.writeFileSync(path.join(dir, 'config.json'), 'mine');
    const r = tsvisor(['spec', '--bundle', dir]);
    expect(r.status).toBe(1);
    expect(r.stderr).toBe('tsvisor: File config.json exists. Remove it first\n');
    expect(fs.readFileSync(path.join(dir, 'config.json'), 'utf8')).toBe('mine');
  });

  it('refuses a bundle that is not a folder, naming it, with exit 1', () => {
    const r = tsvisor(['spec', '--bundle', path.join(tmp, 'nonexistent')]);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(path.join(tmp, 'nonexistent', 'config.json'));
    expect(r.stderr).toContain('ENOENT');
  });

  it('refuses bad arguments with the usage and exit 2', () => {
    for (const [args, msg] of [[['spec', '--bogus'], "spec: unknown argument '--bogus'"], [['spec', '--bundle'], 'spec: --bundle needs a directory']] as const) {
      const r = tsvisor([...args]);
      expect(r.status).toBe(2);
      expect(r.stderr).toContain(msg);
      expect(r.stderr).toContain('usage: tsvisor');
    }
  });
});

describe('tsvisor features', () => {
  const r = tsvisor(['features']);

  it('prints the features document as JSON', () => {
    expect(r.status, r.stderr).toBe(0);
    const f = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(f.ociVersionMin).toBe(OCI_VERSION_MIN);
    expect(f.ociVersionMax).toBe(OCI_VERSION_MAX);
    expect(f.hooks).toEqual(HOOK_NAMES);
    expect(f.mountOptions).toEqual(MOUNT_OPTIONS);
    expect(Object.keys(f.annotations as object)).toContain('dev.tsvisor.version');
  });

  it('lists exactly what the parser accepts', () => {
    const f = JSON.parse(r.stdout) as {
      linux: { namespaces: string[]; capabilities: string[]; seccomp: { enabled: boolean; actions: string[]; operators: string[]; archs: string[] } };
    };
    expect(f.linux.capabilities).toEqual(CAPABILITY_NAMES);
    // A user namespace parses (`spec --rootless` writes one) but create refuses its id mappings: not listed.
    expect(f.linux.namespaces).toEqual(SUPPORTED_NAMESPACES.filter((n) => n !== 'user'));
    expect(f.linux.seccomp.actions).toEqual(SUPPORTED_SECCOMP_ACTIONS);
    expect(f.linux.seccomp.operators).toEqual(SECCOMP_OPERATORS);
    expect(f.linux.seccomp.archs).toEqual(SECCOMP_ARCHES);
    // Each listed action parses; each known one not listed is refused as unsupported.
    for (const action of SECCOMP_ACTIONS) {
      const res = parseSpec(withAction(action), tmp);
      if (f.linux.seccomp.actions.includes(action)) expect(res).not.toBeInstanceOf(SpecError);
      else expect((res as SpecError).reason).toMatch(/not supported by tsvisor/);
    }
    // Each listed namespace parses (with mappings where it needs them).
    for (const type of f.linux.namespaces) {
      const c = JSON.parse(JSON.stringify(defaultConfig(true))) as { linux: { namespaces: Array<{ type: string }> } };
      if (!c.linux.namespaces.some((n) => n.type === type)) c.linux.namespaces.push({ type });
      expect(parseSpec(c, tmp), type).not.toBeInstanceOf(SpecError);
    }
  });

  it('refuses arguments', () => {
    const bad = tsvisor(['features', 'x']);
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain("features: unknown argument 'x'");
  });
});
