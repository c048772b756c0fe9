import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { BatchResult } from '../../gateway/fiscalizer/emulated.signer.js'
import { createFiscalizer, type BatchRunner } from '../../gateway/fiscalizer/fiscalizer.worker.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { waitFor } from '../support/wait.js'

// The fiscalizer's cap on kassas signed at once (gateway/fiscalizer/fiscalizer.worker.ts): the
// rest wait their turn, a kassa with a backlog yields its slot after a full batch when others
// wait, and every kassa kicked is signed in the end.

const BATCH_MAX = 10
const KASSAS = ['C1', 'C2', 'C3', 'C4', 'C5']
let tdb: TestDatabase

beforeAll(async () => {
  tdb = await createTestDatabase()
  // A provider whose batches this test plays, so it sees exactly when each kassa runs.
  await tdb.handle.db.insertInto('kassas').values(KASSAS.map((id) => ({
    id, name: 'ООО «Вендинг»', inn: '7707083893', reg_number: '0000000001012345', sno: 'usn_income', time_zone: 'Europe/Moscow', provider: 'test-double',
  }))).execute()
})

afterAll(async () => {
  await tdb?.drop()
})

/** Each kassa has `full` full batches, then a partial one; a batch ends only when the test releases it. */
function heldKassas(full: number) {
  const calls: string[] = []
  const held: (() => void)[] = []
  let active = 0
  let maxActive = 0
  const runner: BatchRunner = async (kassaId) => {
    active++
    maxActive = Math.max(maxActive, active)
    const n = calls.filter((c) => c === kassaId).length
    calls.push(kassaId)
    await new Promise<void>((resolve) => held.push(resolve))
    active--
    const result: BatchResult = { claimed: true, taken: n < full ? BATCH_MAX : 1, signed: 0, displays: [], blocked: null }
    return result
  }
  /** Waits until `expected` batches run at once, then ends the oldest. */
  const release = async (expected: number) => {
    await waitFor(() => active === expected && held.length === expected, `${expected} batches running`)
    held.shift()!()
  }
  return { runner, calls, release, maxActive: () => maxActive }
}

function fiscalizer(runner: BatchRunner, concurrency: number) {
  return createFiscalizer({
    db: tdb.handle.db, logger: pino({ level: 'silent' }), batchMax: BATCH_MAX, publicUrl: 'http://receipts.test',
    onCommitted: () => {}, signers: { 'test-double': runner }, concurrency,
  })
}

describe('fiscalizer concurrency', () => {
  it('signs at most `concurrency` kassas at once and every kassa kicked in the end', async () => {
    const played = heldKassas(0)
    const f = fiscalizer(played.runner, 2)
    f.kick(KASSAS)
    // Uncapped, all five would be running here and two would never be seen.
    for (let left = KASSAS.length; left > 0; left--) await played.release(Math.min(2, left))
    await f.runOnce()
    expect(played.maxActive()).toBe(2)
    expect([...played.calls].sort()).toEqual(KASSAS)
  })

  it('makes a kassa with a backlog yield its slot after a full batch while others wait', async () => {
    const played = heldKassas(2)
    const f = fiscalizer(played.runner, 1)
    f.kick(['C1', 'C2', 'C3'])
    for (let i = 0; i < 9; i++) await played.release(1)
    await f.runOnce()
    // Round robin: no kassa takes its second batch before every kassa has had its first.
    expect(played.calls.slice(0, 3).sort()).toEqual(['C1', 'C2', 'C3'])
    expect(played.calls).toHaveLength(9)
  })

  it('keeps the slot for batch after batch when no other kassa waits', async () => {
    const played = heldKassas(3)
    const f = fiscalizer(played.runner, 1)
    f.kick(['C4'])
    for (let i = 0; i < 4; i++) await played.release(1)
    await f.runOnce()
    expect(played.calls).toEqual(['C4', 'C4', 'C4', 'C4'])
  })
})
