import { defineConfig, type TestProjectInlineConfiguration } from 'vitest/config';
import { NOT_YET_ENV, PLATFORM_ENV, UNAVAILABLE_ENV, probePlatform, type Platform } from './test/helpers/platform.js';

// Files the project's platform cannot change, run once. Most start no
// sandbox: the tables, the BPF filter, the gofer and its protocol and jail,
// mount and path resolution against the gofer, and the CLI outside a sandbox.
// gofer-jail's two runs through `tsvisor do` check the gofer, which is the
// same process on both platforms; they take the default platform, as
// front-end's one does (it checks the front end's environment).
// do-ptrace names the platform of each of its runs itself. oci-clients runs
// podman, docker and containerd with tsvisor as their runtime, on the default
// platform (a client cannot pass one more global flag per test run).
// Every other file runs once per platform: a new test file is on both sides
// unless it is added here.
const ONCE = [
  'test/cgroup-v2.test.ts',
  'test/cli.test.ts',
  'test/code-cache.test.ts',
  'test/do-mount-specs.test.ts',
  'test/do-ptrace.test.ts',
  'test/front-end.test.ts',
  'test/gofer-jail.test.ts',
  'test/gofer-protocol.test.ts',
  'test/gofer.test.ts',
  'test/mount-resolution.test.ts',
  'test/mountinfo.test.ts',
  'test/net-policy.test.ts',
  'test/oci-cli.test.ts',
  'test/oci-clients.test.ts',
  'test/oci-lifecycle.test.ts',
  'test/oci-rootfs.test.ts',
  'test/oci-spec.test.ts',
  'test/path-resolution.test.ts',
  'test/seccomp-bpf.test.ts',
  'test/syscall-tables.test.ts',
];

/**
 * Whole files a platform does not run yet, with the reason; each shows as a
 * skipped test titled with it (test/helpers/platform-not-yet.ts). Single
 * tests are marked in their files with platformException().
 */
const NOT_YET: Readonly<Record<Platform, Readonly<Record<string, string>>>> = {
  seccomp: {},
  ptrace: {},
};

/**
 * The project that runs every sandbox test on `platform`; while the CLI has no
 * such platform (it refuses `--platform`), a project of one skipped test that
 * says so, so that the run stays green and still shows what did not run.
 */
function platformProject(platform: Platform): TestProjectInlineConfiguration {
  const probe = probePlatform(platform);
  if (!probe.ok) {
    return {
      extends: true,
      test: {
        name: platform,
        include: ['test/helpers/platform-unavailable.ts'],
        env: { [PLATFORM_ENV]: platform, [UNAVAILABLE_ENV]: probe.reason },
      },
    };
  }
  return {
    extends: true,
    test: {
      name: platform,
      // A file with no test fails the run: the list's file only where there is a list.
      include: ['test/**/*.test.ts', ...(Object.keys(NOT_YET[platform]).length > 0 ? ['test/helpers/platform-not-yet.ts'] : [])],
      exclude: [...ONCE, ...Object.keys(NOT_YET[platform])],
      env: { [PLATFORM_ENV]: platform, [NOT_YET_ENV]: JSON.stringify(NOT_YET[platform]) },
    },
  };
}

// Tests run real programs in real sandboxes: they are slow next to unit tests,
// and two of them at once is all a 2-core machine takes without timeouts.
// maxWorkers is the whole run's, shared by the projects.
export default defineConfig({
  test: {
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    pool: 'forks',
    reporters: ['default', './test/helpers/platform-report.ts'],
    projects: [
      { extends: true, test: { name: 'once', include: ONCE } },
      platformProject('seccomp'),
      platformProject('ptrace'),
    ],
  },
});
