import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Starts real services in containers only with TEST_TARGET=containers (see test/helpers/targets.ts).
    globalSetup: ['test/helpers/containers.ts'],
    // Every test file runs in its own process: @azure/identity fixes its identity source and token
    // cache per process, so files must not share one.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 10_000,
  },
});
