// The network subsystem's parsers, property-tested: the egress rules
// (CIDR[:PORTS]) against a BigInt model of prefixes, and the sockaddr parser
// against what Linux reads from the same bytes. Neither may throw on any input.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { NetPolicy, parseNetRule, ruleMatches } from '../sentry/net/policy.js';
import { parseSockaddr, unixPathOf, unixSockaddr } from '../sentry/net/sockaddr.js';

const EINVAL = 22;

function toBig(bytes: Uint8Array): bigint {
  let v = 0n;
  for (const b of bytes) v = (v << 8n) | BigInt(b);
  return v;
}

function v6Text(bytes: Uint8Array): string {
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i]! << 8) | bytes[i + 1]!).toString(16));
  return groups.join(':');
}

/** A model: does addr lie in net/prefix? */
function inPrefix(addr: Uint8Array, net: Uint8Array, prefix: number): boolean {
  const bits = BigInt(addr.length * 8);
  const shift = bits - BigInt(prefix);
  return toBig(addr) >> shift === toBig(net) >> shift;
}

const v4 = fc.uint8Array({ minLength: 4, maxLength: 4 });
const v6 = fc.uint8Array({ minLength: 16, maxLength: 16 });
const port = fc.integer({ min: 0, max: 65535 });

describe('egress rules: CIDR[:PORTS]', () => {
  it('parses IPv4 rules and matches exactly the addresses of the prefix', () => {
    fc.assert(fc.property(v4, fc.integer({ min: 0, max: 32 }), v4, port, (net, prefix, addr, p) => {
      const rule = parseNetRule(`${[...net].join('.')}/${prefix}`);
      if (typeof rule === 'string') throw new Error(rule);
      expect(ruleMatches(rule, { v6: false, addr, port: p })).toBe(inPrefix(addr, net, prefix));
      expect(ruleMatches(rule, { v6: false, addr: net, port: p })).toBe(true);
      expect(ruleMatches(rule, { v6: true, addr: new Uint8Array(16), port: p })).toBe(false);
    }));
  });

  it('parses IPv6 rules, bracketed with ports or bare, and matches the prefix', () => {
    fc.assert(fc.property(v6, fc.integer({ min: 0, max: 128 }), v6, port, (net, prefix, addr, p) => {
      for (const text of [`${v6Text(net)}/${prefix}`, `[${v6Text(net)}]/${prefix}:${p}`, `[${v6Text(net)}/${prefix}]:${p}`]) {
        const rule = parseNetRule(text);
        if (typeof rule === 'string') throw new Error(`${text}: ${rule}`);
        expect(ruleMatches(rule, { v6: true, addr, port: p })).toBe(inPrefix(addr, net, prefix));
      }
    }));
  });

  it('ports: single, ranges, lists; a port outside them does not match', () => {
    fc.assert(fc.property(port, port, port, (a, b, probe) => {
      const [lo, hi] = a <= b ? [a, b] : [b, a];
      const rule = parseNetRule(`10.0.0.0/8:${lo}-${hi},7`);
      if (typeof rule === 'string') throw new Error(rule);
      const addr = Uint8Array.of(10, 1, 2, 3);
      expect(ruleMatches(rule, { v6: false, addr, port: probe })).toBe((probe >= lo && probe <= hi) || probe === 7);
    }));
    expect(parseNetRule('1.2.3.4:80-70')).toMatch(/backwards/);
    expect(parseNetRule('1.2.3.4:65536')).toMatch(/65535/);
    expect(parseNetRule('1.2.3.4/33')).toMatch(/prefix/);
    expect(parseNetRule('1.2.3')).toMatch(/not an IPv4/);
    expect(parseNetRule('::1::2')).toMatch(/not an IPv6/);
    expect(parseNetRule('[::1')).toMatch(/\]/);
  });

  it('never throws, whatever the text', () => {
    fc.assert(fc.property(fc.string({ maxLength: 60 }), (text) => {
      const r = parseNetRule(text);
      expect(typeof r === 'string' || typeof r === 'object').toBe(true);
    }));
    fc.assert(fc.property(fc.stringMatching(/^[0-9a-f:.[\]/,-]{0,40}$/), (text) => {
      parseNetRule(text);
    }));
  });

  it('deny wins over allow; allow rules make everything else refused', () => {
    const policy = NetPolicy.fromTexts(['10.0.0.0/8', '127.0.0.1:80'], ['10.9.0.0/16']);
    if (typeof policy === 'string') throw new Error(policy);
    const at = (a: number[], p: number) => ({ v6: false, addr: Uint8Array.from(a), port: p });
    expect(policy.refuses(at([10, 1, 1, 1], 22))).toBeNull();
    expect(policy.refuses(at([10, 9, 1, 1], 22))).toBe('--net-deny 10.9.0.0/16');
    expect(policy.refuses(at([127, 0, 0, 1], 80))).toBeNull();
    expect(policy.refuses(at([127, 0, 0, 1], 81))).toBe('no --net-allow rule');
    expect(NetPolicy.fromTexts([], ['300.1.1.1'])).toMatch(/--net-deny 300.1.1.1/);
  });
});

function sockaddrIn(addr: Uint8Array, p: number, family = 2): Uint8Array {
  const b = new Uint8Array(16);
  b[0] = family;
  b[2] = p >> 8;
  b[3] = p & 0xff;
  b.set(addr, 4);
  return b;
}

function sockaddrIn6(addr: Uint8Array, p: number): Uint8Array {
  const b = new Uint8Array(28);
  b[0] = 10;
  b[2] = p >> 8;
  b[3] = p & 0xff;
  b.set(addr, 8);
  return b;
}

describe('sockaddr parser', () => {
  it('IPv4: the address and port the kernel uses, 0.0.0.0 as loopback; short is EINVAL', () => {
    fc.assert(fc.property(v4, port, fc.integer({ min: 0, max: 128 }), (addr, p, len) => {
      const buf = new Uint8Array(128);
      buf.set(sockaddrIn(addr, p));
      const r = parseSockaddr(buf, len);
      if (len < 2) expect(r.kind).toBe('short');
      else if (len < 16) expect(r).toEqual({ kind: 'invalid', errno: EINVAL });
      else {
        const any = addr.every((b) => b === 0);
        expect(r).toEqual({ kind: 'ip', ip: { v6: false, addr: any ? Uint8Array.of(127, 0, 0, 1) : addr, port: p } });
      }
    }));
  });

  it('IPv6: v4-mapped addresses read as IPv4, :: as ::1; fewer than 24 bytes is EINVAL', () => {
    fc.assert(fc.property(v6, fc.boolean(), port, (addr, mapped, p) => {
      if (mapped) {
        addr.fill(0, 0, 10);
        addr[10] = 0xff;
        addr[11] = 0xff;
      }
      const r = parseSockaddr(sockaddrIn6(addr, p), 28);
      if (r.kind !== 'ip') throw new Error(r.kind);
      if (mapped) {
        const inner = addr.slice(12);
        expect(r.ip).toEqual({ v6: false, addr: inner.every((b) => b === 0) ? Uint8Array.of(127, 0, 0, 1) : inner, port: p });
      } else {
        expect(r.ip.v6).toBe(true);
        expect(r.ip.port).toBe(p);
      }
      expect(parseSockaddr(sockaddrIn6(addr, p), 23)).toEqual({ kind: 'invalid', errno: EINVAL });
    }));
    const any = parseSockaddr(sockaddrIn6(new Uint8Array(16), 5), 24);
    expect(any.kind === 'ip' && [...any.ip.addr]).toEqual([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
  });

  it('AF_UNIX: paths (with or without a NUL), abstract names, autobind; longer than sockaddr_un is EINVAL', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 1, maxLength: 107 }), (bytes) => {
      const path = Buffer.from(bytes.map((b) => (b === 0 ? 0x61 : b))).toString('latin1');
      const addr = unixSockaddr(path);
      expect(parseSockaddr(addr, addr.length)).toEqual({ kind: 'unix-path', path });
      expect(parseSockaddr(addr, addr.length - 1)).toEqual({ kind: 'unix-path', path }); // no NUL
      expect(unixPathOf(addr, addr.length)).toBe(path);
    }));
    expect(parseSockaddr(Uint8Array.of(1, 0), 2)).toEqual({ kind: 'unix-unnamed' });
    expect(parseSockaddr(Uint8Array.of(1, 0, 0, 0x61), 4)).toEqual({ kind: 'unix-abstract' });
    expect(parseSockaddr(new Uint8Array(128).fill(0x61, 2).fill(1, 0, 1), 111)).toEqual({ kind: 'invalid', errno: EINVAL });
  });

  it('never throws; lengths outside 0..128 are EINVAL', () => {
    fc.assert(fc.property(fc.uint8Array({ minLength: 128, maxLength: 128 }), fc.integer({ min: -5, max: 200 }), (buf, len) => {
      const r = parseSockaddr(buf, len);
      if (len < 0 || len > 128) expect(r).toEqual({ kind: 'invalid', errno: EINVAL });
    }));
  });
});
