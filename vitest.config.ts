import { availableParallelism } from 'node:os';
import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Checks that redis-server is installed; starts real services in containers only with
    // TEST_TARGET=containers (see test/helpers/targets.ts).
    globalSetup: ['test/helpers/prerequisites.ts', 'test/helpers/containers.ts'],
    // Every test file runs in its own process: @azure/identity fixes its identity source and token
    // cache per process, so files must not share one.
    pool: 'forks',
    // Vitest's default on 2 cores is one file at a time. Most files spend their time waiting on
    // the processes they start (stand-ins, workers, a 60 s outage), so two at once halve the run
    // (12.5 → 7.5 min) without starving the CPU-bound ones.
    maxWorkers: Math.max(2, availableParallelism() - 1),
    testTimeout: 30_000,
    hookTimeout: 60_000,
    teardownTimeout: 10_000,
  },
});
