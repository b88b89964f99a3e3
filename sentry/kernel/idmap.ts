// The sandbox's user namespace id mappings (OCI linux.uidMappings and
// gidMappings): the one place where host ids and the ids the program sees are
// translated. The launcher writes the same ranges to the namespace's uid_map
// and gid_map, so what the host kernel translates for native syscalls and what
// the sentry translates for emulated ones agree.
//
// Host ids stay host ids wherever the host decides from its own namespace (a
// connect made as the task, credentials sent over a host socket, the owners
// the sentry keeps in a statx); the program sees namespace ids (getuid, stat
// owners, /proc status lines). The gofer of a mapped sandbox serves from a
// user namespace with these maps, so it speaks namespace ids (the identity it
// takes, chown, the owners in its statx: gofer/client.ts turns those back).

/** What Linux shows for a host id with no mapping (overflowuid/overflowgid). */
export const OVERFLOW_ID = 65534;

/** (uid_t)-1, which no map ever maps (map_write() refuses a range that reaches it). */
export const UNMAPPED_ID = 2 ** 32 - 1;

/** Linux's limit on the lines of a uid_map or gid_map (since 4.15). */
export const MAX_ID_RANGES = 340;

const U32_END = 2 ** 32;

/** One line of a uid_map or gid_map: ids nsId..nsId+size-1 are host ids hostId..hostId+size-1. */
export interface IdRange {
  readonly nsId: number;
  readonly hostId: number;
  readonly size: number;
}

export class IdMap {
  /** True for the sandbox's default map (0 0 4294967295): nothing to translate. */
  readonly isIdentity: boolean;

  private constructor(readonly ranges: readonly IdRange[]) {
    this.isIdentity = ranges.length === 1 && ranges[0]!.nsId === 0 && ranges[0]!.hostId === 0 && ranges[0]!.size === U32_END - 1;
  }

  /** Every id as itself, as the sandbox maps them without a spec's mappings. */
  static identity(): IdMap {
    return new IdMap([{ nsId: 0, hostId: 0, size: U32_END - 1 }]);
  }

  /**
   * A map from ranges, or why the kernel would refuse them: sizes of at
   * least 1, both ends within u32, at most 340 lines, and no two ranges
   * overlapping on either side (the kernel's mappings_overlap()).
   */
  static of(ranges: readonly IdRange[]): IdMap | string {
    if (ranges.length === 0) return 'no ranges';
    if (ranges.length > MAX_ID_RANGES) return `${ranges.length} ranges: the kernel takes at most ${MAX_ID_RANGES}`;
    for (const [i, r] of ranges.entries()) {
      for (const v of [r.nsId, r.hostId, r.size]) {
        if (!Number.isInteger(v) || v < 0 || v >= U32_END) return `range ${i}: ${v} is not a 32-bit id`;
      }
      if (r.size === 0) return `range ${i}: size 0`;
      if (r.nsId + r.size > U32_END || r.hostId + r.size > U32_END) return `range ${i}: runs past 4294967295`;
      for (const q of ranges.slice(0, i)) {
        const overlaps = (a: number, b: number): boolean => a < b + q.size && b < a + r.size;
        if (overlaps(r.nsId, q.nsId)) return `range ${i}: its ids inside overlap an earlier range's`;
        if (overlaps(r.hostId, q.hostId)) return `range ${i}: its host ids overlap an earlier range's`;
      }
    }
    // The kernel takes a map in one write of less than a page.
    const text = ranges.map((r) => `${r.nsId} ${r.hostId} ${r.size}\n`).join('');
    if (text.length >= 4096) return `the map is ${text.length} bytes as uid_map text: the kernel takes less than 4096`;
    return new IdMap(ranges);
  }

  /** The id the program sees for a host id: OVERFLOW_ID when it has no mapping (from_kuid_munged()). */
  toNs(hostId: number): number {
    const ns = this.nsOf(hostId);
    return ns < 0 ? OVERFLOW_ID : ns;
  }

  /** Whether a host id has a mapping (kuid_has_mapping()). */
  hasHost(hostId: number): boolean {
    return this.nsOf(hostId) >= 0;
  }

  /** The host id of an id the program names, or -1 when it has none (make_kuid(): chown's EINVAL). */
  toHost(nsId: number): number {
    if (nsId === UNMAPPED_ID) return -1;
    if (this.isIdentity) return nsId;
    for (const r of this.ranges) {
      if (nsId >= r.nsId && nsId - r.nsId < r.size) return r.hostId + (nsId - r.nsId);
    }
    return -1;
  }

  /** The map as the launcher's --uid-map / --gid-map value: NS:HOST:SIZE lines joined by commas. */
  launcherArg(): string {
    return this.ranges.map((r) => `${r.nsId}:${r.hostId}:${r.size}`).join(',');
  }

  /**
   * The host id of an owner as a process in the namespace is shown it (the
   * gofer's statx): its mapping, or UNMAPPED_ID for the overflow id that
   * has none. When 65534 is mapped, an unmapped owner and the one 65534 maps
   * to look alike there: this gives the mapped one (the host kernel, which
   * the gofer's every access goes through, still tells them apart).
   */
  hostOfShown(nsId: number): number {
    const host = this.toHost(nsId);
    return host < 0 ? UNMAPPED_ID : host;
  }

  private nsOf(hostId: number): number {
    if (hostId === UNMAPPED_ID) return -1;
    if (this.isIdentity) return hostId;
    for (const r of this.ranges) {
      if (hostId >= r.hostId && hostId - r.hostId < r.size) return r.nsId + (hostId - r.hostId);
    }
    return -1;
  }
}

/** The sandbox's two maps. */
export interface IdMaps {
  readonly uid: IdMap;
  readonly gid: IdMap;
}

export const IDENTITY_IDS: IdMaps = { uid: IdMap.identity(), gid: IdMap.identity() };

/** The two maps as plain ranges: what a container's plan holds and what crosses to the sentry's thread. */
export interface IdMappings {
  readonly uid: readonly IdRange[];
  readonly gid: readonly IdRange[];
}

/** Plain ranges back to maps (validated again: they crossed a thread). */
export function idMapsOf(ranges: IdMappings | undefined): IdMaps {
  if (!ranges) return IDENTITY_IDS;
  const uid = IdMap.of(ranges.uid);
  const gid = IdMap.of(ranges.gid);
  if (typeof uid === 'string') throw new Error(`uid map: ${uid}`);
  if (typeof gid === 'string') throw new Error(`gid map: ${gid}`);
  return { uid, gid };
}

/**
 * Whether a task that is root in the namespace may use its file
 * capabilities (CAP_DAC_OVERRIDE, CAP_FOWNER, ...) on an inode of these
 * owners: only when both are mapped (Linux's capable_wrt_inode_uidgid()).
 */
export function capableOverOwner(ids: IdMaps, hostUid: number, hostGid: number): boolean {
  return ids.uid.hasHost(hostUid) && ids.gid.hasHost(hostGid);
}
