// A subcommand's flags as runc's command-line library reads them: -x or --x,
// --x=value or --x value, repeatable ones collected, parsing stops at the
// first argument that is not a flag (the container id; exec's command after it).
import { UsageError } from '../usage.js';

export interface FlagSpec {
  /** Names (without dashes) of flags that take a value; the first name is the key. */
  readonly values?: readonly (readonly string[])[];
  /** Names of boolean flags; the first name is the key. */
  readonly bools?: readonly (readonly string[])[];
}

export interface Parsed {
  readonly values: Map<string, string[]>;
  readonly bools: Set<string>;
  readonly positional: string[];
}

export function parseFlags(cmd: string, args: readonly string[], spec: FlagSpec): Parsed {
  const values = new Map<string, string[]>();
  const bools = new Set<string>();
  const keyOf = (names: readonly (readonly string[])[] | undefined, n: string): string | undefined => names?.find((ns) => ns.includes(n))?.[0];
  let i = 0;
  for (; i < args.length; i++) {
    const a = args[i]!;
    if (a === '--') { i++; break; }
    if (!a.startsWith('-') || a === '-') break;
    const body = a.replace(/^--?/, '');
    const eq = body.indexOf('=');
    const name = eq < 0 ? body : body.slice(0, eq);
    const vkey = keyOf(spec.values, name);
    const bkey = keyOf(spec.bools, name);
    if (vkey !== undefined) {
      const v = eq < 0 ? args[++i] : body.slice(eq + 1);
      if (v === undefined) throw new UsageError(`${cmd}: --${name} needs a value`);
      values.set(vkey, [...(values.get(vkey) ?? []), v]);
    } else if (bkey !== undefined) {
      if (eq < 0 || body.slice(eq + 1) !== 'false') bools.add(bkey);
    } else {
      throw new UsageError(`${cmd}: unknown flag '${a}'`);
    }
  }
  return { values, bools, positional: args.slice(i) };
}

/** The last value of a flag, or undefined. */
export function last(p: Parsed, key: string): string | undefined {
  const v = p.values.get(key);
  return v?.[v.length - 1];
}

/** The container id: the first positional argument. */
export function idArg(cmd: string, p: Parsed): string {
  const id = p.positional[0];
  if (id === undefined) throw new UsageError(`${cmd}: a container id is needed`);
  return id;
}
