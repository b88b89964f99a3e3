// The sentry's mount table for the tree the gofer serves. The launcher
// mounted the sandbox root and, inside it, /tmp, /dev (with its device binds,
// /dev/pts and /dev/shm), /sys and the user's --bind and --tmpfs mounts; the
// gofer serves all of it from its one root fd. The sentry must still know
// where each mount begins, as Linux's walk does (RESOLVE_NO_XDEV, EXDEV
// across mounts, read-only mounts, EBUSY on a mount point), so it reads them
// back at start and registers each as a GoferFs rooted at its mount point.
//
// The list comes from the sandbox's own first process (its mountinfo, read
// through the sandbox's procfs): paths there are already the sandbox's, and
// it is the very view the kernel resolves in when the sentry lets a call go
// on (execve, chdir, an O_PATH open). It is an rbind copy of the gofer's
// tree, so the two hold the same mounts, plus /proc (the sentry's own) and
// its masks. Mounts cannot change afterwards: mount(2) is refused to the
// sandbox, and the copy is locked in the sandbox's user namespace.
import fs from 'node:fs';
import type { GoferClient } from '../../gofer/client.js';
import { FileKind, type Filesystem } from '../vfs/filesystem.js';
import { isReadOnly, mountsBelow, parseMountInfo, type TreeMount } from '../vfs/mountinfo.js';
import { MountTable, type Mount } from '../vfs/mounts.js';
import { fileKindOfMode, statxMode } from '../vfs/stat.js';
import { GoferFs } from './gofer-fs.js';

/** The mountinfo of the sandbox's pid 1, read through an fd of the sandbox's procfs. */
export function readSandboxMountInfo(procRootFd: number): string {
  return fs.readFileSync(`/proc/self/fd/${procRootFd}/1/mountinfo`, 'latin1');
}

/**
 * A mount table over the gofer's tree, from a mountinfo in which the tree
 * is at `top` ("/" for the sandbox's own view). Mounts at or below `served`
 * (what the sentry serves itself: /proc) are left out; the caller adds its
 * own there.
 */
export function goferMountTable(
  gofer: GoferClient, mountinfo: string, top: string, served: readonly (readonly string[])[],
): MountTable {
  const tree = mountsBelow(parseMountInfo(mountinfo), top);
  if (!tree) throw new Error('the sandbox\'s mountinfo shows no root mount');
  const [root, ...below] = tree as [TreeMount, ...TreeMount[]];
  const table = new MountTable({ point: [], fs: new GoferFs(gofer), readOnly: isReadOnly(root.info), source: root.info.source });
  for (const m of below) {
    if (served.some((s) => startsWith(m.point, s))) continue;
    table.add(goferMount(gofer, m));
  }
  return table;
}

function goferMount(gofer: GoferClient, m: TreeMount): Mount {
  const fs: Filesystem = new GoferFs(gofer, m.point);
  const rootKind = rootKindOf(gofer, m.point);
  return {
    point: m.point,
    fs,
    readOnly: isReadOnly(m.info),
    source: m.info.source,
    ...(rootKind !== FileKind.Directory ? { rootKind } : {}),
  };
}

/**
 * What the mount's root is (a directory, or one file bound there): asked
 * once now, so that the walk need not ask each time it enters the mount.
 */
function rootKindOf(gofer: GoferClient, point: readonly string[]): FileKind {
  const w = gofer.walk(point);
  if (w.errno !== 0 || w.found !== point.length) throw new Error(`the gofer cannot reach the mount point /${point.join('/')} (errno ${w.errno})`);
  return fileKindOfMode(statxMode(w.statx));
}

function startsWith(path: readonly string[], prefix: readonly string[]): boolean {
  return path.length >= prefix.length && prefix.every((c, i) => path[i] === c);
}
