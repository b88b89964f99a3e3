// Differential syscall tests for the filesystem (issue 3): the programs in
// test/differential/, run natively and sandboxed by the shared runner
// (test/helpers/differential-runner.ts), must print the same lines, but for
// the known differences below, each with its reason.
import { differentialSuite, type KnownDifferences } from './helpers/differential-runner.js';

const KNOWN_DIFFERENCES: KnownDifferences = {
  tree: {
    'RENAME_WHITEOUT': 'the sandbox root is overlayfs, whose rename refuses RENAME_WHITEOUT (EINVAL); natively the work directory is on ext4',
    'whiteout left': 'follows from "RENAME_WHITEOUT"',
  },
};

differentialSuite({
  title: 'filesystem syscalls: the same answers natively and sandboxed',
  folder: 'differential',
  tag: 'fsdiff',
  minPrograms: 14,
  known: KNOWN_DIFFERENCES,
});
