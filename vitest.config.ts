import { defineConfig } from 'vitest/config';

// Tests run real programs in real sandboxes: they are slow next to unit tests,
// and two of them at once is all a 2-core machine takes without timeouts.
export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    maxWorkers: 2,
    pool: 'forks',
  },
});
