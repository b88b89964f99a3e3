// runsc's global flag --overlay2 as tsvisor honours it: where a writable
// root's writes go. Its own small module: runtime.ts parses global flags
// for every command, and must not load the spec's parser to do it.
import path from 'node:path';

/**
 * Where a writable root's writes go (runsc's --overlay2 media): none, into
 * the rootfs itself; memory, a throwaway tmpfs layer; self, a throwaway
 * upper layer in a folder next to the rootfs (in the bundle); dir, one in a
 * folder of that host directory.
 */
export type RootOverlay =
  | { readonly medium: 'none' }
  | { readonly medium: 'memory' }
  | { readonly medium: 'self' }
  | { readonly medium: 'dir'; readonly dir: string };

/**
 * runsc's --overlay2 value: `none`, or MOUNTS:MEDIUM with MOUNTS `root` or
 * `all` (tsvisor overlays the root only, so `all` is the root here) and
 * MEDIUM `memory`, `self` or `dir=/ABSOLUTE/PATH`. A string says what is wrong.
 */
export function parseOverlay2(text: string): RootOverlay | string {
  if (text === 'none') return { medium: 'none' };
  const colon = text.indexOf(':');
  const mounts = text.slice(0, colon);
  const medium = text.slice(colon + 1);
  const usage = `--overlay2 must be none or root|all:memory|self|dir=/PATH, not '${text}'`;
  if (colon < 0 || (mounts !== 'root' && mounts !== 'all')) return usage;
  if (medium === 'memory' || medium === 'self') return { medium };
  if (medium.startsWith('dir=')) {
    const dir = medium.slice(4);
    if (!path.isAbsolute(dir)) return `--overlay2 ${text}: the dir must be an absolute path`;
    return { medium: 'dir', dir };
  }
  return usage;
}

/** The --overlay2 text of a parsed value (the daemon gets the flag as create got it). */
export function formatOverlay2(o: RootOverlay): string {
  return o.medium === 'none' ? 'none' : `root:${o.medium === 'dir' ? `dir=${o.dir}` : o.medium}`;
}
