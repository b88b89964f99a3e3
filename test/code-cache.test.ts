// The bundle's V8 code cache (native/code-cache.ts): a run writes the cache
// of the chunks it loaded, later runs use it without writing it again, and a
// damaged or foreign cache file is never trusted: V8 refuses it, the
// command's output is the same, and the file is written anew.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from './helpers/sandbox.js';

const BUNDLE = path.dirname(CLI);
const CACHE = path.join(BUNDLE, '.code-cache');

function features(): string {
  const r = spawnSync(process.execPath, [CLI, 'features'], { encoding: 'utf8', timeout: 60_000 });
  expect(r.status, r.stderr).toBe(0);
  return r.stdout;
}

/** The cache file of the bundle's chunk whose name starts with prefix (size and mtime in its name). */
function cacheOf(prefix: string): string {
  const chunk = fs.readdirSync(BUNDLE).find((f) => f.startsWith(prefix) && f.endsWith('.cjs'));
  expect(chunk, `a ${prefix}*.cjs chunk`).toBeDefined();
  const st = fs.statSync(path.join(BUNDLE, chunk!));
  return path.join(CACHE, `${chunk!}.${st.size}-${Math.trunc(st.mtimeMs)}.v8`);
}

describe('the code cache of the bundle', () => {
  it('is written by a run and then used as it is', () => {
    const out = features();
    const file = cacheOf('spec-');
    expect(fs.existsSync(file)).toBe(true);
    const before = fs.readFileSync(file);
    const mtime = fs.statSync(file).mtimeMs;
    expect(features()).toBe(out);
    // Accepted by V8: not written again.
    expect(fs.statSync(file).mtimeMs).toBe(mtime);
    expect(fs.readFileSync(file).equals(before)).toBe(true);
  });

  it('is refused when damaged or another chunk\'s, and made anew', () => {
    const out = features();
    const file = cacheOf('spec-');
    const garbage = Buffer.alloc(fs.statSync(file).size, 0x5a);
    fs.writeFileSync(file, garbage);
    expect(features()).toBe(out);
    const remade = fs.readFileSync(file);
    expect(remade.length).toBeGreaterThan(0);
    expect(remade.equals(garbage)).toBe(false);

    // Another chunk's cache under this chunk's name: V8's check refuses it too.
    const other = fs.readdirSync(CACHE).map((f) => path.join(CACHE, f)).find((f) => f !== file && !f.includes('/spec-'));
    expect(other).toBeDefined();
    const foreign = fs.readFileSync(other!);
    fs.writeFileSync(file, foreign);
    expect(features()).toBe(out);
    expect(fs.readFileSync(file).equals(foreign)).toBe(false);
  });
});
