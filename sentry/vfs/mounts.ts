// The sandbox's mount table, as the sentry sees it. Mount points are absolute
// component paths; the root mount is always present.
import type { FileKind, Filesystem } from './filesystem.js';
import { joinAbsolute } from './path.js';

export interface Mount {
  /** Absolute components of the mount point ([] for the root). */
  readonly point: readonly string[];
  readonly fs: Filesystem;
  readonly readOnly: boolean;
  /** Shown in /proc/mounts-like listings. */
  readonly source: string;
  /**
   * What the mount's root is when it is not a directory: a bind of one file
   * (the sandbox's /dev/null). The walk enters a mount without asking
   * anyone, and must still know that "/dev/null/.." is ENOTDIR.
   */
  readonly rootKind?: FileKind;
}

export class MountTable {
  private readonly byPoint = new Map<string, Mount>();
  private readonly ordered: Mount[] = [];
  /** The deepest mount point's depth: no deeper path needs a lookup (callers
   * check it before building a path to ask about). */
  private maxDepth = 0;

  get deepest(): number {
    return this.maxDepth;
  }

  constructor(root: Mount) {
    if (root.point.length !== 0) throw new Error('the root mount must be at /');
    this.add(root);
  }

  add(mount: Mount): void {
    const key = joinAbsolute(mount.point);
    if (this.byPoint.has(key)) throw new Error(`${key} is already a mount point`);
    this.byPoint.set(key, mount);
    this.ordered.push(mount);
    this.maxDepth = Math.max(this.maxDepth, mount.point.length);
  }

  /** The mount whose root is exactly at these components, if any. */
  mountedAt(components: readonly string[]): Mount | undefined {
    if (components.length > this.maxDepth) return undefined;
    return this.byPoint.get(joinAbsolute(components));
  }

  /** The innermost mount containing a path. */
  mountContaining(components: readonly string[]): Mount {
    for (let depth = Math.min(components.length, this.maxDepth); depth > 0; depth--) {
      const m = this.byPoint.get(joinAbsolute(components.slice(0, depth)));
      if (m) return m;
    }
    return this.ordered[0]!;
  }

  all(): readonly Mount[] {
    return this.ordered;
  }
}
