import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimAtolKassa } from '../../gateway/fiscalizer/atol.repository.js'
import { claimBatch, writeBatch } from '../../gateway/fiscalizer/batch-commit.repository.js'
import { signClaimed } from '../../gateway/fiscalizer/emulated.signer.js'
import { moveMachine } from '../../gateway/fleet/fleet.repository.js'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'
import { insertSales } from '../../gateway/ingest/sale.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// `fleet move-machine` while a batch of the machine's old kassa holds its pending sale. The move
// takes the old kassa's FN row and kassa row, as every signer of that kassa does, so it waits for
// the batch in flight; the sale keeps the kassa whose FN receipted it. Before, the move committed
// at once, and the batch then receipted the sale on the old kassa's FN while its row said the new
// kassa (or, when the new kassa signed it too, failed its whole round on the one-document-per-sale
// index).

const K1 = { id: 'K1', fn: '9999078900003001', reg: '0000000001013001' }
const K2 = { id: 'K2', fn: '9999078900003002', reg: '0000000001013002' }

describe('moving a machine to another kassa while a batch holds its sale', () => {
  let database: TestDatabase
  let machine: Credentials
  const db = () => database.handle.db
  const opts = { batchMax: 100, publicUrl: 'http://receipts.test', now: () => new Date() }
  const kassa = (id: string) => db().selectFrom('kassas').selectAll().where('id', '=', id).executeTakeFirstOrThrow()
  const store = async () => (await insertSales(db(), [{ machineId: machine.id, event: sale(), payload: new Uint8Array() }])).inserted[0]!
  /** The move is waiting for a lock held by the test's open transaction (no other session waits here). */
  const moveWaiting = () => waitFor(async () => (await sql<{ n: number }>`
    select count(*)::int as n from pg_stat_activity
    where datname = current_database() and wait_event_type = 'Lock' and pid <> pg_backend_pid()`.execute(db())).rows[0]!.n > 0, 'the move to wait for a lock')
  const version = async (fn: string) => (await sql<{ v: string }>`select xmin::text as v from fiscal_drives where fn = ${fn}`.execute(db())).rows[0]!.v

  beforeAll(async () => {
    database = await createTestDatabase()
    machine = (await provisionFleet(db(), 1, { prefix: 'A-', kassa: K1 }))[0]!
    await provisionFleet(db(), 1, { prefix: 'B-', kassa: K2 })
  })

  afterAll(async () => {
    await database?.drop()
  })

  it('waits for a locked batch of the old kassa, and leaves the sale it receipted on that kassa', async () => {
    const stored = await store()
    let moved: Promise<number> | null = null
    let settled = false
    const signed = await db().transaction().execute(async (tx) => {
      // A locked batch: the claim holds K1's FN row until this transaction ends.
      const claim = await claimBatch(tx, K1.id, opts.batchMax)
      expect(claim?.sales.map((s) => s.id)).toEqual([stored.id])
      const batch = signClaimed(claim!, [], opts)
      moved = moveMachine(db(), machine.id, await kassa(K2.id)).finally(() => { settled = true })
      await moveWaiting()
      expect(settled).toBe(false)
      return writeBatch(tx, batch.write)
    })
    expect(signed?.range).toMatchObject({ fn: K1.fn, from: 1, to: 2 })
    // The sale was receipted before the move took its turn: nothing pending was left to move.
    expect(await moved!).toBe(0)

    const row = await db().selectFrom('sales').select(['state', 'kassa_id', 'fn', 'fd']).where('id', '=', stored.id).executeTakeFirstOrThrow()
    expect(row).toEqual({ state: 'done', kassa_id: K1.id, fn: K1.fn, fd: 2 })
    const docs = await sql<{ fn: string; fd: number }>`select fn, fd from fiscal_documents where sale_row_id = ${stored.id}`.execute(db())
    expect(docs.rows).toEqual([{ fn: K1.fn, fd: 2 }])
    expect((await db().selectFrom('machines').select('kassa_id').where('id', '=', machine.id).executeTakeFirstOrThrow()).kassa_id).toBe(K2.id)
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
    expect(report.ok).toBe(true)
  })

  it('gives the old FN a new version, so a batch signed from it before the move writes nothing', async () => {
    // The machine is K2's now; its next sale is K2's. Move it back with one sale pending.
    const stored = await store()
    const claim = await claimBatch(db(), K2.id, opts.batchMax)
    expect(claim?.sales.map((s) => s.id)).toEqual([stored.id])
    const batch = signClaimed(claim!, [], opts)
    expect(await moveMachine(db(), machine.id, await kassa(K1.id))).toBe(1)
    expect(await version(K2.fn)).not.toBe(claim!.rowVersion)
    expect(await writeBatch(db(), { ...batch.write, ifVersion: claim!.rowVersion })).toBeNull()
    const drive = await db().selectFrom('fiscal_drives').select('next_fd').where('fn', '=', K2.fn).executeTakeFirstOrThrow()
    expect(drive.next_fd).toBe(1)
    const row = await db().selectFrom('sales').select(['state', 'kassa_id', 'fn']).where('id', '=', stored.id).executeTakeFirstOrThrow()
    expect(row).toEqual({ state: 'pending', kassa_id: K1.id, fn: null })
  })

  it('waits for a cloud kassa\'s submission in flight, which claims the kassa row', async () => {
    let settled = false
    let moved: Promise<number> | null = null
    await db().transaction().execute(async (tx) => {
      expect(await claimAtolKassa(tx, K1.id)).toMatchObject({ id: K1.id })
      moved = moveMachine(db(), machine.id, await kassa(K2.id)).finally(() => { settled = true })
      await moveWaiting()
      expect(settled).toBe(false)
    })
    // The claim's transaction ended; the move went through after it, with the one pending sale.
    expect(await moved!).toBe(1)
    expect((await db().selectFrom('machines').select('kassa_id').where('id', '=', machine.id).executeTakeFirstOrThrow()).kassa_id).toBe(K2.id)
  })
})
