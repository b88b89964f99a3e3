// A container root made of busybox-static, as the OCI tests use it: the
// binary, its applets as symlinks (`busybox --install -s`), and /etc/passwd
// and /etc/group naming root and any other users given.
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export interface RootfsUser {
  readonly name: string;
  readonly uid: number;
  readonly home: string;
}

/** Makes rootfs (it may exist); each user's home is made and owned by it. */
export function makeBusyboxRootfs(rootfs: string, users: readonly RootfsUser[] = []): void {
  for (const d of ['bin', 'dev', 'proc', 'sys', 'etc', 'tmp', 'root']) fs.mkdirSync(path.join(rootfs, d), { recursive: true });
  fs.chmodSync(path.join(rootfs, 'tmp'), 0o1777);
  fs.copyFileSync('/bin/busybox', path.join(rootfs, 'bin', 'busybox'));
  fs.chmodSync(path.join(rootfs, 'bin', 'busybox'), 0o755);
  execFileSync('chroot', [rootfs, '/bin/busybox', '--install', '-s', '/bin']);
  for (const u of users) {
    fs.mkdirSync(path.join(rootfs, u.home), { recursive: true });
    fs.chownSync(path.join(rootfs, u.home), u.uid, u.uid);
  }
  const passwd = ['root:x:0:0:root:/root:/bin/sh', ...users.map((u) => `${u.name}:x:${u.uid}:${u.uid}::${u.home}:/bin/sh`)];
  const group = ['root:x:0:', ...users.map((u) => `${u.name}:x:${u.uid}:`)];
  fs.writeFileSync(path.join(rootfs, 'etc', 'passwd'), passwd.join('\n') + '\n');
  fs.writeFileSync(path.join(rootfs, 'etc', 'group'), group.join('\n') + '\n');
}

/**
 * A bundle in dir: the config of `tsvisor spec` with root.path set to
 * rootfs and no terminal, then changed by edit. C is the part of the
 * config a test reads and changes.
 */
export function makeBundle<C extends { root: { path: string }; process: { terminal: boolean } }>(
  cli: string, dir: string, rootfs: string, edit: (c: C) => void,
): string {
  fs.mkdirSync(dir, { recursive: true });
  const spec = spawnSync(process.execPath, [cli, 'spec', '--bundle', dir], { encoding: 'utf8' });
  if (spec.status !== 0) throw new Error(`tsvisor spec: ${spec.stderr}`);
  const file = path.join(dir, 'config.json');
  const c = JSON.parse(fs.readFileSync(file, 'utf8')) as C;
  c.root.path = rootfs;
  c.process.terminal = false;
  edit(c);
  fs.writeFileSync(file, JSON.stringify(c));
  return dir;
}
