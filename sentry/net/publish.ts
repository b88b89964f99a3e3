// Port publishing (tsvisor do -p [HOSTIP:]HOST:CONTAINER[/tcp|/udp]) for
// --network sandbox. Two paths, as Docker has (its DNAT rules and its
// docker-proxy):
//   - from other machines: DNAT in the host's prerouting hook (sentry/net/nft.ts),
//     in the kernel, the client's address kept;
//   - from the host itself (127.0.0.1:HOST, or any local address): locally made
//     connections never pass prerouting, so a forwarder here, on the main
//     thread, listens on HOST and connects to the sandbox's address. Its
//     listening socket also holds the port, so that nothing else on the host
//     takes it while the sandbox runs, and a port already taken is a clear
//     error before the program starts.
// The alternative for loopback, DNAT in the output hook, needs
// route_localnet=1 (a host sysctl letting 127/8 be routed) and a masquerade
// of 127.0.0.1 sources: a wider machine change for the same result.
import dgram from 'node:dgram';
import net from 'node:net';
import type { PortRule } from './nft.js';

/** -p's text as a rule, or the reason it is not one. */
export function parsePublish(text: string): PortRule | string {
  const slash = text.lastIndexOf('/');
  const protoText = slash < 0 ? 'tcp' : text.slice(slash + 1);
  if (protoText !== 'tcp' && protoText !== 'udp') return `the protocol must be tcp or udp, not '${protoText}'`;
  const parts = (slash < 0 ? text : text.slice(0, slash)).split(':');
  if (parts.length !== 2 && parts.length !== 3) return 'expected [HOSTIP:]HOSTPORT:CONTAINERPORT[/tcp|/udp]';
  const hostIp = parts.length === 3 ? parts[0]! : null;
  if (hostIp !== null && net.isIPv4(hostIp) === false) return `'${hostIp}' is not an IPv4 address (the sandbox network is IPv4)`;
  const hostPort = port(parts[parts.length - 2]!);
  const sandboxPort = port(parts[parts.length - 1]!);
  if (hostPort === null) return `'${parts[parts.length - 2]}' is not a port (1..65535)`;
  if (sandboxPort === null) return `'${parts[parts.length - 1]}' is not a port (1..65535)`;
  return { protocol: protoText, hostIp, hostPort, sandboxPort };
}

function port(text: string): number | null {
  if (!/^[0-9]{1,5}$/.test(text)) return null;
  const n = Number(text);
  return n >= 1 && n <= 65535 ? n : null;
}

export function publishText(p: PortRule): string {
  return `${p.hostIp ?? '0.0.0.0'}:${p.hostPort}->${p.sandboxPort}/${p.protocol}`;
}

/** An open forwarder: close() stops it and every connection or session it carries. */
export interface Forwarder {
  close(): void;
}

/** Listens on the rule's host address and port; rejects (EADDRINUSE, say) before the sandbox starts. */
export function startForwarder(p: PortRule, sandboxIp: string): Promise<Forwarder> {
  return p.protocol === 'tcp' ? tcpForwarder(p, sandboxIp) : udpForwarder(p, sandboxIp);
}

function tcpForwarder(p: PortRule, sandboxIp: string): Promise<Forwarder> {
  const open = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (client) => {
    const upstream = net.connect({ host: sandboxIp, port: p.sandboxPort, allowHalfOpen: true });
    open.add(client).add(upstream);
    // pipe() ends the other side when one ends: a shutdown goes through as a shutdown.
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    // Nothing listens in the sandbox (ECONNREFUSED), or either side went away.
    client.on('error', drop).on('close', drop);
    upstream.on('error', drop).on('close', drop);
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen({ port: p.hostPort, host: p.hostIp ?? '0.0.0.0', exclusive: true }, () => {
      server.off('error', reject);
      resolve({
        close: () => {
          server.close();
          for (const s of open) s.destroy();
        },
      });
    });
  });
}

/** How long a UDP client with no traffic keeps its session (its own socket to the sandbox). */
const UDP_IDLE_MS = 60_000;

function udpForwarder(p: PortRule, sandboxIp: string): Promise<Forwarder> {
  const server = dgram.createSocket('udp4');
  const sessions = new Map<string, { sock: dgram.Socket; timer: NodeJS.Timeout }>();
  const endSession = (key: string): void => {
    const s = sessions.get(key);
    if (!s) return;
    clearTimeout(s.timer);
    s.sock.close();
    sessions.delete(key);
  };
  server.on('message', (msg, from) => {
    const key = `${from.address}:${from.port}`;
    let s = sessions.get(key);
    if (!s) {
      // One socket per client, so that the sandbox's replies find their way back.
      const sock = dgram.createSocket('udp4');
      sock.on('message', (reply) => server.send(reply, from.port, from.address));
      sock.on('error', () => endSession(key));
      sock.connect(p.sandboxPort, sandboxIp);
      s = { sock, timer: setTimeout(() => endSession(key), UDP_IDLE_MS) };
      sessions.set(key, s);
    }
    s.timer.refresh();
    const { sock } = s;
    // Sent once connected (the first datagram may arrive before).
    if (hasRemote(sock)) sendQuiet(sock, msg);
    else sock.once('connect', () => sendQuiet(sock, msg));
  });
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.bind({ port: p.hostPort, address: p.hostIp ?? '0.0.0.0', exclusive: true }, () => {
      server.off('error', reject);
      server.on('error', () => { /* a refused send to one client ends nothing */ });
      resolve({
        close: () => {
          for (const key of [...sessions.keys()]) endSession(key);
          server.close();
        },
      });
    });
  });
}

function hasRemote(sock: dgram.Socket): boolean {
  try {
    sock.remoteAddress();
    return true;
  } catch {
    return false;
  }
}

function sendQuiet(sock: dgram.Socket, msg: Buffer): void {
  sock.send(msg, () => { /* a lost datagram is UDP's to lose */ });
}
