// /etc/resolv.conf, /etc/hosts and /etc/hostname of a `tsvisor do` sandbox:
// written by tsvisor into the sandbox's state folder and bound over the
// root's (the sandbox's own copies, writable as Docker's are; read-only with
// --overlay none), as Docker does, so that they say what the sandbox's network is
// (not what the image or the host says), unless the user binds their own.
import fs from 'node:fs';
import path from 'node:path';

export type NetworkMode = 'none' | 'host' | 'sandbox';

export interface EtcFacts {
  readonly mode: NetworkMode;
  readonly hostname: string;
  /** The sandbox's own address (--network sandbox), else null. */
  readonly sandboxIp: string | null;
}

export const ETC_FILES = ['/etc/resolv.conf', '/etc/hosts', '/etc/hostname'] as const;

const LOCALHOST = '127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n';

function readOr(file: string, fallback: string): string {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return fallback;
  }
}

/**
 * The host's resolver configuration. In sandbox mode a nameserver on the
 * host's loopback (systemd-resolved's 127.0.0.53 stub) is not reachable from
 * the sandbox's namespace: systemd-resolved's list of the real upstream
 * servers is used instead where there is one, else those lines are left out.
 */
export function resolvConf(mode: NetworkMode, hostFile = '/etc/resolv.conf'): string {
  if (mode === 'none') return '# tsvisor --network none: no network, no nameservers\n';
  const text = readOr(hostFile, '');
  if (mode === 'host') return text;
  const loopback = (line: string): boolean => /^\s*nameserver\s+(127\.|::1\s*$)/.test(line);
  if (!text.split('\n').some(loopback)) return text;
  const upstream = readOr('/run/systemd/resolve/resolv.conf', '');
  if (upstream !== '' && !upstream.split('\n').some(loopback)) return upstream;
  return text.split('\n').filter((l) => !loopback(l)).join('\n');
}

/** localhost, and the sandbox's hostname at its address; host mode: the host's file, as with docker --network host. */
export function hostsFile(f: EtcFacts): string {
  if (f.mode === 'host') return readOr('/etc/hosts', LOCALHOST);
  // Debian's convention for a hostname with no address of its own (none).
  const own = f.sandboxIp ?? '127.0.1.1';
  return `${LOCALHOST}${own}\t${f.hostname}\n`;
}

export function etcContents(f: EtcFacts): Record<(typeof ETC_FILES)[number], string> {
  return {
    '/etc/resolv.conf': resolvConf(f.mode),
    '/etc/hosts': hostsFile(f),
    '/etc/hostname': `${f.hostname}\n`,
  };
}

/** Whether a user mount at target covers file (the same path, or a folder above it). */
export function covers(target: string, file: string): boolean {
  return file === target || file.startsWith(target.endsWith('/') ? target : `${target}/`);
}

/**
 * Whether file may be bound over in rootfs: it is there (symlinks followed
 * inside rootfs, as the launcher follows them), or it is missing and the
 * root is writable (the launcher makes it). A symlink to nothing is left as
 * it is: the launcher refuses to make a symlink's target.
 */
export function canBindOver(rootfs: string, file: string, rootWritable: boolean): boolean {
  let rel = file;
  for (let hops = 0; hops < 16; hops++) {
    const host = path.join(rootfs, rel);
    let st: fs.Stats;
    try {
      st = fs.lstatSync(host);
    } catch {
      return rootWritable && hops === 0 && parentIsDir(rootfs, rel);
    }
    if (!st.isSymbolicLink()) return st.isFile();
    const target = fs.readlinkSync(host);
    rel = path.posix.resolve(path.posix.dirname(rel), target);
  }
  return false;
}

function parentIsDir(rootfs: string, rel: string): boolean {
  try {
    return fs.statSync(path.join(rootfs, path.posix.dirname(rel))).isDirectory();
  } catch {
    return false;
  }
}

/**
 * Writes the files into dir and returns the binds to prepend to the
 * sandbox's mounts, each skipped where the user's own mounts
 * cover the file or where the root cannot take it.
 */
export function writeEtcFiles(
  dir: string, facts: EtcFacts, rootfs: string, rootWritable: boolean, userTargets: readonly string[],
): { source: string; target: string }[] {
  fs.mkdirSync(dir, { mode: 0o755 });
  const contents = etcContents(facts);
  const binds: { source: string; target: string }[] = [];
  for (const file of ETC_FILES) {
    if (userTargets.some((t) => covers(t, file))) continue;
    if (!canBindOver(rootfs, file, rootWritable)) continue;
    const source = path.join(dir, path.posix.basename(file));
    fs.writeFileSync(source, contents[file], { mode: 0o644 });
    // The root's own file's mode where it has one, so that what the
    // program sees of it (stat, access) is the root's: only the text is ours.
    const own = modeOf(path.join(rootfs, file));
    if (own !== null) fs.chmodSync(source, own);
    binds.push({ source, target: file });
  }
  return binds;
}

/** The permission bits of a file of the root (following symlinks), or null. */
function modeOf(file: string): number | null {
  try {
    return fs.statSync(file).mode & 0o7777;
  } catch {
    return null;
  }
}
