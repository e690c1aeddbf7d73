import { configDefaults, defineConfig } from 'vitest/config';

const CHAOS = ['test/chaos.test.ts', 'test/chaos-streams.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Fault tests measure wall-clock limits; on a 2-core machine keep parallelism modest.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...CHAOS] } },
      // The chaos suites assert latency figures (p99 time to first token, failover within a bound): they run
      // after everything else and one file at a time, so other tests' CPU does not move their numbers.
      { extends: true, test: { name: 'chaos', include: CHAOS, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
