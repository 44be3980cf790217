import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // The PostgreSQL and SQLite integration suites share no state, but keep files in separate forks
    // so that one suite's database cannot leak into another's.
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
  },
});
