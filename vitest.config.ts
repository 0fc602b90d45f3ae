import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['relay/test/**/*.test.ts', 'test/**/*.test.ts', 'scripts/**/*.test.ts'],
    exclude: ['node_modules/**', 'force-app/**'],
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Two cores here and in CI: emulator-backed suites are I/O bound, so a small fork pool is enough.
    pool: 'forks',
    maxWorkers: 2
  }
});
