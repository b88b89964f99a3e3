// The host side of a sandbox's network, done from the main thread with the
// host's own tools (ip, nsenter, nft) while the launcher holds the sandbox's
// first process before it does anything (launcher --net-ready-fd):
//
//   none     the sandbox's own namespace, loopback only (the launcher brings
//            it up); with an egress policy, its nftables copy (nft.ts).
//   host     the host's namespace: nothing here touches it.
//   sandbox  the sandbox's own namespace joined to the host by a veth pair:
//            a /30 of 100.96.0.0/16 per sandbox (the host end .1, the sandbox
//            eth0 .2, its default route through .1), masquerade and published
//            ports in an nftables table of the sandbox's own in the host's
//            namespace, forwarders for the host's own connections (publish.ts).
//
// The /30 is claimed by creating the veth pair, whose names carry its index:
// two sandboxes picking the same one meet at EEXIST, and the second tries
// another. The pair goes when either end is deleted, and with the sandbox's
// namespace when its last process is gone, so a killed sandbox leaves no
// interface or route; only its nft table could outlive a tsvisor killed with
// SIGKILL, and the next sandbox-mode run deletes those whose state is gone.
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import type { Log } from '../log.js';
import { egressRuleset, hostTable, type PortRule } from './nft.js';
import type { NetPolicy } from './policy.js';
import { publishText, startForwarder, type Forwarder } from './publish.js';
import type { NetworkMode } from './etc-files.js';

export class NetworkSetupError extends Error {}

interface CommandResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** Runs a host tool, input on its stdin; never throws for a non-zero exit. */
function run(cmd: string, args: readonly string[], input = ''): Promise<CommandResult> {
  return new Promise((resolve) => {
    const child = spawn(cmd, [...args], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', (e) => resolve({ code: 127, stdout: '', stderr: `${cmd}: ${e.message}` }));
    child.on('close', (code) => resolve({ code: code ?? 128, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString().trim() }));
    child.stdin.on('error', () => { /* it exited before reading */ });
    child.stdin.end(input);
  });
}

async function must(what: string, cmd: string, args: readonly string[], input = ''): Promise<string> {
  const r = await run(cmd, args, input);
  if (r.code !== 0) throw new NetworkSetupError(`${what}: ${r.stderr || `${cmd} exited ${r.code}`}`);
  return r.stdout;
}

/** The pool the sandboxes' /30s come from: shared address space (RFC 6598), rarely routed on a host. */
const POOL_BASE = (100 << 24) | (96 << 16);
const POOL_SLOTS = 1 << 14;
const MAX_TRIES = 64;
export const HOST_IF_PREFIX = 'tsvh';
const PEER_IF_PREFIX = 'tsvc';
export const TABLE_PREFIX = 'tsvisor-';

function ipText(n: number): string {
  return [n >>> 24, (n >>> 16) & 255, (n >>> 8) & 255, n & 255].join('.');
}

function parseCidr(text: string): [number, number] | null {
  const m = /^(\d+)\.(\d+)\.(\d+)\.(\d+)(?:\/(\d+))?$/.exec(text);
  if (!m) return null;
  const addr = ((Number(m[1]) << 24) | (Number(m[2]) << 16) | (Number(m[3]) << 8) | Number(m[4])) >>> 0;
  return [addr, m[5] === undefined ? 32 : Number(m[5])];
}

function overlaps(a: [number, number], b: [number, number]): boolean {
  const len = Math.min(a[1], b[1]);
  if (len === 0) return true;
  const mask = (~0 << (32 - len)) >>> 0;
  return ((a[0] & mask) >>> 0) === ((b[0] & mask) >>> 0);
}

/** Every IPv4 destination the host routes somewhere, in any table (default routes left out). */
async function hostRoutes(): Promise<[number, number][]> {
  const text = await must('listing the host\'s routes', 'ip', ['-4', '-o', 'route', 'show', 'table', 'all']);
  const types = new Set(['local', 'broadcast', 'unicast', 'unreachable', 'blackhole', 'prohibit', 'throw', 'multicast', 'anycast', 'nat']);
  const out: [number, number][] = [];
  for (const line of text.split('\n')) {
    const words = line.trim().split(/\s+/);
    const dest = types.has(words[0] ?? '') ? words[1] : words[0];
    const cidr = dest === undefined || dest === 'default' ? null : parseCidr(dest);
    if (cidr) out.push(cidr);
  }
  return out;
}

/** The per-sandbox parts of --network sandbox. */
interface Veth {
  readonly slot: number;
  readonly hostIf: string;
  readonly peerIf: string;
  readonly hostIp: string;
  readonly sandboxIp: string;
}

/**
 * The MTU of the host's default route's interface (1500 without one): a
 * larger one on the veth would make the sandbox send packets the host's
 * uplink cannot carry.
 */
async function uplinkMtu(): Promise<number> {
  const r = await run('ip', ['-4', '-o', 'route', 'show', 'default']);
  const dev = /\bdev (\S+)/.exec(r.stdout)?.[1];
  if (!dev || dev.includes('/')) return 1500;
  try {
    const mtu = Number(fs.readFileSync(`/sys/class/net/${dev}/mtu`, 'latin1'));
    return Number.isInteger(mtu) && mtu >= 576 && mtu <= 65535 ? mtu : 1500;
  } catch {
    return 1500;
  }
}

async function claimVeth(): Promise<Veth> {
  const routes = await hostRoutes();
  const mtu = String(await uplinkMtu());
  const start = Math.floor(Math.random() * POOL_SLOTS);
  let lastError = '';
  for (let i = 0, tried = 0; i < POOL_SLOTS && tried < MAX_TRIES; i++) {
    const slot = (start + i) % POOL_SLOTS;
    const net = (POOL_BASE + slot * 4) >>> 0;
    if (routes.some((r) => overlaps(r, [net, 30]))) continue;
    tried++;
    const hostIf = `${HOST_IF_PREFIX}${slot}`;
    const peerIf = `${PEER_IF_PREFIX}${slot}`;
    const r = await run('ip', ['link', 'add', hostIf, 'mtu', mtu, 'type', 'veth', 'peer', 'name', peerIf, 'mtu', mtu]);
    if (r.code === 0) return { slot, hostIf, peerIf, hostIp: ipText(net + 1), sandboxIp: ipText(net + 2) };
    lastError = r.stderr;
    // Another sandbox holds this slot: try the next.
    if (!/exists/i.test(r.stderr)) break;
  }
  throw new NetworkSetupError(`no free address range for the sandbox in 100.96.0.0/16: ${lastError || 'all in use'}`);
}

export interface NetworkPlan {
  readonly mode: NetworkMode;
  /** The state folder's id: names the host table. */
  readonly id: string;
  readonly policy: NetPolicy;
  readonly publish: readonly PortRule[];
  readonly log: Log;
}

/**
 * One sandbox's network, from before its launcher starts (prepare) to after
 * its last process is gone (teardown).
 */
export class SandboxNetwork {
  private veth: Veth | null = null;
  private forwarders: Forwarder[] = [];
  private tableMade = false;

  private constructor(private readonly plan: NetworkPlan) {}

  /**
   * Claims the address range and the published ports (sandbox mode), so
   * that a clash is an error before anything starts. Undoes its own part on
   * failure.
   */
  static async prepare(plan: NetworkPlan): Promise<SandboxNetwork> {
    const n = new SandboxNetwork(plan);
    if (plan.mode !== 'sandbox') return n;
    await removeStaleTables(plan.log);
    try {
      n.veth = await claimVeth();
      for (const p of plan.publish) n.forwarders.push(await startForwarder(p, n.veth.sandboxIp).catch((e: Error) => {
        throw new NetworkSetupError(`-p ${publishText(p)}: ${e.message}`);
      }));
    } catch (err) {
      await n.teardown();
      throw err;
    }
    return n;
  }

  get sandboxIp(): string | null {
    return this.veth?.sandboxIp ?? null;
  }

  /** Whether the launcher must hold the sandbox for attach(). */
  get needsGate(): boolean {
    return this.plan.mode === 'sandbox' || (this.plan.mode === 'none' && egressRuleset(this.plan.policy) !== null);
  }

  /** Sets up the namespace of pid (held by the launcher, nothing run in it yet). */
  async attach(pid: number): Promise<void> {
    if (this.veth) await this.attachVeth(pid, this.veth);
    const rules = this.plan.mode === 'host' ? null : egressRuleset(this.plan.policy);
    if (rules) await must('the egress policy in the sandbox\'s namespace', 'nsenter', ['-t', String(pid), '-n', 'nft', '-f', '-'], rules);
  }

  private async attachVeth(pid: number, v: Veth): Promise<void> {
    await must('moving the veth into the sandbox', 'ip', ['link', 'set', v.peerIf, 'netns', String(pid)]);
    await must('the host end of the veth', 'ip', ['-batch', '-'], `addr add ${v.hostIp}/30 dev ${v.hostIf}\nlink set ${v.hostIf} up\n`);
    await must('the sandbox end of the veth', 'nsenter', ['-t', String(pid), '-n', 'ip', '-batch', '-'], [
      'link set lo up',
      `link set ${v.peerIf} name eth0`,
      `addr add ${v.sandboxIp}/30 dev eth0`,
      'link set eth0 up',
      `route add default via ${v.hostIp}`,
    ].join('\n') + '\n');
    this.tableMade = true;
    await must('the host\'s nftables table', 'nft', ['-f', '-'], hostTable({
      table: this.tableName, hostIf: v.hostIf, sandboxIp: v.sandboxIp, ports: this.plan.publish,
    }));
    enableForwarding(this.plan.log);
  }

  private get tableName(): string {
    return `${TABLE_PREFIX}${this.plan.id}`;
  }

  /** Removes all this made: forwarders, the veth pair (with its routes), the host table. Never throws. */
  async teardown(): Promise<string[]> {
    const problems: string[] = [];
    for (const f of this.forwarders) f.close();
    this.forwarders = [];
    if (this.veth) {
      // Gone already when the sandbox's namespace died with its peer in it.
      const r = await run('ip', ['link', 'del', this.veth.hostIf]);
      if (r.code !== 0 && !/cannot find|does not exist/i.test(r.stderr)) problems.push(`ip link del ${this.veth.hostIf}: ${r.stderr}`);
      this.veth = null;
    }
    if (this.tableMade) {
      const r = await run('nft', ['delete', 'table', 'ip', this.tableName]);
      if (r.code !== 0 && !/no such file/i.test(r.stderr)) problems.push(`nft delete table ip ${this.tableName}: ${r.stderr}`);
      this.tableMade = false;
    }
    return problems;
  }
}

const IP_FORWARD = '/proc/sys/net/ipv4/ip_forward';

/**
 * Masquerade needs the host to forward IPv4: a machine-wide setting. Turned
 * on only for --network sandbox, said in one line, and left on (as Docker
 * leaves it): turning it off again at the end would race with other
 * sandboxes, and with anything else on the host that needs it.
 */
function enableForwarding(log: Log): void {
  if (fs.readFileSync(IP_FORWARD, 'latin1').trim() === '1') return;
  fs.writeFileSync(IP_FORWARD, '1');
  log.warn('--network sandbox: enabled IPv4 forwarding on this host (net.ipv4.ip_forward=1, machine-wide; left on)');
}

/** State folders are /tmp/tsvisor-<id>: a table whose folder is gone belongs to a tsvisor that was killed. */
async function removeStaleTables(log: Log): Promise<void> {
  const r = await run('nft', ['list', 'tables', 'ip']);
  if (r.code !== 0) throw new NetworkSetupError(`nft: ${r.stderr} (--network sandbox needs nftables)`);
  for (const m of r.stdout.matchAll(/^table ip (tsvisor-([A-Za-z0-9]+))$/gm)) {
    if (fs.existsSync(`/tmp/${m[1]}`)) continue;
    const d = await run('nft', ['delete', 'table', 'ip', m[1]!]);
    if (d.code === 0) log.info({ table: m[1] }, 'removed a stale nftables table');
  }
}
