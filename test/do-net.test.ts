// Network semantics end to end (issue 7): a sandboxed client reaching a
// server on the host's loopback (--network host), the same refused by the
// egress policy, unix sockets between two processes of a sandbox with
// SCM_RIGHTS and SCM_CREDENTIALS, names the program gave, UDP echo, and the
// families a sandbox may not make.
import net from 'node:net';
import dgram from 'node:dgram';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { HELPERS_DIR, differential, makeWorkDir, removeDir, runNative, runSandboxed } from './helpers/sandbox.js';

/** The test programs, copied into the work folder: the sandbox's /tmp is its
 * own, so a clone of the repository under /tmp would not be seen from inside. */
const NET_SOURCES = path.join(HELPERS_DIR, '..', 'net');
let NET_DIR = NET_SOURCES;
let work: string;
let server: net.Server;
let port = 0;
let connections = 0;
let udp: dgram.Socket;
let udpPort = 0;

beforeAll(async () => {
  work = makeWorkDir('net');
  NET_DIR = path.join(work, 'programs');
  fs.cpSync(NET_SOURCES, NET_DIR, { recursive: true });
  server = net.createServer((sock) => {
    connections++;
    sock.on('data', (b) => sock.end(`host says ${b.toString()}`));
    sock.on('error', () => { /* the client may go first */ });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  port = (server.address() as net.AddressInfo).port;
  udp = dgram.createSocket('udp4');
  udp.on('message', (msg, rinfo) => udp.send(Buffer.from(`echo ${msg.toString()}`), rinfo.port, rinfo.address));
  await new Promise<void>((resolve) => udp.bind(0, '127.0.0.1', resolve));
  udpPort = udp.address().port;
});

afterAll(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  udp.close();
  removeDir(work);
});

const CLIENT = (p: number): string => `
import socket, sys
try:
    s = socket.create_connection(("127.0.0.1", ${p}), timeout=30)
    s.sendall(b"hello")
    print(s.recv(100).decode())
except OSError as e:
    print("refused", e.errno)
`;

describe('network', () => {
  it('--network host: a client inside reaches a server on the host loopback', async () => {
    const before = connections;
    const r = await runSandboxed(['python3', '-c', CLIENT(port)], { cwd: work, flags: ['--network', 'host'] });
    expect(r.stderr).toBe('');
    expect(r.stdout).toBe('host says hello\n');
    expect(connections).toBe(before + 1);
  });

  it('--net-deny 127.0.0.0/8 refuses the same connect (ECONNREFUSED) and logs it; the server sees nothing', async () => {
    const before = connections;
    const r = await runSandboxed(['python3', '-c', CLIENT(port)], { cwd: work, flags: ['--network', 'host', '--net-deny', '127.0.0.0/8'] });
    expect(r.stdout).toBe('refused 111\n');
    expect(r.stderr).toContain('network egress refused');
    expect(r.stderr).toContain(`127.0.0.1:${port}`);
    expect(connections).toBe(before);
  });

  it('--net-allow lets only the ports it names through; 0.0.0.0 is loopback to the policy as to Linux', async () => {
    const script = `${CLIENT(port)}
for host in ("127.0.0.1", "0.0.0.0", "::ffff:127.0.0.1"):
    try:
        socket.create_connection((host, ${port === 65535 ? 65534 : port + 1}), timeout=30)
    except OSError as e:
        print(host, e.errno)
`;
    const r = await runSandboxed(['python3', '-c', script], { cwd: work, flags: ['--network', 'host', '--net-allow', `127.0.0.1/32:${port}`] });
    expect(r.stdout).toBe('host says hello\n127.0.0.1 111\n0.0.0.0 111\n::ffff:127.0.0.1 111\n');
    expect(r.stderr.match(/network egress refused/g)?.length).toBe(3);
  });

  it('UDP to the host: sendto with an address, the policy checks it (EPERM when refused)', async () => {
    const script = `
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(30)
s.sendto(b"datagram", ("127.0.0.1", ${udpPort}))
print(s.recvfrom(100)[0].decode())
try:
    s.sendto(b"x", ("127.0.0.2", ${udpPort}))
except OSError as e:
    print("refused", e.errno)
`;
    const r = await runSandboxed(['python3', '-c', script], { cwd: work, flags: ['--network', 'host', '--net-deny', '127.0.0.2'] });
    expect(r.stdout).toBe('echo datagram\nrefused 1\n');
  });

  it('UDP echo inside the sandbox: the same as natively', async () => {
    const d = await differential(['python3', path.join(NET_DIR, 'udp_echo.py')], { cwd: work });
    expect(d.native.stdout).toContain('PONG');
    expect(d.sandboxed.stderr).toBe(d.native.stderr);
    expect(d.sandboxed.stdout).toBe(d.native.stdout);
  });

  // The sentry makes the connect; the listener must still see the task's
  // ids (the pid it sees is the sentry's, 0 in the sandbox: not compared).
  it('SO_PEERCRED of a unix connection names the connecting task\'s uid and gid', async () => {
    const nativeDir = makeWorkDir('net-peer-n');
    const sandboxDir = makeWorkDir('net-peer-s');
    // uid 1000 must reach the socket (work folders are made 0700).
    for (const dir of [nativeDir, sandboxDir]) fs.chmodSync(dir, 0o755);
    try {
      const n = await runNative(['python3', path.join(NET_DIR, 'peercred.py'), nativeDir], { cwd: work });
      const s = await runSandboxed(['python3', path.join(NET_DIR, 'peercred.py'), sandboxDir], { cwd: work });
      expect(n.stdout).toBe('peer uid 1000 gid 1000\n');
      expect(s.stderr).toBe('');
      expect(s.stdout).toBe(n.stdout);
    } finally {
      removeDir(nativeDir);
      removeDir(sandboxDir);
    }
  });

  it('two sandboxed processes over unix sockets: SCM_RIGHTS, SCM_CREDENTIALS, path names, errors, as natively', async () => {
    const nativeDir = makeWorkDir('net-unix-n');
    const sandboxDir = makeWorkDir('net-unix-s');
    try {
      const d = await differential(['python3', path.join(NET_DIR, 'unix_scm.py'), nativeDir], { cwd: work });
      const s = await runSandboxed(['python3', path.join(NET_DIR, 'unix_scm.py'), sandboxDir], { cwd: work });
      expect(d.native.stdout).toContain('through the passed fd');
      expect(s.stderr).toBe('');
      expect(s.stdout).toBe(d.native.stdout);
    } finally {
      removeDir(nativeDir);
      removeDir(sandboxDir);
    }
  });

  it('a unix socket bound in one sandbox is reached from another through a shared --bind directory', async () => {
    const shared = makeWorkDir('net-shared');
    try {
      const serverScript = `
import socket, os
s = socket.socket(socket.AF_UNIX)
s.bind("${shared}/srv.sock")
s.listen(1)
print("ready", flush=True)
c, _ = s.accept()
c.sendall(b"across sandboxes")
`;
      const clientScript = `
import socket, os, time
for _ in range(600):
    if os.path.exists("${shared}/srv.sock"):
        break
    time.sleep(0.1)
c = socket.socket(socket.AF_UNIX)
for _ in range(100):
    try:
        c.connect("${shared}/srv.sock")
        break
    except ConnectionRefusedError:
        time.sleep(0.1)
print(c.recv(100).decode())
`;
      const bind = ['--bind', `${shared}:${shared}`];
      const [srv, cli] = await Promise.all([
        runSandboxed(['python3', '-c', serverScript], { cwd: work, flags: bind }),
        runSandboxed(['python3', '-c', clientScript], { cwd: work, flags: bind }),
      ]);
      expect(srv.stdout).toBe('ready\n');
      expect(cli.stdout).toBe('across sandboxes\n');
    } finally {
      removeDir(shared);
    }
  });

  it('packet and raw sockets are EPERM without --net-raw; families not offered are EAFNOSUPPORT', async () => {
    const script = `
import socket
for fam, typ, proto in ((socket.AF_PACKET, socket.SOCK_RAW, 0), (socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP), (socket.AF_ALG, socket.SOCK_SEQPACKET, 0), (socket.AF_NETLINK, socket.SOCK_RAW, 9)):
    try:
        socket.socket(fam, typ, proto)
        print("made")
    except OSError as e:
        print(e.errno)
socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, 0)
print("netlink route ok")
`;
    const r = await runSandboxed(['python3', '-c', script], { cwd: work });
    expect(r.stdout).toBe('1\n1\n97\n93\nnetlink route ok\n');
    const raw = await runSandboxed(['python3', '-c', script], { cwd: work, flags: ['--net-raw'] });
    expect(raw.stdout).toBe('made\nmade\n97\n93\nnetlink route ok\n');
  });

  it('ip addr and ip route read the sandbox\'s own network namespace through AF_NETLINK', async () => {
    const r = await runSandboxed(['sh', '-c', 'ip addr && ip route && echo done'], { cwd: work });
    expect(r.stdout).toContain('lo:');
    expect(r.stdout).toContain('127.0.0.1/8');
    expect(r.stdout).toContain('done');
  });

  it('bad --net-allow / --net-deny rules are usage errors', async () => {
    const r = await runSandboxed(['true'], { cwd: work, flags: ['--net-deny', '10.0.0.0/33'] });
    expect(r.status).toBe(2);
    expect(r.stderr).toContain('--net-deny 10.0.0.0/33');
  });
});
