// Differential syscall tests for processes, threads, signals, credentials,
// limits and time (issue 4): the programs in test/differential-proc/, run
// natively and sandboxed by the shared runner (test/helpers/differential-runner.ts),
// must print the same lines, but for the known differences below, each with
// its reason. The programs print relations between pids, never pids: the
// sandbox has its own pid namespace.
import { differentialSuite, type KnownDifferences } from './helpers/differential-runner.js';

const KNOWN_DIFFERENCES: KnownDifferences = {
  lifecycle: {
    'clone3 with a zero size':
      'clone3 is refused with ENOSYS by policy (syscall-tables: its flags live in a struct in task memory, which the sentry ' +
      'could check only racily); natively the size is checked first (EINVAL). glibc falls back to clone: the ' +
      'pthread_create and posix_spawn checks around it pass',
  },
  creds: {
    'PR_GET_NO_NEW_PRIVS at start':
      'the sandbox sets no_new_privs on its program before the exec (a seccomp filter needs it without host privileges); ' +
      'natively the test runner does not',
    'uid 1000 seccomp filter, no_new_privs as inherited':
      'follows from "PR_GET_NO_NEW_PRIVS at start": with no_new_privs already set, an unprivileged filter is allowed; ' +
      'natively it is EACCES',
  },
};

differentialSuite({
  title: 'process syscalls: the same answers natively and sandboxed',
  folder: 'differential-proc',
  tag: 'procdiff',
  minPrograms: 7,
  known: KNOWN_DIFFERENCES,
});
