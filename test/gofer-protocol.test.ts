// The gofer protocol's codec: every request and response round-trips, and no
// input (random, truncated, mutated, or breaking the path rules) makes a
// decoder throw: it answers with a decode error instead. The gofer's own
// decoder is C (native/gofer/wire.c): the same inputs go to a real gofer,
// which must refuse exactly what protocol.ts refuses, with the same errno and
// the request's id, and answer everything else with a well-formed reply.
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import nodePath from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GOFER_PATH, native } from '../native/index.js';
import { E } from '../sentry/abi/linux.js';
import {
  MAX_MESSAGE_BYTES, MAX_PATH_BYTES, OPS, WireBuffer, decodeRequest, decodeResponse, encodeErrorResponse, encodeRequest,
  encodeResponse, opCode, opName, requestFdCount, responseFdCount, responseHasResult, validateComponent, validatePath,
  validateSymlinkTarget,
  type FieldKind, type FieldSpec, type GoferRequest, type KindValues, type OpName, type OpSchema, type RequestArgs,
  type ResponseResult,
} from '../gofer/protocol.js';

const OP_NAMES = Object.keys(OPS) as OpName[];

const byteChar = (min: number) => fc.integer({ min, max: 0xff }).map((c) => String.fromCharCode(c));
/** A valid component: 1..255 bytes, no '/' or NUL, not '.' or '..'. */
const component = fc
  .string({ unit: byteChar(1).filter((c) => c !== '/'), minLength: 1, maxLength: 40 })
  .filter((s) => s !== '.' && s !== '..');
const longComponent = fc.string({ unit: byteChar(1).filter((c) => c !== '/'), minLength: 200, maxLength: 255 })
  .filter((s) => s !== '.' && s !== '..');
const path = fc.oneof(
  fc.array(component, { maxLength: 12 }),
  // Near the limits: 16 components of up to 255 bytes is at most 4095 joined.
  fc.array(longComponent, { minLength: 1, maxLength: 16 }),
);
const target = fc.oneof(
  fc.string({ unit: byteChar(1), minLength: 1, maxLength: 100 }),
  fc.string({ unit: byteChar(1), minLength: 3000, maxLength: 4095 }),
);
const dirent = fc.record({
  name: fc.oneof(component, fc.constantFrom('.', '..')),
  type: fc.integer({ min: 0, max: 255 }),
  ino: fc.bigInt({ min: 0n, max: (1n << 64n) - 1n }),
  off: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
});

const KIND_ARBITRARIES: { [K in FieldKind]: fc.Arbitrary<KindValues[K]> } = {
  u32: fc.integer({ min: 0, max: 0xffffffff }),
  i32: fc.integer({ min: -0x80000000, max: 0x7fffffff }),
  u64: fc.maxSafeNat(),
  i64: fc.maxSafeInteger(),
  i64big: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }),
  bool: fc.boolean(),
  path,
  target,
  optTarget: fc.option(target, { nil: undefined }),
  statx: fc.uint8Array({ minLength: 256, maxLength: 256 }),
  statfs: fc.uint8Array({ minLength: 120, maxLength: 120 }),
  xname: fc.uint8Array({ minLength: 1, maxLength: 255 })
    .filter((b) => !b.includes(0))
    .map((b) => Buffer.from(b).toString('latin1')),
  bytes: fc.uint8Array({ maxLength: 300 }),
  timespec: fc.record({ sec: fc.bigInt({ min: -(1n << 63n), max: (1n << 63n) - 1n }), nsec: fc.integer({ min: 0, max: 0xffffffff }) }),
  dirents: fc.array(dirent, { maxLength: 30 }),
  ids: fc.array(fc.integer({ min: 0, max: 0xffffffff }), { maxLength: 100 }),
};

function fieldsArbitrary(fields: readonly FieldSpec[]): fc.Arbitrary<Record<string, unknown>> {
  const shape: Record<string, fc.Arbitrary<unknown>> = {};
  for (const [name, kind] of fields) shape[name] = KIND_ARBITRARIES[kind];
  return fc.record(shape);
}

const schemaOf = (op: OpName): OpSchema => OPS[op];

/** Any valid request: an op and arguments that fit its schema. */
const anyRequest: fc.Arbitrary<GoferRequest> = fc.constantFrom(...OP_NAMES).chain((op) =>
  fieldsArbitrary(schemaOf(op).request).map((args) => ({ op, args }) as unknown as GoferRequest),
);

interface AnyResponse {
  op: OpName;
  errno: number;
  result: Record<string, unknown> | undefined;
}
const anyResponse: fc.Arbitrary<AnyResponse> = fc
  .tuple(fc.constantFrom(...OP_NAMES), fc.oneof(fc.constant(0), fc.integer({ min: 1, max: 4095 })))
  .chain(([op, errno]) =>
    (responseHasResult(op, errno) ? fieldsArbitrary(schemaOf(op).response).map((r) => r as Record<string, unknown> | undefined)
      : fc.constant(undefined)).map((result) => ({ op, errno, result })),
  );

function encodeAny(out: WireBuffer, id: number, request: GoferRequest): number {
  return encodeRequest(out, id, request.op, request.args as RequestArgs<typeof request.op>);
}

function encodeAnyResponse(out: WireBuffer, id: number, response: AnyResponse): number {
  return encodeResponse(out, id, response.op, response.errno, response.result as ResponseResult<OpName> | undefined);
}

/** A copy of bytes into a fresh WireBuffer, as a receiver would have them. */
function received(bytes: Uint8Array): WireBuffer {
  const buffer = new WireBuffer(Math.max(bytes.length, 1));
  buffer.bytes.set(bytes);
  return buffer;
}

/** A valid header (this protocol version, op's code, request id 42) followed by tail. */
function behindHeader(op: OpName, tail: Uint8Array): Uint8Array {
  const bytes = new Uint8Array(8 + tail.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, (1 << 16) | opCode(op), true);
  view.setUint32(4, 42, true);
  bytes.set(tail, 8);
  return bytes;
}

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return Buffer.compare(a, b) === 0;
}

describe('gofer protocol schema', () => {
  it('gives every op a distinct opcode', () => {
    const codes = OP_NAMES.map(opCode);
    expect(new Set(codes).size).toBe(codes.length);
    for (const op of OP_NAMES) expect(opName(opCode(op))).toBe(op);
    expect(opName(0)).toBeUndefined();
  });
});

describe('gofer protocol round trips', () => {
  it('requests decode to what was encoded', () => {
    const out = new WireBuffer();
    fc.assert(
      fc.property(anyRequest, fc.integer({ min: 0, max: 0xffffffff }), (request, id) => {
        const length = encodeAny(out, id, request);
        expect(length).toBeGreaterThan(0);
        const decoded = decodeRequest(received(out.bytes.subarray(0, length)), length);
        expect(decoded).toEqual({ ok: true, id, request });
      }),
      { numRuns: 2000 },
    );
  });

  it('responses decode to what was encoded', () => {
    const out = new WireBuffer();
    fc.assert(
      fc.property(anyResponse, fc.integer({ min: 0, max: 0xffffffff }), (response, id) => {
        const length = encodeAnyResponse(out, id, response);
        expect(length).toBeGreaterThan(0);
        const decoded = decodeResponse(received(out.bytes.subarray(0, length)), length, response.op);
        expect(decoded).toEqual({ ok: true, id, errno: response.errno, result: response.result });
      }),
      { numRuns: 2000 },
    );
  });

  it('an error response for walk carries zeroed results; other ops carry none', () => {
    const out = new WireBuffer();
    const length = encodeResponse(out, 7, 'walk', E.ENOENT);
    const walk = decodeResponse(out, length, 'walk');
    expect(walk).toEqual({
      ok: true, id: 7, errno: E.ENOENT, result: { found: 0, statx: new Uint8Array(256), symlinkTarget: undefined },
    });
    const openLength = encodeResponse(out, 8, 'open', E.ELOOP);
    expect(decodeResponse(out, openLength, 'open')).toEqual({ ok: true, id: 8, errno: E.ELOOP, result: undefined });
  });

  it('an error reply to an unknown opcode is header and errno only', () => {
    const out = new WireBuffer();
    expect(encodeErrorResponse(out, 9, 999, E.EINVAL)).toBe(12);
    expect(out.view.getUint32(0, true) & 0xffff).toBe(999);
    expect(out.view.getUint32(4, true)).toBe(9);
    expect(out.view.getInt32(8, true)).toBe(E.EINVAL);
  });

  it('refuses to encode what is not a byte string or a right-typed value', () => {
    const out = new WireBuffer();
    expect(encodeRequest(out, 1, 'walk', { path: ['caf\u20ac'] })).toBe(-E.EINVAL);
    expect(encodeRequest(out, 1, 'mkdir', { path: ['a'], mode: -1 })).toBe(-E.EINVAL);
    expect(encodeRequest(out, 1, 'mkdir', { path: ['a'], mode: 1.5 })).toBe(-E.EINVAL);
    expect(encodeRequest(out, 1, 'truncate', { path: ['a'], length: 2 ** 60 })).toBe(-E.EINVAL);
    // Meaning is the decoder's to check: an empty target encodes, and the receiver refuses it.
    const emptyTarget = encodeResponse(out, 1, 'readlink', 0, { target: '' });
    expect(decodeResponse(out, emptyTarget, 'readlink')).toMatchObject({ ok: false, errno: E.ENOENT });
    expect(encodeResponse(out, 1, 'walk', 0, { found: 1, statx: new Uint8Array(256), symlinkTarget: '' })).toBe(-E.EINVAL);
    expect(encodeResponse(out, 1, 'open', 0)).toBe(-E.EINVAL);
    // A message beyond the buffer is ENAMETOOLONG, not a crash.
    const small = new WireBuffer(64);
    expect(encodeRequest(small, 1, 'walk', { path: ['x'.repeat(100)] })).toBe(-E.ENAMETOOLONG);
  });
});

describe('gofer protocol decoding of bad input', () => {
  /** The decoders' contract: never throw; anything they accept re-encodes to the very same bytes. */
  function checkRequestBytes(bytes: Uint8Array): void {
    const input = received(bytes);
    const decoded = decodeRequest(input, bytes.length);
    if (!decoded.ok) {
      expect(decoded.errno).toBeGreaterThan(0);
      return;
    }
    const out = new WireBuffer();
    const length = encodeAny(out, decoded.id, decoded.request);
    expect(sameBytes(out.bytes.subarray(0, length), bytes)).toBe(true);
  }

  function checkResponseBytes(bytes: Uint8Array, op: OpName): void {
    const decoded = decodeResponse(received(bytes), bytes.length, op);
    if (!decoded.ok) {
      expect(decoded.errno).toBeGreaterThan(0);
      return;
    }
    const out = new WireBuffer();
    const length = encodeResponse(out, decoded.id, op, decoded.errno, decoded.result as ResponseResult<OpName> | undefined);
    expect(sameBytes(out.bytes.subarray(0, length), bytes)).toBe(true);
  }

  it('random bytes are a decode error, never a throw', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), fc.constantFrom(...OP_NAMES), (bytes, op) => {
        checkRequestBytes(bytes);
        checkResponseBytes(bytes, op);
      }),
      { numRuns: 5000 },
    );
  });

  it('random bytes behind a valid header are a decode error, never a throw', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OP_NAMES), fc.uint8Array({ maxLength: 600 }), (op, tail) => {
        const bytes = behindHeader(op, tail);
        checkRequestBytes(bytes);
        checkResponseBytes(bytes, op);
      }),
      { numRuns: 5000 },
    );
  });

  it('every strict prefix of a valid message is a decode error', () => {
    const out = new WireBuffer();
    fc.assert(
      fc.property(anyRequest, anyResponse, fc.nat(), (request, response, cut) => {
        const length = encodeAny(out, 5, request);
        const bytes = out.bytes.slice(0, cut % length);
        expect(decodeRequest(received(bytes), bytes.length).ok).toBe(false);
        const responseLength = encodeAnyResponse(out, 5, response);
        const responseBytes = out.bytes.slice(0, cut % responseLength);
        expect(decodeResponse(received(responseBytes), responseBytes.length, response.op).ok).toBe(false);
      }),
      { numRuns: 2000 },
    );
  });

  it('mutated valid messages never make a decoder throw', () => {
    const out = new WireBuffer();
    fc.assert(
      fc.property(
        anyRequest, anyResponse,
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (request, response, mutations) => {
          const bytes = out.bytes.slice(0, encodeAny(out, 3, request));
          for (const [at, value] of mutations) bytes[at % bytes.length] = value;
          checkRequestBytes(bytes);
          const responseBytes = out.bytes.slice(0, encodeAnyResponse(out, 3, response));
          for (const [at, value] of mutations) responseBytes[at % responseBytes.length] = value;
          checkResponseBytes(responseBytes, response.op);
        },
      ),
      { numRuns: 3000 },
    );
  });

  it('huge counts and lengths are refused before anything is allocated', () => {
    const bytes = new Uint8Array(32);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, (1 << 16) | opCode('walk'), true);
    view.setUint32(4, 1, true);
    view.setUint32(8, 0xffffffff, true); // component count
    expect(decodeRequest(received(bytes), bytes.length)).toMatchObject({ ok: false, errno: E.ENAMETOOLONG, id: 1 });
    view.setUint32(8, 2000, true); // in range, but far more than the message holds
    expect(decodeRequest(received(bytes), bytes.length)).toMatchObject({ ok: false, errno: E.EINVAL, id: 1 });
    view.setUint32(8, 1, true);
    view.setUint32(12, 0xfffffff0, true); // a component's length
    expect(decodeRequest(received(bytes), bytes.length)).toMatchObject({ ok: false, errno: E.ENAMETOOLONG });
    view.setUint32(12, 100, true); // a valid length, but beyond the message
    expect(decodeRequest(received(bytes), bytes.length)).toMatchObject({ ok: false, errno: E.EINVAL });
  });

  it('a wrong version, an unknown opcode and trailing bytes are errors that still name the request', () => {
    const out = new WireBuffer();
    const length = encodeRequest(out, 77, 'readlink', { path: ['a'] });
    const versioned = out.bytes.slice(0, length);
    versioned[2] = 9;
    expect(decodeRequest(received(versioned), length)).toMatchObject({ ok: false, errno: E.EINVAL, id: 77 });
    const unknown = out.bytes.slice(0, length);
    unknown[0] = 200;
    expect(decodeRequest(received(unknown), length)).toMatchObject({ ok: false, errno: E.EINVAL, id: 77, opcode: 200 });
    const trailing = new Uint8Array(length + 1);
    trailing.set(out.bytes.subarray(0, length));
    expect(decodeRequest(received(trailing), length + 1)).toMatchObject({ ok: false, errno: E.EINVAL, id: 77 });
  });
});

describe('gofer path rules', () => {
  const badComponents: Array<[string, number]> = [
    ['', E.EINVAL],
    ['.', E.EINVAL],
    ['..', E.EINVAL],
    ['a/b', E.EINVAL],
    ['/', E.EINVAL],
    ['a\0b', E.EINVAL],
    ['x'.repeat(256), E.ENAMETOOLONG],
  ];

  it('validateComponent refuses each bad kind of name', () => {
    for (const [name, errno] of badComponents) expect(validateComponent(name)).toBe(-errno);
    expect(validateComponent('x'.repeat(255))).toBe(0);
    expect(validateComponent('...')).toBe(0);
    expect(validateComponent('\xff\x01')).toBe(0);
  });

  it('a request whose path holds a bad component is refused, wherever it sits', () => {
    const out = new WireBuffer();
    fc.assert(
      fc.property(
        fc.array(component, { maxLength: 6 }), fc.nat(), fc.constantFrom(...badComponents),
        fc.constantFrom<OpName>('walk', 'open', 'mkdir', 'unlink', 'readlink', 'rename'),
        (good, at, [bad, errno], op) => {
          const components = good.slice();
          components.splice(at % (good.length + 1), 0, bad);
          expect(validatePath(components)).toBe(-errno);
          const args: Record<string, unknown> = {};
          for (const [name, kind] of schemaOf(op).request) {
            args[name] = kind === 'path' ? components : kind === 'u32' ? 0 : undefined;
          }
          const length = encodeRequest(out, 1, op, args as RequestArgs<OpName>);
          expect(length).toBeGreaterThan(0);
          expect(decodeRequest(received(out.bytes.subarray(0, length)), length)).toMatchObject({ ok: false, errno, id: 1 });
        },
      ),
      { numRuns: 500 },
    );
  });

  it('a path longer than PATH_MAX joined is ENAMETOOLONG', () => {
    const out = new WireBuffer();
    // 16 components of 255 bytes and 15 separators: 4095 bytes, the most that fits.
    const justFits = new Array<string>(16).fill('a'.repeat(255));
    expect(justFits.join('/').length).toBe(MAX_PATH_BYTES);
    expect(validatePath(justFits)).toBe(0);
    const tooLong = [...justFits, 'b'];
    expect(validatePath(tooLong)).toBe(-E.ENAMETOOLONG);
    const manyShort = new Array<string>(2049).fill('z');
    expect(validatePath(manyShort)).toBe(-E.ENAMETOOLONG);
    const tooLongLength = encodeRequest(out, 2, 'walk', { path: tooLong });
    expect(decodeRequest(received(out.bytes.subarray(0, tooLongLength)), tooLongLength))
      .toMatchObject({ ok: false, errno: E.ENAMETOOLONG });
    // More components than any valid path has: the encoder will not even build it.
    expect(encodeRequest(out, 2, 'walk', { path: manyShort })).toBe(-E.ENAMETOOLONG);
    const length = encodeRequest(out, 2, 'walk', { path: justFits });
    expect(decodeRequest(received(out.bytes.subarray(0, length)), length).ok).toBe(true);
  });

  it('symlink targets: non-empty, no NUL, at most 4095 bytes', () => {
    expect(validateSymlinkTarget('')).toBe(-E.ENOENT);
    expect(validateSymlinkTarget('a\0')).toBe(-E.EINVAL);
    expect(validateSymlinkTarget('t'.repeat(4096))).toBe(-E.ENAMETOOLONG);
    expect(validateSymlinkTarget('/etc/../x/'.repeat(100))).toBe(0);
    const out = new WireBuffer();
    for (const [bad, errno] of [['', E.ENOENT], ['x\0y', E.EINVAL], ['t'.repeat(4096), E.ENAMETOOLONG]] as const) {
      const length = encodeRequest(out, 3, 'symlink', { target: bad, path: ['l'] });
      expect(decodeRequest(received(out.bytes.subarray(0, length)), length)).toMatchObject({ ok: false, errno });
    }
  });
});

// ---------------------------------------------------------------------------
// The C gofer's decoder, against protocol.ts's.

describe("the gofer's decoder (native/gofer/wire.c) against protocol.ts", () => {
  let tree = '';
  let child: ChildProcess;
  let sockFd = -1;
  let exited: Promise<number | null>;
  const reply = new Uint8Array(MAX_MESSAGE_BYTES);
  const fdsIn = new Int32Array(5);
  const noFds = new Int32Array(0);
  const expected = new WireBuffer();

  beforeAll(() => {
    // A read-only gofer over a small scratch tree: a request that decodes is
    // carried out, and none of them can change anything.
    tree = fs.mkdtempSync(nodePath.join(os.tmpdir(), 'tsvisor-gofer-fuzz-'));
    fs.mkdirSync(nodePath.join(tree, 'a'));
    fs.writeFileSync(nodePath.join(tree, 'a', 'f'), 'x');
    fs.symlinkSync('a/f', nodePath.join(tree, 'l'));
    const pair = native.socketpair(true);
    if (typeof pair === 'number') throw new Error(`socketpair: errno ${-pair}`);
    sockFd = pair[0]!;
    child = spawn(GOFER_PATH, ['--root', tree, '--sock-fd', '3', '--read-only'], { stdio: ['ignore', 'inherit', 'inherit', pair[1]!] });
    native.close(pair[1]!);
    exited = new Promise((resolve) => child.on('exit', (code) => resolve(code)));
  });

  afterAll(async () => {
    if (sockFd >= 0) native.close(sockFd);
    expect(await exited).toBe(0);
    fs.rmSync(tree, { recursive: true, force: true });
  });

  /**
   * Sends bytes to the gofer and checks its answer against decodeRequest: a
   * refusal must be encodeErrorResponse's very bytes (errno, id and opcode as
   * protocol.ts decides them); an accepted request gets a reply that decodes
   * for its op, with the request's id and the fd count the schema says.
   */
  function checkGoferAnswer(bytes: Uint8Array): void {
    // An empty message is end of file to the gofer: it would exit.
    if (bytes.length === 0) return;
    expect(native.sendMsg(sockFd, bytes, bytes.length, noFds, 0)).toBe(bytes.length);
    const n = native.recvMsg(sockFd, reply, fdsIn, 10_000);
    expect(n, 'the gofer answered').toBeGreaterThanOrEqual(12);
    const fdCount = fdsIn[0]!;
    for (let i = 0; i < fdCount; i++) native.close(fdsIn[1 + i]!);
    const got = reply.subarray(0, n);
    const decoded = decodeRequest(received(bytes), bytes.length);
    if (!decoded.ok) {
      const length = encodeErrorResponse(expected, decoded.id ?? 0, decoded.opcode ?? 0, decoded.errno);
      expect(Buffer.from(got).toString('hex'), decoded.reason).toBe(Buffer.from(expected.bytes.subarray(0, length)).toString('hex'));
      expect(fdCount).toBe(0);
      return;
    }
    const op = decoded.request.op;
    const answer = decodeResponse(received(got), n, op);
    if (!answer.ok) throw new Error(`undecodable reply to ${op}: ${answer.reason}`);
    expect(answer.id).toBe(decoded.id);
    expect(fdCount).toBe(responseFdCount(op, answer.errno));
    // The socket ops come with an fd; without one the request is refused.
    if (requestFdCount(op) !== 0) expect(answer.errno).toBe(E.EINVAL);
  }

  it('random bytes', () => {
    fc.assert(fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => checkGoferAnswer(bytes)), { numRuns: 3000 });
  });

  it('random bytes behind a valid header', () => {
    fc.assert(
      fc.property(fc.constantFrom(...OP_NAMES), fc.uint8Array({ maxLength: 600 }), (op, tail) => {
        checkGoferAnswer(behindHeader(op, tail));
      }),
      { numRuns: 3000 },
    );
  });

  it('valid requests, their strict prefixes, and mutations of them', () => {
    const out = new WireBuffer();
    fc.assert(
      fc.property(
        anyRequest, fc.nat(), fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 8 }),
        (request, cut, mutations) => {
          const length = encodeAny(out, 9, request);
          const bytes = out.bytes.slice(0, length);
          checkGoferAnswer(bytes);
          checkGoferAnswer(bytes.slice(0, cut % length));
          for (const [at, value] of mutations) bytes[at % bytes.length] = value;
          checkGoferAnswer(bytes);
        },
      ),
      { numRuns: 2000 },
    );
  });

  it('paths with a bad component anywhere, and paths at and beyond PATH_MAX', () => {
    const out = new WireBuffer();
    const bad = ['', '.', '..', 'a/b', '/', 'a\0b', 'x'.repeat(256)];
    fc.assert(
      fc.property(
        fc.array(component, { maxLength: 6 }), fc.nat(), fc.constantFrom(...bad),
        fc.constantFrom<OpName>('walk', 'open', 'mkdir', 'unlink', 'readlink', 'rename', 'link', 'getxattr'),
        (good, at, badName, op) => {
          const components = good.slice();
          components.splice(at % (good.length + 1), 0, badName);
          const args: Record<string, unknown> = {};
          for (const [name, kind] of schemaOf(op).request) {
            args[name] = kind === 'path' ? components : kind === 'u32' ? 0 : kind === 'xname' ? 'user.x' : undefined;
          }
          const length = encodeRequest(out, 1, op, args as RequestArgs<OpName>);
          expect(length).toBeGreaterThan(0);
          checkGoferAnswer(out.bytes.slice(0, length));
        },
      ),
      { numRuns: 500 },
    );
    const justFits = new Array<string>(16).fill('a'.repeat(255));
    for (const path of [justFits, [...justFits, 'b'], new Array<string>(2048).fill('z'), new Array<string>(2049).fill('z')]) {
      // Encoded by hand: the encoder refuses more components than a path may have.
      const parts: Buffer[] = [Buffer.alloc(12)];
      parts[0]!.writeUInt32LE((1 << 16) | opCode('walk'), 0);
      parts[0]!.writeUInt32LE(5, 4);
      parts[0]!.writeUInt32LE(path.length, 8);
      for (const name of path) {
        const length = Buffer.alloc(4);
        length.writeUInt32LE(name.length, 0);
        parts.push(length, Buffer.from(name, 'latin1'));
      }
      checkGoferAnswer(new Uint8Array(Buffer.concat(parts)));
    }
  });

  it('huge counts and lengths, symlink targets and xattr names at their limits', () => {
    const bytes = new Uint8Array(32);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, (1 << 16) | opCode('walk'), true);
    view.setUint32(4, 1, true);
    for (const count of [0xffffffff, 2000, 1]) {
      view.setUint32(8, count, true);
      for (const length of [0xfffffff0, 100, 3]) {
        view.setUint32(12, length, true);
        checkGoferAnswer(bytes);
      }
    }
    const out = new WireBuffer();
    for (const target of ['', 'x\0y', 't'.repeat(4095), 't'.repeat(4096)]) {
      checkGoferAnswer(out.bytes.slice(0, encodeRequest(out, 3, 'symlink', { target, path: ['l'] })));
    }
    for (const name of ['', 'user.a\0b', 'u'.repeat(255), 'u'.repeat(256)]) {
      checkGoferAnswer(out.bytes.slice(0, encodeRequest(out, 4, 'getxattr', { path: ['a'], name })));
    }
    const big = new Uint8Array(70_000);
    checkGoferAnswer(out.bytes.slice(0, encodeRequest(out, 6, 'setxattr', { path: ['a'], name: 'user.v', value: big.subarray(0, 65536), flags: 0 })));
    const tooBig = out.bytes.slice(0, encodeRequest(out, 7, 'setxattr', { path: ['a'], name: 'user.v', value: new Uint8Array(1), flags: 0 }));
    // A value length beyond 64 KiB (E2BIG), hand-made: the encoder will not write one.
    const tooBigView = new DataView(tooBig.buffer);
    tooBigView.setUint32(tooBig.length - 9, 65537, true);
    checkGoferAnswer(tooBig);
  });
});
