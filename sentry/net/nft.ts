// nftables scripts tsvisor installs (fed to `nft -f -`), built from the same
// parsed rules the sentry checks: one source of truth for the egress policy.
//
//   egressRuleset  the second wall, in the sandbox's own network namespace:
//                  its output hook refuses what the sentry refuses, with the
//                  same errors (a refused TCP connect gets a reset, so
//                  ECONNREFUSED; any other refused packet is dropped, which
//                  the sending call sees as EPERM).
//   hostTable      --network sandbox, in the host's namespace: a table of the
//                  sandbox's own with its masquerade, its published ports and
//                  an anti-spoofing rule; deleted whole at the end.
import type { NetPolicy, NetRule } from './policy.js';

/** Protocols whose transport header has ports where `th dport` reads them (those the sentry offers). */
const PORTED = 'meta l4proto { tcp, udp, udplite }';

export function formatAddress(addr: Uint8Array): string {
  if (addr.length === 4) return addr.join('.');
  const words: string[] = [];
  for (let i = 0; i < 16; i += 2) words.push(((addr[i]! << 8) | addr[i + 1]!).toString(16));
  return words.join(':');
}

/** The nft match for one policy rule: its destination network, and its ports if it names any. */
export function ruleMatch(rule: NetRule): string {
  const family = rule.v6 ? 'ip6' : 'ip';
  const dest = `${family} daddr ${formatAddress(rule.addr)}/${rule.prefix}`;
  if (rule.ports === null) return dest;
  const ports = rule.ports.map(([lo, hi]) => (lo === hi ? `${lo}` : `${lo}-${hi}`)).join(', ');
  return `${dest} ${PORTED} th dport { ${ports} }`;
}

/** The table's name in the sandbox's namespace (it has no other). */
export const EGRESS_TABLE = 'tsvisor-egress';

/**
 * The egress policy as an `inet` table for the sandbox's namespace, or null
 * when there are no rules. Packets of connections already made (either way)
 * pass: the sentry, too, checks only where a destination is named, so the
 * replies of a server the sandbox runs are not egress.
 */
export function egressRuleset(policy: NetPolicy): string | null {
  if (policy.allow.length === 0 && policy.deny.length === 0) return null;
  const lines = [
    `table inet ${EGRESS_TABLE} {`,
    '  chain refuse {',
    '    meta l4proto tcp reject with tcp reset',
    '    drop',
    '  }',
    '  chain output {',
    '    type filter hook output priority filter; policy accept;',
    '    ct state established,related accept',
    // Deny wins over allow, as in NetPolicy.refuses.
    ...policy.deny.map((r) => `    ${ruleMatch(r)} goto refuse`),
    ...policy.allow.map((r) => `    ${ruleMatch(r)} accept`),
    ...(policy.allow.length > 0 ? ['    goto refuse'] : []),
    '  }',
    '}',
  ];
  return lines.join('\n') + '\n';
}

/** One published port (-p), as the host table needs it. */
export interface PortRule {
  readonly protocol: 'tcp' | 'udp';
  /** The host address it is published on; null: every address of the host. */
  readonly hostIp: string | null;
  readonly hostPort: number;
  readonly sandboxPort: number;
}

export interface HostTableConfig {
  readonly table: string;
  /** The host end of the veth pair. */
  readonly hostIf: string;
  /** The sandbox's address. */
  readonly sandboxIp: string;
  readonly ports: readonly PortRule[];
}

/**
 * The host's table for one sandbox. Traffic from the sandbox leaves with the
 * host's address (masquerade); a packet arriving from outside for a published
 * port is sent on to the sandbox with its source kept (DNAT in prerouting).
 * Connections made on the host itself never pass prerouting: the userspace
 * forwarder (sentry/net/publish.ts) serves those. Packets from the sandbox
 * with any source but its own are dropped: its root could set another address.
 */
export function hostTable(c: HostTableConfig): string {
  const dnat = c.ports
    .filter((p) => p.hostIp === null || !p.hostIp.startsWith('127.'))
    .map((p) => `    iifname != "${c.hostIf}" ${p.hostIp === null ? 'fib daddr type local' : `ip daddr ${p.hostIp}`} ${p.protocol} dport ${p.hostPort} dnat to ${c.sandboxIp}:${p.sandboxPort}`);
  const lines = [
    `table ip ${c.table} {`,
    '  chain postrouting {',
    '    type nat hook postrouting priority srcnat; policy accept;',
    `    ip saddr ${c.sandboxIp} oifname != "${c.hostIf}" masquerade`,
    '  }',
    '  chain prerouting {',
    '    type nat hook prerouting priority dstnat; policy accept;',
    ...dnat,
    '  }',
    '  chain forward {',
    '    type filter hook forward priority filter; policy accept;',
    `    iifname "${c.hostIf}" ip saddr != ${c.sandboxIp} drop`,
    '  }',
    '}',
  ];
  return lines.join('\n') + '\n';
}
