// The mountinfo reader the sentry builds its mount table with (sentry/vfs/
// mountinfo.ts): fast-check writes lines the way the kernel's show_mountinfo()
// does (escaped names, any number of optional fields before "-") and reads
// them back; fixed cases check which mounts a walk can reach.
import fs from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  decodeMountInfoName, encodeMountInfoName, mountsBelow, parseMountInfo, parseMountInfoLine, type MountInfo,
} from '../sentry/vfs/mountinfo.js';

/** Names are bytes: latin1 strings, any byte but NUL and "/" in a component. */
const byteString = (min: number, max: number, avoid: readonly number[] = []): fc.Arbitrary<string> =>
  fc.array(fc.integer({ min: 0, max: 255 }).filter((b) => !avoid.includes(b)), { minLength: min, maxLength: max })
    .map((bytes) => String.fromCharCode(...bytes));
/** Biased toward what the kernel escapes, and toward a backslash before digits. */
const trickyComponent = fc.oneof(
  byteString(1, 12, [0, 0x2f]),
  fc.array(fc.constantFrom(' ', '\t', '\n', '\\', '0', '4', '\\040', 'a', '-', '#'), { minLength: 1, maxLength: 6 }).map((p) => p.join('')),
);
const absPath = fc.array(trickyComponent, { maxLength: 4 }).map((c) => '/' + c.join('/'));
/** A word with no byte the kernel escapes (options, types, optional fields). */
const word = byteString(1, 10, [0, 0x20, 0x09, 0x0a, 0x5c, 0x2c]);
const optionalField = fc.oneof(
  fc.nat(999).map((n) => `shared:${n}`), fc.nat(999).map((n) => `master:${n}`),
  fc.nat(999).map((n) => `propagate_from:${n}`), fc.constant('unbindable'),
);

const mountInfo: fc.Arbitrary<MountInfo> = fc.record({
  id: fc.nat(1_000_000),
  parentId: fc.nat(1_000_000),
  device: fc.tuple(fc.nat(4095), fc.nat(1 << 20)).map(([a, b]) => `${a}:${b}`),
  root: absPath,
  mountPoint: absPath,
  options: fc.array(word, { minLength: 1, maxLength: 5 }),
  optional: fc.array(optionalField, { maxLength: 4 }),
  fsType: word,
  source: fc.oneof(byteString(1, 16, [0]), fc.constant('none')),
  superOptions: fc.array(word, { minLength: 1, maxLength: 4 }).map((w) => w.join(',')),
});

/** show_mountinfo(), as fs/proc_namespace.c writes a line. */
function format(m: MountInfo): string {
  return [
    m.id, m.parentId, m.device, encodeMountInfoName(m.root), encodeMountInfoName(m.mountPoint), m.options.join(','),
    ...m.optional, '-', encodeMountInfoName(m.fsType), encodeMountInfoName(m.source), m.superOptions,
  ].join(' ');
}

describe('mountinfo names', () => {
  it('decodes what the kernel encodes, byte for byte', () => {
    fc.assert(fc.property(byteString(0, 40), (s) => {
      const encoded = encodeMountInfoName(s);
      expect(encoded).not.toMatch(/[ \t\n]/);
      expect(decodeMountInfoName(encoded)).toBe(s);
    }), { numRuns: 2000 });
  });

  it('turns \\040, \\011, \\012 and \\134 back into space, tab, newline and backslash', () => {
    expect(decodeMountInfoName('/a\\040b\\011c\\012d\\134e')).toBe('/a b\tc\nd\\e');
    // Not an escape: left alone (the kernel never writes one, but a reader must not guess).
    expect(decodeMountInfoName('/x\\9y\\12')).toBe('/x\\9y\\12');
  });
});

describe('mountinfo lines', () => {
  it('reads back every field of a line written as the kernel writes it', () => {
    fc.assert(fc.property(mountInfo, (m) => {
      expect(parseMountInfoLine(format(m))).toEqual(m);
    }), { numRuns: 2000 });
  });

  it('reads a whole text, in order, skipping what is not a line of it', () => {
    fc.assert(fc.property(fc.array(mountInfo, { maxLength: 8 }), (ms) => {
      const text = ms.map(format).join('\n') + '\n\ngarbage line\n';
      expect(parseMountInfo(text)).toEqual(ms);
    }), { numRuns: 300 });
  });

  it('never throws on any text, and keeps only lines with a "-" after six fields', () => {
    fc.assert(fc.property(byteString(0, 200), (s) => {
      for (const m of parseMountInfo(s)) expect(typeof m.fsType).toBe('string');
    }), { numRuns: 2000 });
    expect(parseMountInfoLine('36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 ext3 /dev/root rw')).toBeNull();
    expect(parseMountInfoLine('36 35 98:0 /mnt1 /mnt2 rw - ext3')).toBeNull();
    expect(parseMountInfoLine('x 35 98:0 / / rw - ext3 /dev/root rw')).toBeNull();
  });

  it('reads the example of proc_pid_mountinfo(5) and this machine\'s own', () => {
    expect(parseMountInfoLine('36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue')).toEqual({
      id: 36, parentId: 35, device: '98:0', root: '/mnt1', mountPoint: '/mnt2', options: ['rw', 'noatime'],
      optional: ['master:1'], fsType: 'ext3', source: '/dev/root', superOptions: 'rw,errors=continue',
    });
    const text = fs.readFileSync('/proc/self/mountinfo', 'latin1');
    const lines = text.split('\n').filter((l) => l.length > 0);
    const parsed = parseMountInfo(text);
    expect(parsed.length).toBe(lines.length);
    expect(parsed.map((m) => m.mountPoint)).toContain('/proc');
  });
});

/** A line for a mount of `type` at `point`, id `id` on `parent`. */
function line(id: number, parent: number, point: string, opts = 'rw', type = 'tmpfs'): string {
  return `${id} ${parent} 0:${id} / ${encodeMountInfoName(point)} ${opts},relatime shared:${id} - ${type} src${id} rw`;
}

describe('the mounts a walk reaches', () => {
  const points = (text: string, top = '/'): string[] | null =>
    mountsBelow(parseMountInfo(text), top)?.map((m) => '/' + m.point.join('/')) ?? null;

  it('lists the root first, then the mounts below it, parents first', () => {
    const text = [
      line(1, 1, '/', 'rw', 'overlay'), line(5, 3, '/dev/shm'), line(2, 1, '/tmp'), line(3, 1, '/dev'),
      line(4, 3, '/dev/null', 'rw', 'devtmpfs'), line(6, 1, '/sys', 'ro'), line(7, 6, '/sys/fs/cgroup', 'ro'),
    ].join('\n');
    expect(points(text)).toEqual(['/', '/tmp', '/dev', '/sys', '/dev/shm', '/dev/null', '/sys/fs/cgroup']);
    const tree = mountsBelow(parseMountInfo(text), '/')!;
    expect(tree[0]!.info.fsType).toBe('overlay');
    expect(tree.find((m) => m.point.join('/') === 'sys/fs/cgroup')!.info.options).toContain('ro');
  });

  it('keeps only the top of a stack, and nothing below a covered mount', () => {
    const text = [
      line(1, 1, '/'), line(2, 1, '/tmp'), line(3, 2, '/tmp/inner'),
      // Mounted over /tmp: 3 is now out of reach.
      line(4, 2, '/tmp'), line(5, 4, '/tmp/x'),
    ].join('\n');
    expect(points(text)).toEqual(['/', '/tmp', '/tmp/x']);
    expect(mountsBelow(parseMountInfo(text), '/')![1]!.info.id).toBe(4);
  });

  it('leaves out a mount whose point a later mount on a parent directory hides', () => {
    // /a/b first, then /a on the root: the walk to /a/b enters mount 3, not the root.
    const text = [line(1, 1, '/'), line(2, 1, '/a/b'), line(3, 1, '/a')].join('\n');
    expect(points(text)).toEqual(['/', '/a']);
  });

  it('takes the namespace root whose parent is not shown (after pivot_root), and decodes mount points', () => {
    const text = [line(40, 12, '/'), line(41, 40, '/with space'), line(42, 41, '/with space/and\\back')].join('\n');
    expect(points(text)).toEqual(['/', '/with space', '/with space/and\\back']);
  });

  it('places mounts below a folder that is not itself the top of a mount', () => {
    const text = [line(1, 1, '/'), line(2, 1, '/state/merged'), line(3, 2, '/state/merged/tmp'), line(4, 1, '/elsewhere')].join('\n');
    expect(points(text, '/state/merged')).toEqual(['/', '/tmp']);
    expect(mountsBelow(parseMountInfo(text), '/state/merged')![0]!.info.id).toBe(2);
    expect(points(text, '/state')).toEqual(['/', '/merged', '/merged/tmp']);
    expect(mountsBelow(parseMountInfo(text), '/state')![0]!.info.id).toBe(1);
  });

  it('ends on a text whose stacks loop (no kernel writes one)', () => {
    const text = [line(1, 1, '/'), line(2, 3, '/a'), line(3, 2, '/a'), line(4, 1, '/a')].join('\n');
    expect(points(text)?.[0]).toBe('/');
  });

  it('says null when no root mount is shown', () => {
    expect(mountsBelow(parseMountInfo(line(2, 1, '/tmp')), '/')).toBeNull();
  });
});
