// A V8 code cache for the bundle's CommonJS chunks (dist/bundle/*.cjs).
//
// Every tsvisor command is a fresh Node process, and a sandbox starts two
// isolates (the CLI's and the sentry thread's); compiling the bundle from
// source costs each of them tens of milliseconds. Node 22 has
// module.enableCompileCache for this; Node 20 has none, so this module
// wraps CommonJS compilation for the bundle's files, as v8-compile-cache
// did: each chunk is compiled with its cached code when there is one, and
// the first run after a build writes the cache, made after the run so that
// it holds the functions that ran, not only the top level.
//
// V8 checks cached data against its own version and flags and the source's
// length, and compiles from source when they differ; a cache file is also
// named after its chunk's size and modification time. The cache is as
// trusted as the bundle beside it (same folder, same owner), and is written
// only where this process may write, through a temporary file and a rename.
//
// Imported first by the bundle's entry points (cli/main.ts, sentry/worker.ts);
// outside the bundle (tsc's ES modules) it does nothing.
import fs from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import vm from 'node:vm';
import { BUNDLE_DIR, BUNDLED } from './paths.js';

/** The parts of Node's CommonJS Module that the hook needs (not in @types/node's public face). */
interface CjsModule {
  exports: unknown;
  require(id: string): unknown;
}
interface CjsModuleClass {
  prototype: { _compile(this: CjsModule, content: string, filename: string): unknown };
  wrap(script: string): string;
  _resolveFilename(request: string, parent: CjsModule, isMain: boolean, options?: unknown): string;
  _cache: Record<string, unknown>;
}

const CACHE_DIR_NAME = '.code-cache';

function install(bundleDir: string): void {
  const Module = createRequire(import.meta.url)('node:module') as CjsModuleClass;
  const cacheDir = path.join(bundleDir, CACHE_DIR_NAME);
  const toWrite: { script: vm.Script; file: string }[] = [];
  const compile = Module.prototype._compile;
  Module.prototype._compile = function compileWithCache(this: CjsModule, content: string, filename: string): unknown {
    if (path.dirname(filename) !== bundleDir) return compile.call(this, content, filename);
    const file = cacheFile(cacheDir, filename);
    let cachedData: Buffer | undefined;
    try {
      cachedData = fs.readFileSync(file);
    } catch {
      // Not made yet: this run makes it.
    }
    // A hashbang is valid only at the very start of a script, not inside the wrapper.
    const source = content.startsWith('#!') ? `//${content}` : content;
    const script = new vm.Script(Module.wrap(source), { filename, ...(cachedData ? { cachedData } : {}) });
    if (cachedData === undefined || script.cachedDataRejected === true) toWrite.push({ script, file });
    const wrapper = script.runInThisContext({ displayErrors: true }) as (
      exports: unknown, require: NodeJS.Require, module: CjsModule, filename: string, dirname: string,
    ) => unknown;
    const mod = this;
    const require = ((id: string) => mod.require(id)) as NodeJS.Require;
    require.resolve = ((request: string, options?: unknown) => Module._resolveFilename(request, mod, false, options)) as NodeJS.RequireResolve;
    require.cache = Module._cache as NodeJS.Dict<NodeJS.Module>;
    return wrapper.call(mod.exports, mod.exports, require, mod, filename, path.dirname(filename));
  };
  process.once('exit', () => {
    for (const { script, file } of toWrite) writeCache(file, script.createCachedData());
  });
}

/**
 * The cache of one chunk, named after its size and modification time too:
 * V8's own check of cached data against its source compares lengths only,
 * so a chunk rebuilt with the same length must not find the old cache (the
 * chunks' names carry a content hash, and a build empties the folder, but
 * this does not rely on either).
 */
function cacheFile(cacheDir: string, chunk: string): string {
  const st = fs.statSync(chunk);
  return path.join(cacheDir, `${path.basename(chunk)}.${st.size}-${Math.trunc(st.mtimeMs)}.v8`);
}

function writeCache(file: string, data: Buffer): void {
  const tmp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}`;
  try {
    fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
    fs.writeFileSync(tmp, data, { mode: 0o644 });
    fs.renameSync(tmp, file);
  } catch {
    // Not ours to write (another user's install, a read-only tree): the next run compiles again.
    fs.rmSync(tmp, { force: true });
  }
}

if (BUNDLED) install(BUNDLE_DIR);
