import { defineConfig } from 'vitest/config'

const CHAOS = 'test/e2e/chaos.test.ts'

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    pool: 'forks',
    projects: [
      {
        extends: true,
        // Two cores: files run in parallel processes, each with its own database.
        test: { name: 'suite', include: ['test/**/*.test.ts'], exclude: [CHAOS, 'node_modules/**'], maxWorkers: 2, sequence: { groupOrder: 0 } },
      },
      {
        extends: true,
        // The chaos run (`npm run chaos` with CI's arguments) starts after every other file has
        // finished, so its processes have the machine to themselves. `npm run test:chaos` runs it alone.
        test: { name: 'chaos', include: [CHAOS], maxWorkers: 1, testTimeout: 600_000, sequence: { groupOrder: 1 } },
      },
    ],
  },
})
