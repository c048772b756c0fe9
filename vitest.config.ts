import { defineConfig } from 'vitest/config'

const CHAOS = ['test/e2e/chaos.test.ts', 'test/e2e/cluster-chaos.test.ts']

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        // Two cores: files run in parallel processes, each with its own database.
        test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [...CHAOS, 'node_modules/**'], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // The chaos runs (`npm run chaos` with CI's arguments: one broker, then three on Redis) start
        // after every other file has finished, one at a time, so their processes have the machine
        // to themselves. `npm run test:chaos` runs them alone.
        test: { name: 'chaos', include: CHAOS, maxWorkers: 1, testTimeout: 600_000, sequence: { groupOrder: 1 } },
      },
    ],
  },
})
