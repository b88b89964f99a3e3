// /proc/<pid>/mountinfo, read back into mounts: how the sentry learns the
// mounts of the sandbox's tree at start (worker.ts), since the launcher made
// them, not the sentry. A line (proc_pid_mountinfo(5)) is
//
//   36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue
//
// mount id, parent id, major:minor, root of the mount in its filesystem,
// mount point, per-mount options, zero or more optional fields ended by "-",
// filesystem type, source, superblock options. The kernel escapes space, tab,
// newline and backslash in the names as \ooo (octal). Text is latin1: names
// are bytes, as everywhere in the sentry (path.ts).
import { splitPath } from './path.js';

export interface MountInfo {
  readonly id: number;
  readonly parentId: number;
  /** "major:minor" of the filesystem. */
  readonly device: string;
  /** The directory of its filesystem the mount shows (a bind's source). */
  readonly root: string;
  /** Where it is mounted, as the reading task's root sees it. */
  readonly mountPoint: string;
  /** Per-mount options: "ro" or "rw", nosuid, nodev, noexec, relatime... */
  readonly options: readonly string[];
  /** shared:N, master:N, propagate_from:N, unbindable. */
  readonly optional: readonly string[];
  readonly fsType: string;
  readonly source: string;
  readonly superOptions: string;
}

/** The kernel's mangle(): these bytes are written as \ooo in mountinfo. */
const ESCAPED = /[ \t\n\\]/g;
const ESCAPE = /\\([0-7]{3})/g;

/** A name as mountinfo writes it (the inverse of decodeMountInfoName). */
export function encodeMountInfoName(name: string): string {
  return name.replace(ESCAPED, (c) => '\\' + c.charCodeAt(0).toString(8).padStart(3, '0'));
}

/** A name from mountinfo, with its \ooo escapes turned back into bytes. */
export function decodeMountInfoName(text: string): string {
  return text.indexOf('\\') < 0 ? text : text.replace(ESCAPE, (_, octal: string) => String.fromCharCode(parseInt(octal, 8) & 0xff));
}

const DECIMAL = /^[0-9]+$/;
/** Fields before the optional ones. */
const FIXED_FIELDS = 6;

/** One line, or null when it is not a mountinfo line (a reader must not trust it further). */
export function parseMountInfoLine(line: string): MountInfo | null {
  const f = line.split(' ');
  // The optional fields end at the first "-" after the fixed ones: no
  // optional field is "-", and the names before it are escaped.
  const dash = f.indexOf('-', FIXED_FIELDS);
  // After it: the type and the source at least (then the superblock's options).
  if (dash < 0 || f.length < dash + 3) return null;
  const [id, parentId, device, root, mountPoint, options] = f as [string, string, string, string, string, string];
  if (!DECIMAL.test(id) || !DECIMAL.test(parentId) || !/^[0-9]+:[0-9]+$/.test(device)) return null;
  if (root.charCodeAt(0) !== 0x2f || mountPoint.charCodeAt(0) !== 0x2f) return null;
  return {
    id: Number(id),
    parentId: Number(parentId),
    device,
    root: decodeMountInfoName(root),
    mountPoint: decodeMountInfoName(mountPoint),
    options: options.split(','),
    optional: f.slice(FIXED_FIELDS, dash),
    fsType: decodeMountInfoName(f[dash + 1]!),
    source: decodeMountInfoName(f[dash + 2]!),
    // Superblock options hold no space; absent ones (an old kernel) are "".
    superOptions: f.slice(dash + 3).join(' '),
  };
}

/** Every well-formed line of a mountinfo text, in its order. */
export function parseMountInfo(text: string): MountInfo[] {
  const out: MountInfo[] = [];
  for (const line of text.split('\n')) {
    if (line.length === 0) continue;
    const m = parseMountInfoLine(line);
    if (m) out.push(m);
  }
  return out;
}

export function isReadOnly(m: MountInfo): boolean {
  return m.options.includes('ro');
}

/** A mount a path walk can reach, placed relative to the tree's top. */
export interface TreeMount {
  /** Components of the mount point below the top ([] for the top's own mount). */
  readonly point: readonly string[];
  readonly info: MountInfo;
}

/**
 * The mounts a path walk from `top` (an absolute path of the reader's view)
 * reaches: the one holding top first, then each visible mount strictly below
 * it, parents before children. A mount is visible when walking to its mount
 * point lands on it: one mounted over (the same point, on top of it) or
 * below a covered mount is not, nor one whose point a later mount on an
 * ancestor directory hides. Null when the text shows no root mount.
 */
export function mountsBelow(entries: readonly MountInfo[], top: string): TreeMount[] | null {
  // (parent id, mount point) -> the mount there; a stack on one point is
  // a chain, each one's parent being the one it covers.
  const child = new Map<string, MountInfo>();
  const ids = new Set<number>();
  for (const e of entries) {
    child.set(`${e.parentId} ${e.mountPoint}`, e);
    ids.add(e.id);
  }
  // The namespace's root: its parent is itself, or not shown (outside the reader's root).
  const nsRoot = entries.find((e) => e.mountPoint === '/' && (e.parentId === e.id || !ids.has(e.parentId)));
  if (!nsRoot) return null;
  const climb = (from: MountInfo, point: string): MountInfo => {
    let m = from;
    // No stack is taller than the list (a text that loops must not hang the sentry).
    for (let n = 0; n < entries.length; n++) {
      const next = child.get(`${m.id} ${point}`);
      if (!next || next === m) break;
      m = next;
    }
    return m;
  };
  const landOn = (components: readonly string[]): MountInfo => {
    let m = climb(nsRoot, '/');
    let at = '';
    for (const c of components) {
      at += '/' + c;
      m = climb(m, at);
    }
    return m;
  };
  const topParts = splitPath(top);
  const topMount = landOn(topParts);
  const below: TreeMount[] = [];
  for (const e of entries) {
    const parts = splitPath(e.mountPoint);
    if (parts.length <= topParts.length || !topParts.every((c, i) => parts[i] === c)) continue;
    if (landOn(parts) !== e) continue;
    below.push({ point: parts.slice(topParts.length), info: e });
  }
  // Stable: mountinfo's own order within one depth, parents always first.
  below.sort((a, b) => a.point.length - b.point.length);
  return [{ point: [], info: topMount }, ...below];
}
