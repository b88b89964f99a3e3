// Network modes (issue 7): --network sandbox (a veth pair and NAT, the host's
// nftables table of the sandbox's own), -p port publishing (from the host's
// loopback through the forwarder, from another sandbox through DNAT), the
// egress policy's second wall (nftables in the sandbox's own namespace,
// checked from the host with programs the sentry does not see), and the
// /etc files tsvisor provides. Everything the host gets is gone at the end,
// also when the sandbox is killed.
import { execFileSync, type ChildProcess } from 'node:child_process';
import dgram from 'node:dgram';
import fs from 'node:fs';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { descendantsOf, makeWorkDir, removeDir, runSandboxed, spawnSandboxed } from './helpers/sandbox.js';
import { resolvConf } from '../sentry/net/etc-files.js';
import { parsePublish } from '../sentry/net/publish.js';
import { egressRuleset } from '../sentry/net/nft.js';
import { NetPolicy } from '../sentry/net/policy.js';

let work: string;
beforeAll(() => {
  work = makeWorkDir('netmodes');
  fs.writeFileSync(path.join(work, 'index.txt'), 'hello from the sandbox\n');
});
afterAll(() => removeDir(work));

/** A port free on the host right now (for -p HOSTPORT). */
async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '0.0.0.0', () => r()));
  const p = (s.address() as net.AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return p;
}

/** Resolves once the child's stdout has shown text; rejects if it exits first. */
function waitForOutput(child: ChildProcess, text: string): Promise<string> {
  let seen = '';
  let err = '';
  child.stderr?.on('data', (b: Buffer) => { err += b.toString(); });
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', (b: Buffer) => {
      seen += b.toString();
      if (seen.includes(text)) resolve(seen);
    });
    child.on('exit', (code) => reject(new Error(`exited ${code} before '${text}': ${seen} ${err}`)));
  });
}

function exited(child: ChildProcess): Promise<number | null> {
  if (child.exitCode !== null) return Promise.resolve(child.exitCode);
  return new Promise((r) => child.once('exit', (code, signal) => r(code ?? (signal ? 128 + (os.constants.signals[signal] ?? 0) : null))));
}

/** The running sandbox of a tsvisor process: its state id and the host pid of its pid 1. */
function sandboxOf(tsvisor: ChildProcess): { id: string; initPid: number } {
  const procs = descendantsOf(tsvisor.pid!);
  const launcher = procs.find((p) => p.cmdline[1] === 'app' && p.cmdline.includes('--root'));
  if (!launcher) throw new Error('no launcher');
  const root = launcher.cmdline[launcher.cmdline.indexOf('--root') + 1]!;
  const id = /\/tmp\/tsvisor-([A-Za-z0-9]+)\/merged$/.exec(root)![1]!;
  const init = procs.find((p) => p.ppid === launcher.pid);
  if (!init) throw new Error('no sandbox init');
  return { id, initPid: init.pid };
}

const inNetns = (pid: number, args: string[]): string => execFileSync('nsenter', ['-t', String(pid), '-n', ...args], { encoding: 'utf8' });
const hostTables = (): string => execFileSync('nft', ['list', 'tables'], { encoding: 'utf8' });
const hostLinks = (): string => execFileSync('ip', ['-o', 'link', 'show'], { encoding: 'utf8' });

function httpGet(url: string): Promise<string> {
  return new Promise((resolve, reject) => {
    http.get(url, { timeout: 20_000 }, (res) => {
      let body = '';
      res.on('data', (b: Buffer) => { body += b.toString(); });
      res.on('end', () => resolve(body));
    }).on('error', reject).on('timeout', () => reject(new Error('timeout')));
  });
}

function udpExchange(port: number, text: string): Promise<string> {
  const s = dgram.createSocket('udp4');
  return new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('no UDP reply')), 20_000);
    s.on('message', (m) => { clearTimeout(timer); resolve(m.toString()); });
    s.send(text, port, '127.0.0.1');
  }).finally(() => s.close());
}

/** An address of the host other than loopback and tsvisor's own veths, if any. */
function hostAddress(): string | null {
  for (const [name, addrs] of Object.entries(os.networkInterfaces())) {
    if (name.startsWith('tsvh')) continue;
    const a = addrs?.find((x) => x.family === 'IPv4' && !x.internal);
    if (a) return a.address;
  }
  return null;
}

const SERVER = `
import socket, threading, subprocess, http.server, functools
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("0.0.0.0", 9053))
def echo():
    while True:
        d, a = u.recvfrom(100)
        u.sendto(b"echo " + d, a)
threading.Thread(target=echo, daemon=True).start()
print(subprocess.run(["ip", "-4", "-o", "addr", "show", "dev", "eth0"], capture_output=True, text=True).stdout.strip())
print(subprocess.run(["ip", "route", "show", "default"], capture_output=True, text=True).stdout.strip())
h = functools.partial(http.server.SimpleHTTPRequestHandler, directory="/www")
s = http.server.ThreadingHTTPServer(("0.0.0.0", 8000), h)
print("serving", flush=True)
s.serve_forever()
`;

describe('--network sandbox', () => {
  it('has its own address and route, publishes ports to the host and other sandboxes, and leaves nothing when killed', async () => {
    const [tcpPort, udpPort] = [await freePort(), await freePort()];
    const a = spawnSandboxed(['python3', '-u', '-c', SERVER], {
      cwd: work, flags: ['--network', 'sandbox', '--bind', `${work}:/www:ro`, '-p', `${tcpPort}:8000`, '-p', `${udpPort}:9053/udp`],
    });
    try {
      const out = await waitForOutput(a, 'serving');
      const addr = /inet (100\.96\.\d+\.\d+)\/30/.exec(out)?.[1];
      expect(addr, out).toBeDefined();
      expect(out).toMatch(/^default via 100\.96\.\d+\.\d+ dev eth0/m);
      const { id } = sandboxOf(a);
      expect(hostTables()).toContain(`table ip tsvisor-${id}`);
      const table = execFileSync('nft', ['list', 'table', 'ip', `tsvisor-${id}`], { encoding: 'utf8' });
      expect(table).toContain(`ip saddr ${addr} oifname`);
      expect(table).toContain(`dnat to ${addr}:8000`);
      const link = /"(tsvh\d+)"/.exec(table)?.[1];
      expect(link).toBeDefined();
      expect(hostLinks()).toContain(`${link}@`);

      // From the host's own loopback: the forwarder.
      expect(await httpGet(`http://127.0.0.1:${tcpPort}/index.txt`)).toBe('hello from the sandbox\n');
      expect(await udpExchange(udpPort, 'ping')).toBe('echo ping');
      // From another sandbox, through the host's address: DNAT in prerouting, forwarded, masqueraded.
      const hostIp = hostAddress();
      if (hostIp) {
        const b = await runSandboxed(['python3', '-c', `import urllib.request; print(urllib.request.urlopen("http://${hostIp}:${tcpPort}/index.txt", timeout=20).read().decode(), end="")`], {
          cwd: work, flags: ['--network', 'sandbox'],
        });
        expect(b.stderr + b.stdout).toBe('hello from the sandbox\n');
      }

      // Killed: its pid 1 (and so the whole sandbox) by SIGKILL from outside.
      process.kill(sandboxOf(a).initPid, 'SIGKILL');
      expect(await exited(a)).toBe(137);
      expect(hostTables()).not.toContain(`tsvisor-${id}`);
      expect(hostLinks()).not.toContain(`${link}@`);
      expect(execFileSync('ip', ['-4', 'route', 'show', 'table', 'all'], { encoding: 'utf8' })).not.toContain(`${addr} `);
      // The port is free again.
      const again = net.createServer();
      await new Promise<void>((resolve, reject) => again.once('error', reject).listen(tcpPort, '0.0.0.0', () => resolve()));
      await new Promise<void>((r) => again.close(() => r()));
    } finally {
      a.kill('SIGKILL');
    }
  });

  it('a sandbox run to its end leaves no table, link or route either', async () => {
    const r = await runSandboxed(['sh', '-c', 'ip -4 -o addr show dev eth0'], { cwd: work, flags: ['--network', 'sandbox'] });
    expect(r.status, r.stderr).toBe(0);
    const slot = /inet 100\.96\.(\d+)\.(\d+)\/30/.exec(r.stdout);
    expect(slot, r.stdout).not.toBeNull();
    const index = (Number(slot![1]) * 256 + Number(slot![2]) - 2) / 4;
    expect(hostLinks()).not.toContain(`tsvh${index}@`);
    expect(execFileSync('nft', ['list', 'ruleset'], { encoding: 'utf8' })).not.toContain(`ip saddr 100.96.${slot![1]}.${slot![2]} `);
  });

  it('-p is a usage error without --network sandbox, or when malformed', async () => {
    const none = await runSandboxed(['true'], { cwd: work, flags: ['-p', '8080:80'] });
    expect(none.status).toBe(2);
    expect(none.stderr).toContain('-p needs --network sandbox');
    const bad = await runSandboxed(['true'], { cwd: work, flags: ['--network', 'sandbox', '-p', '8080:80/sctp'] });
    expect(bad.status).toBe(2);
    expect(bad.stderr).toContain('tcp or udp');
    expect(parsePublish('127.0.0.1:8080:80/udp')).toEqual({ protocol: 'udp', hostIp: '127.0.0.1', hostPort: 8080, sandboxPort: 80 });
    expect(parsePublish('0:80')).toMatch(/not a port/);
  });
});

// Run with nsenter in the sandbox's namespace: the kernel alone, no sentry.
const KERNEL_PROBE = (okPort: number, deniedPort: number): string => `
import socket
for p in (${okPort}, ${deniedPort}):
    l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1); l.bind(("127.0.0.1", p)); l.listen()
    globals()["l%d" % p] = l
for p in (${okPort}, ${deniedPort}):
    try:
        socket.create_connection(("127.0.0.1", p), timeout=10); print(p, "connected")
    except OSError as e:
        print(p, "errno", e.errno)
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
try:
    u.sendto(b"x", ("127.1.0.1", 53)); print("udp sent")
except OSError as e:
    print("udp errno", e.errno)
`;

describe('the egress policy\'s second wall: nftables in the sandbox\'s namespace', () => {
  for (const mode of ['none', 'sandbox'] as const) {
    it(`--network ${mode}: the rules are there before the program runs, and the kernel refuses what they refuse`, async () => {
      const [okPort, deniedPort] = [40123, 40124];
      const child = spawnSandboxed(['sh', '-c', 'echo ready; exec sleep 120'], {
        cwd: work, flags: ['--network', mode, '--net-allow', '127.0.0.0/16', '--net-deny', `127.0.0.1:${deniedPort}`],
      });
      try {
        await waitForOutput(child, 'ready');
        const { initPid } = sandboxOf(child);
        const rules = inNetns(initPid, ['nft', 'list', 'ruleset']);
        expect(rules).toContain('table inet tsvisor-egress');
        expect(rules).toContain('ct state established,related accept');
        expect(rules).toMatch(new RegExp(`ip daddr 127\\.0\\.0\\.1 .*th dport ${deniedPort} goto refuse`));
        expect(rules).toContain('ip daddr 127.0.0.0/16 accept');
        const probe = inNetns(initPid, ['python3', '-c', KERNEL_PROBE(okPort, deniedPort)]);
        expect(probe).toBe(`${okPort} connected\n${deniedPort} errno 111\nudp errno 1\n`);
      } finally {
        child.kill('SIGTERM');
        await exited(child);
      }
    });
  }

  it('--network host: the host\'s namespace is left alone', async () => {
    const r = await runSandboxed(['sh', '-c', 'nft list tables 2>&1; true'], { cwd: work, flags: ['--network', 'host', '--net-deny', '127.0.0.2'] });
    expect(r.status, r.stderr).toBe(0);
    expect(hostTables()).not.toContain('tsvisor-egress');
  });

  it('the ruleset says what NetPolicy says (one source of truth)', () => {
    const p = NetPolicy.fromTexts(['10.0.0.0/8:80,8000-8100', '[fd00::/8]:443'], ['10.1.0.0/16']);
    if (typeof p === 'string') throw new Error(p);
    const r = egressRuleset(p)!;
    expect(r).toContain('ip daddr 10.1.0.0/16 goto refuse');
    expect(r).toContain('ip daddr 10.0.0.0/8 meta l4proto { tcp, udp, udplite } th dport { 80, 8000-8100 } accept');
    expect(r).toContain('ip6 daddr fd00:0:0:0:0:0:0:0/8 meta l4proto { tcp, udp, udplite } th dport { 443 } accept');
    expect(r.indexOf('10.1.0.0/16')).toBeLessThan(r.indexOf('10.0.0.0/8'));
    expect(egressRuleset(new NetPolicy())).toBeNull();
  });
});

describe('/etc/resolv.conf, /etc/hosts, /etc/hostname', () => {
  const show = ['sh', '-c', 'cat /etc/resolv.conf; echo ---; cat /etc/hosts; echo ---; cat /etc/hostname; hostname; echo 10.9.9.9 added >> /etc/hosts && grep -c added /etc/hosts'];

  it('--network none: no nameservers; localhost and the hostname; the sandbox\'s own copies', async () => {
    const r = await runSandboxed(show, { cwd: work });
    expect(r.status, r.stderr).toBe(0);
    const [resolv, hosts, rest] = r.stdout.split('---\n') as [string, string, string];
    expect(resolv).not.toMatch(/^nameserver/m);
    expect(hosts).toContain('127.0.0.1\tlocalhost\n');
    expect(hosts).toContain(`\t${os.hostname()}\n`);
    expect(rest).toBe(`${os.hostname()}\n${os.hostname()}\n1\n`);
    expect(fs.readFileSync('/etc/hosts', 'utf8')).not.toContain('added');
  });

  it('--network sandbox: the host\'s nameservers, the hostname at the sandbox\'s address', async () => {
    const r = await runSandboxed(['sh', '-c', `${show[2]}; ip -4 -o addr show dev eth0`], { cwd: work, flags: ['--network', 'sandbox'] });
    expect(r.status, r.stderr).toBe(0);
    const [resolv, hosts] = r.stdout.split('---\n') as [string, string];
    expect(resolv).toBe(resolvConf('sandbox'));
    const addr = /inet (100\.96\.\d+\.\d+)/.exec(r.stdout)![1]!;
    expect(hosts).toContain(`${addr}\t${os.hostname()}\n`);
  });

  it('a --bind of the user\'s own is not covered', async () => {
    const own = path.join(work, 'hosts');
    fs.writeFileSync(own, '192.0.2.9 mine\n');
    const r = await runSandboxed(['sh', '-c', 'cat /etc/hosts; cat /etc/resolv.conf'], { cwd: work, flags: ['--bind', `${own}:/etc/hosts:ro`] });
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toContain('192.0.2.9 mine\n');
    expect(r.stdout).not.toContain('localhost');
    expect(r.stdout).toContain('no nameservers');
  });
});
