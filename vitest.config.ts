import { configDefaults, defineConfig } from 'vitest/config';

const CHAOS = ['test/chaos.test.ts', 'test/chaos-streams.test.ts'];
// Busy both cores for seconds: kept away from the tests that assert wall-clock bounds.
const SERIAL = [...CHAOS, 'test/bench.smoke.test.ts'];

export default defineConfig({
  test: {
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Fault tests measure wall-clock limits; on a 2-core machine keep parallelism modest.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...SERIAL] } },
      // The chaos suites assert latency figures (p99 time to first token, failover within a bound): they run
      // after everything else and one file at a time, so other tests' CPU does not move their numbers.
      { extends: true, test: { name: 'serial', include: SERIAL, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
