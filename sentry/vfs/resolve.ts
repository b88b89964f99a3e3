// Path resolution, Linux's way, over the sandbox's mount table.
//
// The walk keeps the absolute path as a stack of components. ".." pops (it is
// physical: a symlink already followed is gone from the stack), "/" at the start
// or in a symlink's target empties it, and the root's ".." is the root. Runs of
// plain components inside one mount go to its filesystem in one walk() call,
// so a gofer-backed path costs one round trip per symlink rather than one per
// component. At most SYMLOOP_MAX symlinks are followed (ELOOP).
//
// Mounts are found by absolute path: the table knows every mount point of
// the sandbox's tree, and the walk switches filesystem on entering one
// (without asking the parent filesystem about it) and on ".." out of one's
// root. RESOLVE_NO_XDEV refuses each such switch, and a jump to the root
// (an absolute symlink, a magic link) from another mount, as Linux does.
import { E, PATH_MAX, NAME_MAX, SYMLOOP_MAX } from '../abi/linux.js';
import type { Task } from '../kernel/task.js';
import { FileKind, type MagicLink, type WalkResult } from './filesystem.js';
import type { Mount, MountTable } from './mounts.js';
import { endsInDirectoryForm, isAbsolute, splitPath } from './path.js';

export interface ResolveOptions {
  /** Follow a symlink in the last component (stat vs lstat). */
  readonly followFinal: boolean;
  /** openat2's RESOLVE_ scoping: "/" and ".." stop at this directory (IN_ROOT)... */
  readonly root?: readonly string[];
  /** ...or fail with EXDEV when they would leave it (BENEATH). */
  readonly beneath?: boolean;
  /** RESOLVE_NO_SYMLINKS / RESOLVE_NO_MAGICLINKS: any (magic) symlink is ELOOP. */
  readonly noSymlinks?: boolean;
  readonly noMagicLinks?: boolean;
  /** RESOLVE_NO_XDEV: crossing a mount point is EXDEV. */
  readonly noXdev?: boolean;
}

export interface Resolved {
  readonly mount: Mount;
  /** Components relative to the mount's root. */
  readonly rel: readonly string[];
  /** Absolute components. */
  readonly abs: readonly string[];
  /** Kind of the last component; FileKind.Missing when only its parent exists. */
  readonly kind: FileKind;
  /** The last component's symlink target (when not followed). */
  readonly symlinkTarget?: string;
  readonly magic?: MagicLink;
  /** statx of the last component, when the filesystem returned it. */
  readonly statx?: Uint8Array;
  /** The path ended in "/", "/." or "/..": Linux wants a directory there. */
  readonly wantsDirectory: boolean;
}

/** Where the walk stands on a directory it did not ask a filesystem about: the
 * start, a mount point, or one reached by "." / ".." / a symlink's target. */
const AT_DIRECTORY: WalkResult = { found: 0, errno: 0, kind: FileKind.Directory };

/** Where the walk stands on entering a mount: its root, a directory nearly always. */
function atMountRoot(m: Mount): WalkResult {
  return m.rootKind === undefined || m.rootKind === FileKind.Directory ? AT_DIRECTORY : { found: 0, errno: 0, kind: m.rootKind };
}

/**
 * Resolves `path` for `task`, starting from `start` (absolute components of
 * the starting directory) when the path is relative. Returns -errno on failure.
 * A missing last component is not an error: kind is Missing and the parent exists.
 */
export function resolvePath(
  mounts: MountTable, task: Task, start: readonly string[], path: string, opts: ResolveOptions,
): Resolved | number {
  if (path.length === 0) return -E.ENOENT;
  if (path.length >= PATH_MAX) return -E.ENAMETOOLONG;
  const wantsDirectory = endsInDirectoryForm(path);
  const root = opts.root ?? [];
  if (opts.beneath && isAbsolute(path)) return -E.EXDEV;
  const stack: string[] = isAbsolute(path) ? root.slice() : start.slice();
  // Pending components, last one first, so that push/pop work at the front.
  const pending = splitPath(path).reverse();
  let linksFollowed = 0;
  let last: WalkResult = AT_DIRECTORY;
  let mount = mounts.mountContaining(stack);

  while (pending.length > 0) {
    const name = pending[pending.length - 1]!;
    if (name.length > NAME_MAX) return -E.ENAMETOOLONG;
    if (name === '.' || name === '..') {
      pending.pop();
      if (last.kind !== FileKind.Directory) return -E.ENOTDIR;
      if (name === '..' && stack.length <= root.length) {
        if (opts.beneath) return -E.EXDEV;
      } else if (name === '..') {
        stack.pop();
        const outer = mounts.mountContaining(stack);
        if (opts.noXdev && outer !== mount) return -E.EXDEV;
        mount = outer;
      }
      last = AT_DIRECTORY;
      continue;
    }
    // A mount point is entered without asking the parent filesystem.
    const child = stack.length < mounts.deepest ? mounts.mountedAt([...stack, name]) : undefined;
    if (child) {
      if (opts.noXdev) return -E.EXDEV;
      pending.pop();
      stack.push(name);
      mount = child;
      last = atMountRoot(child);
      continue;
    }
    // Batch the run of plain names that stays inside this mount, and inside
    // what one filesystem request can name (a path of PATH_MAX - 1 bytes: a
    // longer walk goes on in the next round, from where this one stopped).
    const relBase = stack.slice(mount.point.length);
    const budget = mount.fs.pathBudget ?? PATH_MAX;
    let joined = relBase.reduce((n, c) => n + c.length + 1, 0);
    const batch: string[] = [];
    for (let i = pending.length - 1; i >= 0; i--) {
      const n = pending[i]!;
      if (n === '.' || n === '..' || n.length > NAME_MAX) break;
      const depth = stack.length + batch.length;
      if (batch.length > 0 && depth < mounts.deepest && mounts.mountedAt([...stack, ...batch, n])) break;
      if (joined + n.length + 1 > budget) break;
      joined += n.length + 1;
      batch.push(n);
    }
    // Only a directory deeper than the budget (PATH_MAX bytes) from its mount's root gets here.
    if (batch.length === 0) return -E.ENAMETOOLONG;
    const walked = mount.fs.walk(task, [...relBase, ...batch]);
    const foundInBatch = walked.found - relBase.length;
    if (foundInBatch < 0) return walked.errno ? -walked.errno : -E.ENOENT; // the base itself vanished
    const isLastRun = batch.length === pending.length;

    if (walked.errno !== 0) {
      // The walk stopped at batch[foundInBatch] (missing) or after it (ENOTDIR).
      if (walked.errno === E.ENOENT && isLastRun && foundInBatch === batch.length - 1) {
        for (let i = 0; i < foundInBatch; i++) stack.push(batch[i]!);
        const parentRel = stack.slice(mount.point.length);
        const name = batch[foundInBatch]!;
        return {
          mount, rel: [...parentRel, name], abs: [...stack, name], kind: FileKind.Missing, wantsDirectory,
        };
      }
      return -walked.errno;
    }
    for (let i = 0; i < foundInBatch; i++) {
      stack.push(batch[i]!);
      pending.pop();
    }
    last = walked;
    if (walked.kind === FileKind.Symlink && walked.symlinkTarget !== undefined) {
      const isFinal = pending.length === 0;
      if (isFinal && !opts.followFinal && !wantsDirectory) break;
      const target = walked.symlinkTarget;
      // A magic link to something without a path ("pipe:[123]", a deleted
      // file) is opened as the object it names.
      const pathless = walked.magic !== undefined && (!isAbsolute(target) || target.endsWith(' (deleted)'));
      if (isFinal && pathless && !wantsDirectory) {
        // nd_jump_link(): its object is on a mount of its own (pipefs,
        // sockfs...), a crossing; NO_MAGICLINKS says ELOOP first (open.ts).
        if (opts.noXdev && !opts.noMagicLinks) return -E.EXDEV;
        break;
      }
      if (pathless) return -E.ENOTDIR;
      if (opts.noSymlinks || (opts.noMagicLinks && walked.magic)) return -E.ELOOP;
      if (++linksFollowed > SYMLOOP_MAX) return -E.ELOOP;
      stack.pop(); // the link itself is replaced by its target
      if (target.length === 0) return -E.ENOENT;
      if (isAbsolute(target)) {
        if (opts.beneath) return -E.EXDEV;
        stack.length = 0;
        stack.push(...root);
        // nd_jump_root(): under NO_XDEV a jump to the root is a crossing
        // unless the link lies on the root's own mount. (Linux lets a magic
        // link to a /proc file through; this walk follows its path from the
        // root, and would cross into /proc on the way anyway.)
        if (opts.noXdev && mounts.mountContaining(stack) !== mount) return -E.EXDEV;
      }
      const parts = splitPath(target);
      // "dir/" as a target demands a directory, as a trailing "/" does in a path.
      if (target.charCodeAt(target.length - 1) === 0x2f && parts.length > 0) parts.push('.');
      for (let i = parts.length - 1; i >= 0; i--) pending.push(parts[i]!);
      mount = mounts.mountContaining(stack);
      last = AT_DIRECTORY;
      continue;
    }
    if (pending.length > 0 && walked.kind !== FileKind.Directory) return -E.ENOTDIR;
  }

  if (wantsDirectory && last.kind !== FileKind.Directory) return -E.ENOTDIR;
  const result: Resolved = {
    mount,
    rel: stack.slice(mount.point.length),
    abs: stack,
    kind: last.kind,
    wantsDirectory,
    ...(last.symlinkTarget !== undefined ? { symlinkTarget: last.symlinkTarget } : {}),
    ...(last.magic ? { magic: last.magic } : {}),
    ...(last.statx ? { statx: last.statx } : {}),
  };
  return result;
}

/** What the last component of a path is, as Linux's path walk classifies it. */
export enum LastKind {
  Normal,
  Dot,
  DotDot,
  /** The path names the root itself ("/", "//"). */
  Root,
}

export interface ParentResolved {
  /** The directory holding the last component. */
  readonly parent: Resolved;
  /** The last component (a plain name when kind is Normal). */
  readonly last: string;
  readonly lastKind: LastKind;
  /** The path ended in "/" after its last component. */
  readonly trailingSlash: boolean;
}

/**
 * The parent directory of a path and its last component, not looked up:
 * Linux's filename_parentat(), which every call that creates, removes or
 * renames a name starts with. Errors of the walk to the parent come first;
 * what the last component is decides the rest.
 */
export function resolveParent(
  mounts: MountTable, task: Task, start: readonly string[], path: string, root: readonly string[] = [],
): ParentResolved | number {
  if (path.length === 0) return -E.ENOENT;
  if (path.length >= PATH_MAX) return -E.ENAMETOOLONG;
  let end = path.length;
  while (end > 0 && path.charCodeAt(end - 1) === 0x2f) end--;
  const trailingSlash = end < path.length;
  const slash = path.lastIndexOf('/', end - 1);
  const last = end === 0 ? '' : path.slice(slash + 1, end);
  const dirPart = end === 0 ? '/' : slash < 0 ? '.' : slash === 0 ? '/' : path.slice(0, slash);
  const parent = resolvePath(mounts, task, start, dirPart, { followFinal: true, root });
  if (typeof parent === 'number') return parent;
  if (parent.kind !== FileKind.Directory) return parent.kind === FileKind.Missing ? -E.ENOENT : -E.ENOTDIR;
  const lastKind = end === 0 ? LastKind.Root : last === '.' ? LastKind.Dot : last === '..' ? LastKind.DotDot : LastKind.Normal;
  // A last name that is too long is found when it is looked up (lookupChild).
  return { parent, last, lastKind, trailingSlash };
}

/** Looks a plain name up in a resolved directory, never following it. */
export function lookupChild(mounts: MountTable, task: Task, p: ParentResolved): Resolved | number {
  return resolvePath(mounts, task, p.parent.abs, p.last, { followFinal: false });
}
