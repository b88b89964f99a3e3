// The egress policy (tsvisor do --net-allow / --net-deny CIDR[:PORTS]): the
// sentry's wall, checked at connect and at every send that names a
// destination. A destination is refused when a deny rule matches it, or when
// allow rules exist and none matches; with no rules everything is allowed.
//
// Rule syntax:  CIDR[:PORTS]
//   CIDR   1.2.3.0/24, 1.2.3.4 (/32), an IPv6 address with an optional /len;
//          an IPv6 CIDR followed by ports goes in brackets: [::1]/128:80 or [::1/128]:80
//   PORTS  80 | 8000-8100 | a comma list of those
import type { IpEndpoint } from './sockaddr.js';

export interface NetRule {
  readonly v6: boolean;
  /** 4 or 16 bytes, host bits cleared. */
  readonly addr: Uint8Array;
  readonly prefix: number;
  /** Inclusive port ranges; null: every port. */
  readonly ports: readonly (readonly [number, number])[] | null;
  /** The rule as written, for log lines. */
  readonly text: string;
}

function parseIPv4(text: string): Uint8Array | null {
  const parts = text.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i]!;
    if (!/^[0-9]{1,3}$/.test(p)) return null;
    const v = Number(p);
    if (v > 255) return null;
    out[i] = v;
  }
  return out;
}

function parseIPv6(text: string): Uint8Array | null {
  if (text.length === 0 || text.length > 45) return null;
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groupsOf = (part: string): number[] | null => {
    if (part === '') return [];
    const words: number[] = [];
    const pieces = part.split(':');
    for (let i = 0; i < pieces.length; i++) {
      const piece = pieces[i]!;
      if (i === pieces.length - 1 && piece.includes('.')) {
        const v4 = parseIPv4(piece);
        if (!v4) return null;
        words.push((v4[0]! << 8) | v4[1]!, (v4[2]! << 8) | v4[3]!);
      } else {
        if (!/^[0-9a-fA-F]{1,4}$/.test(piece)) return null;
        words.push(Number.parseInt(piece, 16));
      }
    }
    return words;
  };
  const head = groupsOf(halves[0]!);
  const tail = halves.length === 2 ? groupsOf(halves[1]!) : [];
  if (!head || !tail) return null;
  // An IPv4 tail is only allowed at the very end of the address.
  if (halves.length === 2 && halves[0]!.includes('.')) return null;
  const total = head.length + tail.length;
  if (halves.length === 1 ? total !== 8 : total > 7) return null;
  const words = [...head, ...new Array<number>(8 - total).fill(0), ...tail];
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = words[i]! >> 8;
    out[2 * i + 1] = words[i]! & 0xff;
  }
  return out;
}

function parsePorts(text: string): [number, number][] | string {
  const ranges: [number, number][] = [];
  for (const item of text.split(',')) {
    const m = /^([0-9]{1,5})(?:-([0-9]{1,5}))?$/.exec(item);
    if (!m) return `'${item}' is not a port or a port range`;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (lo > 65535 || hi > 65535) return `port ${Math.max(lo, hi)} is beyond 65535`;
    if (lo > hi) return `port range ${item} runs backwards`;
    ranges.push([lo, hi]);
  }
  return ranges;
}

function maskTo(addr: Uint8Array, prefix: number): Uint8Array {
  const out = addr.slice();
  for (let i = 0; i < out.length; i++) {
    const bits = Math.max(0, Math.min(8, prefix - 8 * i));
    out[i] = out[i]! & ((0xff00 >> bits) & 0xff);
  }
  return out;
}

/** Parses CIDR[:PORTS]; a string is the reason it is not one. */
export function parseNetRule(text: string): NetRule | string {
  let cidr: string;
  let portsText: string | undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 0) return `'${text}': no closing ]`;
    const inside = text.slice(1, close);
    let rest = text.slice(close + 1);
    // [::1]/128:80 puts the length outside the brackets.
    const outsideLength = /^\/([0-9]{1,3})/.exec(rest);
    cidr = outsideLength ? `${inside}/${outsideLength[1]}` : inside;
    if (outsideLength) rest = rest.slice(outsideLength[0].length);
    if (rest !== '') {
      if (!rest.startsWith(':')) return `'${text}': expected :PORTS after the address`;
      portsText = rest.slice(1);
    }
  } else {
    const colons = text.split(':').length - 1;
    if (colons === 1) {
      [cidr, portsText] = text.split(':') as [string, string];
    } else {
      cidr = text; // no colon (IPv4), or an IPv6 address without ports
    }
  }
  const slash = cidr.indexOf('/');
  const addrText = slash < 0 ? cidr : cidr.slice(0, slash);
  const v6 = addrText.includes(':');
  const addr = v6 ? parseIPv6(addrText) : parseIPv4(addrText);
  if (!addr) return `'${addrText}' is not an IP${v6 ? 'v6' : 'v4'} address`;
  const maxPrefix = v6 ? 128 : 32;
  let prefix = maxPrefix;
  if (slash >= 0) {
    const lenText = cidr.slice(slash + 1);
    if (!/^[0-9]{1,3}$/.test(lenText) || Number(lenText) > maxPrefix) return `'/${lenText}' is not a prefix length (0..${maxPrefix})`;
    prefix = Number(lenText);
  }
  let ports: [number, number][] | null = null;
  if (portsText !== undefined) {
    const parsed = parsePorts(portsText);
    if (typeof parsed === 'string') return parsed;
    ports = parsed;
  }
  return { v6, addr: maskTo(addr, prefix), prefix, ports, text };
}

/** Whether rule covers the endpoint (same family, prefix and port). */
export function ruleMatches(rule: NetRule, ip: IpEndpoint): boolean {
  if (rule.v6 !== ip.v6) return false;
  const masked = maskTo(ip.addr, rule.prefix);
  for (let i = 0; i < masked.length; i++) if (masked[i] !== rule.addr[i]) return false;
  return rule.ports === null || rule.ports.some(([lo, hi]) => ip.port >= lo && ip.port <= hi);
}

export class NetPolicy {
  constructor(readonly allow: readonly NetRule[] = [], readonly deny: readonly NetRule[] = []) {}

  /** The rule that refuses the endpoint ("not allowed" when only the allow list is missed), or null. */
  refuses(ip: IpEndpoint): string | null {
    for (const rule of this.deny) if (ruleMatches(rule, ip)) return `--net-deny ${rule.text}`;
    if (this.allow.length > 0 && !this.allow.some((rule) => ruleMatches(rule, ip))) return 'no --net-allow rule';
    return null;
  }

  /** Rules from their texts (the CLI's), or the first reason one is not a rule. */
  static fromTexts(allow: readonly string[], deny: readonly string[]): NetPolicy | string {
    const parse = (texts: readonly string[], flag: string): NetRule[] | string => {
      const out: NetRule[] = [];
      for (const t of texts) {
        const r = parseNetRule(t);
        if (typeof r === 'string') return `${flag} ${t}: ${r}`;
        out.push(r);
      }
      return out;
    };
    const a = parse(allow, '--net-allow');
    if (typeof a === 'string') return a;
    const d = parse(deny, '--net-deny');
    if (typeof d === 'string') return d;
    return new NetPolicy(a, d);
  }
}
