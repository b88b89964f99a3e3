// Differential syscall tests for sockets (issue 7): the programs in
// test/differential-net/, run natively and sandboxed by the shared runner
// (test/helpers/differential-runner.ts), must print the same lines: every
// bind, connect and send that names an address is the sentry's, on its own
// copy of the socket, and must answer as Linux does, errors included.
import { differentialSuite } from './helpers/differential-runner.js';

differentialSuite({
  title: 'socket syscalls: the same answers natively and sandboxed',
  folder: 'differential-net',
  tag: 'netdiff',
  minPrograms: 1,
  known: {},
});
