import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { provisionChaosFleet } from '../../scripts/chaos/chaos-database.js'
import { startService } from '../../scripts/chaos/service-process.js'
import { claimFiscalDrive } from '../../gateway/fiscalizer/fiscal.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { killAllProcesses } from '../support/processes.js'

// The FN claim is a row lock held by the claiming transaction. A gateway that is SIGKILLed loses
// it when PostgreSQL sees its connection close; one that is frozen or cut off keeps its connection
// open, and the server ends its idle transaction after idle_in_transaction_session_timeout (10 s,
// gateway/db/database.ts).

describe('a stale FN claim', () => {
  let database: TestDatabase

  beforeAll(async () => {
    database = await createTestDatabase()
    await provisionChaosFleet(database.handle, 1)
  }, 60_000)
  afterAll(async () => {
    await killAllProcesses()
    await database?.drop()
  })

  /** ms until this test can claim kassa K1's FN (SKIP LOCKED, as a second gateway would). */
  async function msUntilClaimable(timeoutMs: number): Promise<number> {
    const t0 = Date.now()
    while (Date.now() - t0 < timeoutMs) {
      const got = await database.handle.db.transaction().execute((tx) => claimFiscalDrive(tx, 'K1'))
      if (got) return Date.now() - t0
      await new Promise((r) => setTimeout(r, 50))
    }
    throw new Error(`the FN was still claimed after ${timeoutMs} ms`)
  }

  async function holdClaim() {
    const holder = startService('claim-holder', 'scripts/chaos/claim-holder.ts', { DATABASE_URL: database.url, KASSA_ID: 'K1' })
    const line = await holder.waitForLine(/^claimed K1 at \d+$/, 90_000) // a process start takes seconds on a busy machine
    const held = await database.handle.db.transaction().execute((tx) => claimFiscalDrive(tx, 'K1'))
    expect(held).toBeNull() // really held: a second claimer skips it
    return { holder, claimedAt: Number(line.split(' at ')[1]) }
  }

  it('is free within a second after its gateway is SIGKILLed', async () => {
    const { holder } = await holdClaim()
    holder.kill('SIGKILL')
    await holder.exited
    expect(await msUntilClaimable(5_000)).toBeLessThan(1_000)
  }, 120_000)

  it('is taken back by the server about 10 s after its gateway froze mid-transaction (SIGSTOP)', async () => {
    const { holder, claimedAt } = await holdClaim()
    holder.kill('SIGSTOP')
    try {
      await msUntilClaimable(30_000)
      // From the claim, as the server's idle timer runs from the holder's last statement.
      const ms = Date.now() - claimedAt
      expect(ms).toBeGreaterThan(9_000) // not before the timeout: a live transaction is never cut short
      expect(ms).toBeLessThan(20_000)
    } finally {
      holder.kill('SIGKILL')
      await holder.exited
    }
  }, 120_000)
})
