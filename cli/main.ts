#!/usr/bin/env node
// The tsvisor command. Subcommands live in their own files; this one only
// routes and turns errors into messages and exit statuses.
//
// Every command's module is imported only when it runs: `do` and `compat`
// load the sentry (and with it the native addon and the handlers), and the
// OCI commands clients call often (state, kill, start, delete) must not pay
// for what they do not use at each call.
// First: the environment back as the client gave it (cli/client-env.ts); then
// the bundle's chunks compile with their cached code (native/code-cache.ts).
import './client-env.js';
import '../native/code-cache.js';
import './prestart.js';
import { stopBootingSentryThreads, takeSentryThread } from '../sentry/thread.js';
import { isOciInvocation, ociMain, OCI_USAGE } from './oci/runtime.js';
import { CommandError, UsageError } from './usage.js';

async function usage(): Promise<string> {
  const [{ DO_USAGE }, { COMPAT_USAGE }, { SPEC_USAGE, FEATURES_USAGE }, { INSTALL_USAGE }] = await Promise.all([
    import('./do.js'), import('./compat.js'), import('./oci/commands.js'), import('./install.js'),
  ]);
  return `usage: tsvisor <command> [options]

commands:
  do       run a command in a throwaway sandbox on the host's root
  compat   print the syscall compatibility report
  spec     write a starter OCI config.json
  features print the OCI features this runtime supports (JSON)
  install  add tsvisor to a client's configuration (--docker: daemon.json)
  help     show this text

${DO_USAGE}

${COMPAT_USAGE}

${SPEC_USAGE}

${FEATURES_USAGE}

${INSTALL_USAGE}

${OCI_USAGE}`;
}

async function main(argv: readonly string[]): Promise<number> {
  // runc's command line: global flags first, or a lifecycle command (cli/oci/runtime.ts).
  if (isOciInvocation(argv)) return ociMain(argv);
  const [cmd, ...rest] = argv;
  switch (cmd) {
    case 'do': {
      const sentry = takeSentryThread();
      return (await import('./do.js')).doCommand(rest, sentry);
    }
    case 'compat':
      return (await import('./compat.js')).compatCommand(rest);
    case 'spec':
      return (await import('./oci/commands.js')).specCommand(rest);
    case 'features':
      return (await import('./oci/commands.js')).featuresCommand(rest);
    case 'install':
      return (await import('./install.js')).installCommand(rest);
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(await usage() + '\n');
      return 0;
    case undefined:
      process.stderr.write(await usage() + '\n');
      return 2;
    default:
      throw new UsageError(`unknown command '${cmd}'`);
  }
}

main(process.argv.slice(2)).then(
  async (status) => {
    await stopBootingSentryThreads();
    process.exit(status);
  },
  async (err: unknown) => {
    // A failure may come while the prestarted sentry thread still boots.
    await stopBootingSentryThreads();
    if (err instanceof UsageError) {
      process.stderr.write(`tsvisor: ${err.message}\n${await usage()}\n`);
      process.exit(2);
    }
    if (err instanceof CommandError) {
      process.stderr.write(`tsvisor: ${err.message}\n`);
      process.exit(err.status);
    }
    process.stderr.write(`tsvisor: internal error: ${err instanceof Error ? err.stack : String(err)}\n`);
    process.exit(125);
  },
);
