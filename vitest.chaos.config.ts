import { defineConfig } from 'vitest/config'

// `npm run test:chaos`: the chaos run alone, so no other test competes with it for the two cores.
export default defineConfig({
  test: { include: ['test/e2e/chaos.test.ts'], testTimeout: 600_000, hookTimeout: 60_000, pool: 'forks', maxWorkers: 1 },
})
