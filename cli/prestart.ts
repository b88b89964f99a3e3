// Imported by cli/main.ts right after the code cache, before anything else
// loads: a command line that will run a sandbox in this process (`do`, the
// OCI daemon, `run` in the foreground) starts the sentry's thread now, so
// that its isolate boots on the other core while this one loads the
// command (sentry/thread.ts).
import { prestartSentryThread } from '../sentry/thread.js';
import { hostsSandbox } from './oci/runtime.js';

const argv = process.argv.slice(2);
if (argv[0] === 'do' || hostsSandbox(argv)) prestartSentryThread();
