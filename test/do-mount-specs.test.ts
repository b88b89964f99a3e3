// The parsers of `tsvisor do`'s mount options (--overlay, --bind, --tmpfs):
// what they accept, what they make of it, and that everything else is a
// UsageError with a message, never a crash or a silent default.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseBind, parseDoArgs, parseOverlay, parseSize, parseTmpfs } from '../cli/do.js';
import { UsageError } from '../cli/usage.js';

let dir: string;
let file: string;
beforeAll(() => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tsvisor-specs-'));
  file = path.join(dir, 'f');
  fs.writeFileSync(file, 'x');
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A path component without '/', ':' or ','. */
const component = fc.stringMatching(/^[A-Za-z0-9_.-]{1,12}$/).filter((c) => c !== '.' && c !== '..');
const absTarget = fc.array(component, { minLength: 1, maxLength: 4 }).map((cs) => `/${cs.join('/')}`).filter((p) => !p.startsWith('/proc'));
const UNITS = { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 } as const;

function usageError(f: () => unknown): string {
  try {
    f();
  } catch (err) {
    expect(err).toBeInstanceOf(UsageError);
    return (err as Error).message;
  }
  throw new Error('no UsageError');
}

describe('parseSize', () => {
  it('N, Nk, Nm, Ng (either case) are bytes', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: 1 << 20 }), fc.constantFrom('', 'k', 'm', 'g', 'K', 'M', 'G'), (n, unit) => {
      expect(parseSize(`${n}${unit}`)).toBe(n * UNITS[unit.toLowerCase() as keyof typeof UNITS]);
    }));
  });

  it('anything else (0, signs, fractions, other units, spaces, empty) is a UsageError naming it', () => {
    for (const bad of ['', '0', '0k', '-1', '+1', '1.5m', '1t', '1kb', ' 1', '1 ', 'k', 'size', '0x10', '99999999999999999999g']) {
      expect(usageError(() => parseSize(bad))).toContain(`'${bad}'`);
    }
    fc.assert(fc.property(fc.string(), (s) => {
      fc.pre(!/^[0-9]+[kmgKMG]?$/.test(s));
      usageError(() => parseSize(s));
    }));
  });
});

describe('parseOverlay', () => {
  it('memory, none, dir=PATH (made absolute)', () => {
    expect(parseOverlay('memory')).toEqual({ kind: 'memory' });
    expect(parseOverlay('none')).toEqual({ kind: 'none' });
    expect(parseOverlay(`dir=${dir}`)).toEqual({ kind: 'dir', dir });
    expect(parseOverlay(`dir=${path.relative(process.cwd(), dir)}`)).toEqual({ kind: 'dir', dir });
  });

  it('refuses unknown modes, an empty or missing PATH and a file', () => {
    expect(usageError(() => parseOverlay('disk'))).toMatch(/memory, none or dir=PATH.*'disk'/);
    expect(usageError(() => parseOverlay('dir='))).toMatch(/empty/);
    expect(usageError(() => parseOverlay('dir=/nonexistent-tsvisor-dir'))).toMatch(/nonexistent-tsvisor-dir: no such directory/);
    expect(usageError(() => parseOverlay(`dir=${file}`))).toMatch(/not a directory/);
    fc.assert(fc.property(fc.string(), (s) => {
      fc.pre(s !== 'memory' && s !== 'none' && !s.startsWith('dir='));
      usageError(() => parseOverlay(s));
    }));
  });
});

describe('parseBind', () => {
  it('SRC:DST[:ro|rw] for any absolute DST: the target normalised, rw by default', () => {
    fc.assert(fc.property(fc.constantFrom(dir, file), absTarget, fc.constantFrom('', ':ro', ':rw'), fc.constantFrom('', '/', '//'),
      (src, dst, mode, trailing) => {
        const b = parseBind(`${src}:${dst}${trailing}${mode}`);
        expect(b).toEqual({ kind: 'bind', source: src, target: dst, readOnly: mode === ':ro' });
      }));
  });

  it('a relative SRC is made absolute; DST is normalised', () => {
    const rel = path.relative(process.cwd(), dir);
    expect(parseBind(`${rel}:/a/./b/../c`)).toEqual({ kind: 'bind', source: dir, target: '/a/c', readOnly: false });
  });

  it('refuses a missing colon, a bad mode, a nonexistent SRC, a relative DST, /, /proc', () => {
    expect(usageError(() => parseBind(dir))).toMatch(/SRC:DST.*no colon/);
    expect(usageError(() => parseBind(`${dir}:/x:rx`))).toMatch(/ro or rw, not 'rx'/);
    expect(usageError(() => parseBind(`${dir}:/x:ro:y`))).toMatch(/too many colons/);
    expect(usageError(() => parseBind('/nonexistent-tsvisor-src:/x'))).toMatch(/nonexistent-tsvisor-src: no such file or directory/);
    expect(usageError(() => parseBind(':/x'))).toMatch(/SRC is empty/);
    expect(usageError(() => parseBind(`${dir}:`))).toMatch(/DST is empty/);
    expect(usageError(() => parseBind(`${dir}:data`))).toMatch(/absolute path, not 'data'/);
    expect(usageError(() => parseBind(`${dir}:/`))).toMatch(/root/);
    expect(usageError(() => parseBind(`${dir}:/a/..`))).toMatch(/root/);
    expect(usageError(() => parseBind(`${dir}:/proc/x`))).toMatch(/\/proc/);
    fc.assert(fc.property(component, (rel) => {
      usageError(() => parseBind(`${dir}:${rel}`));
    }));
  });
});

describe('parseTmpfs', () => {
  it('DST[:size=N[k|m|g]][,mode=OCTAL], in either order', () => {
    fc.assert(fc.property(absTarget, fc.option(fc.integer({ min: 1, max: 4096 }), { nil: undefined }),
      fc.option(fc.constantFrom('', 'k', 'm', 'g'), { nil: undefined }), fc.option(fc.integer({ min: 0, max: 0o7777 }), { nil: undefined }), fc.boolean(),
      (dst, n, unit, mode, modeFirst) => {
        const opts: string[] = [];
        if (n !== undefined) opts.push(`size=${n}${unit ?? ''}`);
        if (mode !== undefined) opts[modeFirst ? 'unshift' : 'push'](`mode=${mode.toString(8)}`);
        const t = parseTmpfs(opts.length ? `${dst}:${opts.join(',')}` : dst);
        expect(t.kind).toBe('tmpfs');
        expect(t.target).toBe(dst);
        expect(t.size).toBe(n === undefined ? undefined : n * UNITS[unit ?? '']);
        expect(t.mode).toBe(mode);
      }));
  });

  it('refuses bad sizes and modes, unknown or repeated options, a relative DST', () => {
    expect(usageError(() => parseTmpfs('/x:size=0'))).toMatch(/bad size '0'/);
    expect(usageError(() => parseTmpfs('/x:size=1t'))).toMatch(/bad size '1t'/);
    expect(usageError(() => parseTmpfs('/x:size='))).toMatch(/bad size ''/);
    expect(usageError(() => parseTmpfs('/x:mode=999'))).toMatch(/octal.*'999'/);
    expect(usageError(() => parseTmpfs('/x:mode=17777'))).toMatch(/octal/);
    expect(usageError(() => parseTmpfs('/x:uid=0'))).toMatch(/unknown option 'uid=0'/);
    expect(usageError(() => parseTmpfs('/x:'))).toMatch(/unknown option ''/);
    expect(usageError(() => parseTmpfs('/x:size=1k,size=2k'))).toMatch(/twice/);
    expect(usageError(() => parseTmpfs('x:size=1k'))).toMatch(/absolute/);
    expect(usageError(() => parseTmpfs('/proc'))).toMatch(/\/proc/);
  });
});

describe('parseDoArgs', () => {
  it('keeps --bind and --tmpfs in the order given, and takes --opt=value too', () => {
    const o = parseDoArgs(['--tmpfs', '/a:size=1m', `--bind=${dir}:/a/b:ro`, '--overlay=none', '--', 'true']);
    expect(o.overlay).toEqual({ kind: 'none' });
    expect(o.mounts).toEqual([
      { kind: 'tmpfs', target: '/a', size: 1024 ** 2 },
      { kind: 'bind', source: dir, target: '/a/b', readOnly: true },
    ]);
    expect(o.argv).toEqual(['true']);
  });

  it('defaults to the memory overlay and no extra mounts', () => {
    const o = parseDoArgs(['--', 'true']);
    expect(o.overlay).toEqual({ kind: 'memory' });
    expect(o.mounts).toEqual([]);
  });
});
