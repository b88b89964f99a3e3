// Where tsvisor's own files are, found from this module's location: the
// TypeScript sources (native/paths.ts), tsc's output (dist/native/paths.js)
// or the bundle (dist/bundle/*.cjs, made by `npm run build` for a fast
// start: a few CommonJS files instead of a hundred ES modules, whose loader
// and builtins' named exports cost Node tens of milliseconds per isolate).
// Each entry point named here is of the same kind as the running code, so
// the bundled CLI starts the bundled sentry worker, and tsc's CLI tsc's.
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.dirname(fileURLToPath(import.meta.url));

/** Whether this code runs from the bundle (dist/bundle/). */
export const BUNDLED = path.basename(here) === 'bundle' && path.basename(path.dirname(here)) === 'dist';

/** The repository (package) root. */
export const PROJECT_ROOT = here.includes(`${path.sep}dist${path.sep}`) || here.endsWith(`${path.sep}dist`)
  ? path.resolve(here, '..', '..')
  : path.resolve(here, '..');

const DIST = path.join(PROJECT_ROOT, 'dist');
/** Where `npm run build` puts the bundle. */
export const BUNDLE_DIR = path.join(DIST, 'bundle');

/** The `tsvisor` command's entry point, for the processes tsvisor starts itself (the OCI daemon, exec's waiter). */
export const CLI_MAIN = BUNDLED ? path.join(BUNDLE_DIR, 'main.cjs') : path.join(DIST, 'cli', 'main.js');
/** The sentry thread's entry point (sentry/worker.ts). */
export const SENTRY_WORKER = BUNDLED ? path.join(BUNDLE_DIR, 'worker.cjs') : path.join(DIST, 'sentry', 'worker.js');

const RELEASE = path.join(PROJECT_ROOT, 'build', 'Release');
export const LAUNCHER_PATH = path.join(RELEASE, 'tsvisor-launcher');
/** The gofer (native/gofer/), which the launcher execs into the sandbox's mount namespace. */
export const GOFER_PATH = path.join(RELEASE, 'tsvisor-gofer');
export const ADDON_PATH = path.join(RELEASE, 'tsvisor_native.node');
