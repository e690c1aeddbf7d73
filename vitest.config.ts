import { configDefaults, defineConfig } from 'vitest/config';

const CHAOS = ['test/chaos/**/*.test.ts'];
// Busy both cores for seconds (1,000-request scenarios, the bench's child processes): run on their own, so they
// do not slow each other or the rest of the suite towards its timeouts.
const SERIAL = [...CHAOS, 'test/e2e/bench-smoke.test.ts'];

export default defineConfig({
  test: {
    // Hang detectors, not speed limits: a test that takes 5 s alone takes 15-20 s with a second suite beside it
    // (npm run test:5x) on 2 cores. Files should still take well under 30 s on a quiet machine.
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // A 2-core machine: two files at a time. No test asserts a tight time (test/support/timing.ts); `npm run test:5x` runs
    // the suite 5 times with a second copy beside it to show that.
    maxWorkers: 2,
    projects: [
      { extends: true, test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...configDefaults.exclude, ...SERIAL] } },
      // After everything else and one file at a time: the chaos suites print latency figures (asserting only
      // bounds a busy machine cannot reach), and figures read off a quiet machine are worth reading.
      { extends: true, test: { name: 'serial', include: SERIAL, fileParallelism: false, sequence: { groupOrder: 1 } } },
    ],
  },
});
