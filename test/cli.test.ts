// The tsvisor command line outside a sandbox: help, compat, and bad input.
import { spawnSync } from 'node:child_process';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SYSCALLS } from '../syscall-tables/index.js';

const CLI = path.resolve(__dirname, '..', 'dist', 'bundle', 'main.cjs');

function tsvisor(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

describe('tsvisor compat', () => {
  it('reports every syscall of the table exactly once, and the counts add up', () => {
    const r = tsvisor('compat', '--json');
    expect(r.status, r.stderr).toBe(0);
    const counts = JSON.parse(r.stdout) as { total: number; native: number; implemented: number; missing: number; denied: number };
    expect(counts.total).toBe(SYSCALLS.length);
    expect(counts.native + counts.implemented + counts.missing + counts.denied).toBe(counts.total);
    expect(counts.native).toBe(SYSCALLS.filter((s) => s.disposition === 'passthrough').length);
    expect(counts.denied).toBe(SYSCALLS.filter((s) => s.disposition === 'denied').length);
  });

  it('prints a Markdown report naming the filesystem syscalls the sentry implements', () => {
    const r = tsvisor('compat');
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/^# tsvisor syscall compatibility/);
    for (const name of ['openat', 'openat2', 'newfstatat', 'statx', 'readlinkat', 'renameat2', 'execve']) {
      expect(r.stdout).toContain(name);
    }
  });

  it('refuses an unknown argument with a message and exit 2', () => {
    const r = tsvisor('compat', '--bogus');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown argument '--bogus'");
  });
});

describe('tsvisor', () => {
  it('refuses an unknown command with a message and exit 2', () => {
    const r = tsvisor('frobnicate');
    expect(r.status).toBe(2);
    expect(r.stderr).toContain("unknown command 'frobnicate'");
  });

  it('prints its usage for help', () => {
    const r = tsvisor('help');
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('tsvisor do');
  });
});
