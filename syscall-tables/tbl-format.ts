// Reads the hand-curated x86_64.tbl and writes the TypeScript module generated from
// it. Pure functions (text in, text out), so the generator script and the test that
// checks the committed file is current share exactly one implementation.
import {
  ARG_KINDS,
  DISPOSITIONS,
  RET_KINDS,
  SYSCALL_FAMILIES,
  type ArgAllowRule,
  type ArgDenyRule,
  type ArgKind,
  type ArgSpec,
  type Disposition,
  type RetKind,
  type SyscallEntry,
  type SyscallFamily,
} from './types.js';

/** The errnos the table may name. Only values a policy would answer belong here. */
export const TBL_ERRNOS: Readonly<Record<string, number>> = {
  EPERM: 1,
  EACCES: 13,
  EINVAL: 22,
  ENOSYS: 38,
  EOPNOTSUPP: 95,
};

/** seccomp_data.args has six slots; the x32 bit starts the numbers no table may use. */
const MAX_ARGS = 6;
const X32_SYSCALL_BIT = 0x40000000;

export class TblError extends Error {
  constructor(
    readonly lineNumber: number,
    message: string,
  ) {
    super(`x86_64.tbl:${lineNumber}: ${message}`);
    this.name = 'TblError';
  }
}

function isOneOf<T extends string>(list: readonly T[], word: string): word is T {
  return (list as readonly string[]).includes(word);
}

function parseInteger(text: string, lineNumber: number, what: string): number {
  if (!/^-?(0x[0-9a-fA-F]+|[0-9]+)$/.test(text)) throw new TblError(lineNumber, `${what} '${text}' is not an integer`);
  const negative = text.startsWith('-');
  const magnitude = Number(negative ? text.slice(1) : text);
  return negative ? -magnitude : magnitude;
}

function parseErrno(name: string, lineNumber: number): number {
  const errno = TBL_ERRNOS[name];
  if (errno === undefined) {
    throw new TblError(lineNumber, `unknown errno '${name}' (known: ${Object.keys(TBL_ERRNOS).join(', ')})`);
  }
  return errno;
}

function parseArgs(tokens: readonly string[], lineNumber: number): ArgSpec[] {
  if (tokens.length === 0) throw new TblError(lineNumber, "missing argument list (write '-' for none)");
  if (tokens.length === 1 && tokens[0] === '-') return [];
  if (tokens.length > MAX_ARGS) throw new TblError(lineNumber, `${tokens.length} arguments; a syscall has at most ${MAX_ARGS}`);
  const args: ArgSpec[] = [];
  for (const token of tokens) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*):([a-z_]+)$/.exec(token);
    if (!match) throw new TblError(lineNumber, `argument '${token}' is not name:kind`);
    const [, name, kind] = match as unknown as [string, string, string];
    if (!isOneOf<ArgKind>(ARG_KINDS, kind)) throw new TblError(lineNumber, `unknown argument kind '${kind}'`);
    if (args.some((arg) => arg.name === name)) throw new TblError(lineNumber, `argument name '${name}' repeated`);
    args.push({ name, kind });
  }
  return args;
}

interface ParsedDisposition {
  readonly disposition: Disposition;
  readonly deniedErrno?: number;
  readonly argDeny?: readonly ArgDenyRule[];
  readonly argAllow?: readonly ArgAllowRule[];
}

function parseAllowRules(rulesText: string, args: readonly ArgSpec[], lineNumber: number): ArgAllowRule[] {
  const rules = rulesText.split(',').map((ruleText): ArgAllowRule => {
    const rule = /^([A-Za-z_][A-Za-z0-9_]*)(?:&(0x[0-9a-fA-F]+|[0-9]+))?=([0-9]+):passthrough$/.exec(ruleText.trim());
    if (!rule) throw new TblError(lineNumber, `argument rule '${ruleText}' is not arg=value:passthrough or arg&mask=value:passthrough`);
    const [, argName, maskText, valueText] = rule as unknown as [string, string, string | undefined, string];
    const arg = args.findIndex((spec) => spec.name === argName);
    if (arg < 0) throw new TblError(lineNumber, `argument rule names '${argName}', which is not an argument`);
    const value = parseInteger(valueText, lineNumber, 'rule value');
    if (value > 0xffffffff) throw new TblError(lineNumber, `rule value ${valueText} does not fit 32 bits`);
    if (maskText === undefined) return { arg, value };
    const mask = parseInteger(maskText, lineNumber, 'rule mask');
    if (mask === 0 || mask > 0xffffffff) throw new TblError(lineNumber, `rule mask ${maskText} is not a nonzero 32-bit mask`);
    if ((value & ~mask) >>> 0 !== 0) throw new TblError(lineNumber, `rule value ${valueText} has bits outside its mask ${maskText}: it could never match`);
    return { arg, value, mask };
  });
  if (rules.length === 0) throw new TblError(lineNumber, 'empty argument rule list');
  return rules;
}

// emulated | emulated[arg=value:passthrough,...] | emulated[arg&mask=value:passthrough] | passthrough | passthrough[arg=value:ERRNO,...] | denied:ERRNO
function parseDisposition(token: string, args: readonly ArgSpec[], lineNumber: number): ParsedDisposition {
  const match = /^([a-z]+)(?::([A-Z][A-Z0-9]*))?(?:\[([^\]]*)\])?$/.exec(token);
  if (!match) throw new TblError(lineNumber, `disposition '${token}' is malformed`);
  const [, word, errnoName, rulesText] = match as unknown as [string, string, string | undefined, string | undefined];
  if (!isOneOf<Disposition>(DISPOSITIONS, word)) throw new TblError(lineNumber, `unknown disposition '${word}'`);
  switch (word) {
    case 'emulated':
      if (errnoName !== undefined) throw new TblError(lineNumber, 'an emulated syscall takes no errno');
      if (rulesText === undefined) return { disposition: word };
      return { disposition: word, argAllow: parseAllowRules(rulesText, args, lineNumber) };
    case 'denied':
      if (errnoName === undefined) throw new TblError(lineNumber, 'a denied syscall needs an errno: denied:EPERM');
      if (rulesText !== undefined) throw new TblError(lineNumber, 'argument rules belong to passthrough syscalls');
      return { disposition: word, deniedErrno: parseErrno(errnoName, lineNumber) };
    case 'passthrough': {
      if (errnoName !== undefined) throw new TblError(lineNumber, 'a passthrough syscall takes no errno of its own');
      if (rulesText === undefined) return { disposition: word };
      const argDeny = rulesText.split(',').map((ruleText): ArgDenyRule => {
        const rule = /^([A-Za-z_][A-Za-z0-9_]*)=(-?[0-9a-fA-Fx]+):([A-Z][A-Z0-9]*)$/.exec(ruleText.trim());
        if (!rule) throw new TblError(lineNumber, `argument rule '${ruleText}' is not arg=value:ERRNO`);
        const [, argName, valueText, ruleErrno] = rule as unknown as [string, string, string, string];
        const arg = args.findIndex((spec) => spec.name === argName);
        if (arg < 0) throw new TblError(lineNumber, `argument rule names '${argName}', which is not an argument`);
        const value = parseInteger(valueText, lineNumber, 'rule value');
        // The filter compares the low 32 bits of the register; a value outside that
        // range could never match, which would silently disable the rule.
        if (value < -0x80000000 || value > 0xffffffff) throw new TblError(lineNumber, `rule value ${valueText} does not fit 32 bits`);
        return { arg, value: value >>> 0, errno: parseErrno(ruleErrno, lineNumber) };
      });
      if (argDeny.length === 0) throw new TblError(lineNumber, 'empty argument rule list');
      return { disposition: word, argDeny };
    }
  }
}

/** Parses the table, checking everything the generated module's types promise. */
export function parseTbl(text: string): SyscallEntry[] {
  const entries: SyscallEntry[] = [];
  const names = new Set<string>();
  const lines = text.split('\n');
  for (let index = 0; index < lines.length; index++) {
    const lineNumber = index + 1;
    const content = (lines[index] ?? '').replace(/#.*$/, '').trim();
    if (content === '') continue;
    const tokens = content.split(/\s+/);
    if (tokens.length < 6) throw new TblError(lineNumber, 'expected: nr name family disposition ret arg...');
    const [nrText, name, family, dispositionText, ret, ...argTokens] = tokens as [string, string, string, string, string, ...string[]];
    const nr = parseInteger(nrText, lineNumber, 'syscall number');
    if (nr < 0 || nr >= X32_SYSCALL_BIT) throw new TblError(lineNumber, `syscall number ${nr} out of range`);
    const previous = entries[entries.length - 1];
    if (previous && nr <= previous.nr) throw new TblError(lineNumber, `number ${nr} after ${previous.nr}: keep the table sorted and unique`);
    if (!/^[a-z_][a-z0-9_]*$/.test(name)) throw new TblError(lineNumber, `syscall name '${name}' is not an identifier`);
    if (names.has(name)) throw new TblError(lineNumber, `syscall name '${name}' repeated`);
    names.add(name);
    if (!isOneOf<SyscallFamily>(SYSCALL_FAMILIES, family)) throw new TblError(lineNumber, `unknown family '${family}'`);
    if (!isOneOf<RetKind>(RET_KINDS, ret)) throw new TblError(lineNumber, `unknown return kind '${ret}'`);
    const args = parseArgs(argTokens, lineNumber);
    const parsed = parseDisposition(dispositionText, args, lineNumber);
    entries.push({
      nr,
      name,
      family,
      args,
      ret,
      disposition: parsed.disposition,
      ...(parsed.deniedErrno !== undefined ? { deniedErrno: parsed.deniedErrno } : {}),
      ...(parsed.argDeny !== undefined ? { argDeny: parsed.argDeny } : {}),
      ...(parsed.argAllow !== undefined ? { argAllow: parsed.argAllow } : {}),
    });
  }
  return entries;
}

function quote(text: string): string {
  return `'${text}'`;
}

function renderEntry(entry: SyscallEntry): string {
  const args = entry.args.map((arg) => `{ name: ${quote(arg.name)}, kind: ${quote(arg.kind)} }`).join(', ');
  const fields = [
    `nr: ${entry.nr}`,
    `name: ${quote(entry.name)}`,
    `family: ${quote(entry.family)}`,
    `disposition: ${quote(entry.disposition)}`,
  ];
  if (entry.deniedErrno !== undefined) fields.push(`deniedErrno: ${entry.deniedErrno}`);
  if (entry.argDeny !== undefined) {
    const rules = entry.argDeny.map((rule) => `{ arg: ${rule.arg}, value: 0x${rule.value.toString(16)}, errno: ${rule.errno} }`);
    fields.push(`argDeny: [${rules.join(', ')}]`);
  }
  if (entry.argAllow !== undefined) {
    const rules = entry.argAllow.map((rule) => `{ arg: ${rule.arg}, value: 0x${rule.value.toString(16)}${rule.mask !== undefined ? `, mask: 0x${rule.mask.toString(16)}` : ''} }`);
    fields.push(`argAllow: [${rules.join(', ')}]`);
  }
  fields.push(`ret: ${quote(entry.ret)}`, `args: [${args}]`);
  return `  { ${fields.join(', ')} },`;
}

/** The text of x86_64.generated.ts for these entries. */
export function renderGenerated(entries: readonly SyscallEntry[]): string {
  const nameWidth = Math.max(...entries.map((entry) => entry.name.length));
  return [
    '// GENERATED from syscall-tables/x86_64.tbl by syscall-tables/generate.ts: do not edit.',
    '// Edit the .tbl, then: npx tsc -p tsconfig.json && node dist/syscall-tables/generate.js',
    "import type { SyscallEntry } from './types.js';",
    '',
    '/** Every x86_64 syscall, sorted by number. */',
    'export const SYSCALLS_X86_64: readonly SyscallEntry[] = [',
    ...entries.map(renderEntry),
    '];',
    '',
    '/** Syscall numbers by name: write NR.openat, never the number. */',
    'export const NR_X86_64 = {',
    ...entries.map((entry) => `  ${`${entry.name}:`.padEnd(nameWidth + 1)} ${entry.nr},`),
    '} as const;',
    '',
  ].join('\n');
}
