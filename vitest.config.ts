import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 30_000,
    hookTimeout: 30_000,
    // Fault tests measure wall-clock limits; on a 2-core machine keep parallelism modest.
    maxWorkers: 2,
  },
});
