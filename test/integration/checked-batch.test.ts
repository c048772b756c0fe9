import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'
import { claimBatch, writeBatch } from '../../gateway/fiscalizer/batch-commit.repository.js'
import { signLockedBatch, signPendingBatch } from '../../gateway/fiscalizer/emulated.signer.js'
import { fnStateFromRow } from '../../gateway/fiscalizer/fiscal.repository.js'
import { insertSales } from '../../gateway/ingest/sale.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet, TEST_KASSA, type Credentials } from '../support/system.js'

// The emulated signer's checked batch: the claim and the write are separate statements, with no
// transaction between them, and the write commits only if the FN row is still the version the
// claim read. Here another signer moves the FN in between, and the stale write must change nothing.

describe('checked fiscalization batch', () => {
  let database: TestDatabase
  let machine: Credentials
  const db = () => database.handle.db
  const opts = { batchMax: 100, publicUrl: 'http://receipts.test', now: () => new Date() }
  const store = (n: number) => insertSales(db(), Array.from({ length: n }, () => ({ machineId: machine.id, event: sale(), payload: new Uint8Array() })))
  const documents = async () => (await sql<{ fd: number }>`select fd from fiscal_documents where fn = ${TEST_KASSA.fn} order by fd`.execute(db())).rows.map((r) => r.fd)

  beforeAll(async () => {
    database = await createTestDatabase()
    machine = (await provisionFleet(db(), 1))[0]!
  })

  afterAll(async () => {
    await database?.drop()
  })

  it('writes nothing when the FN moved since its claim, and the next batch signs on from where it is', async () => {
    await store(3)
    const stale = await claimBatch(db(), TEST_KASSA.id, 100)
    expect(stale?.sales).toHaveLength(3)
    // Another signer takes the same sales meanwhile: shift open and three receipts, FD 1–4.
    const locked = await signLockedBatch(db(), TEST_KASSA.id, opts)
    expect(locked.signed).toBe(3)
    expect(await documents()).toEqual([1, 2, 3, 4])

    // The stale batch's write: the FN row is no longer the version it read.
    const state = fnStateFromRow(stale!.drive)
    const written = await writeBatch(db(), {
      kassaId: TEST_KASSA.id, fn: stale!.drive.fn, documents: [], done: [], state: { ...state, nextFd: 2 }, blockedReason: null,
      displays: [{ machineId: machine.id, saleId: stale!.sales[0]!.sale_id, payload: { v: 1, type: 'rejected', saleId: stale!.sales[0]!.sale_id, reason: 'stale' } }],
      ifVersion: stale!.rowVersion,
    })
    expect(written).toBeNull()
    const drive = await db().selectFrom('fiscal_drives').select('next_fd').where('fn', '=', TEST_KASSA.fn).executeTakeFirstOrThrow()
    expect(drive.next_fd).toBe(5)
    expect((await sql<{ n: number }>`select count(*)::int as n from display_outbox where payload->>'type' = 'rejected'`.execute(db())).rows[0]!.n).toBe(0)

    // The checked batch signs the next sales gaplessly, and everything verifies.
    await store(2)
    const next = await signPendingBatch(db(), TEST_KASSA.id, opts)
    expect(next).toMatchObject({ claimed: true, signed: 2, taken: 2 })
    expect(next.displays.map((d) => d.payload.type === 'receipt' && d.payload.fiscal.fd)).toEqual([5, 6])
    expect(await documents()).toEqual([1, 2, 3, 4, 5, 6])
    const pending = await db().selectFrom('sales').select('id').where('state', '=', 'pending').execute()
    expect(pending).toEqual([])
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
    expect(report.ok).toBe(true)
  })

  it('passes over a kassa whose FN another transaction holds', async () => {
    await store(1)
    await db().transaction().execute(async (tx) => {
      await sql`select 1 from fiscal_drives where kassa_id = ${TEST_KASSA.id} for update`.execute(tx)
      expect(await signPendingBatch(db(), TEST_KASSA.id, opts)).toMatchObject({ claimed: false, signed: 0 })
    })
    expect(await signPendingBatch(db(), TEST_KASSA.id, opts)).toMatchObject({ claimed: true, signed: 1 })
    expect(await documents()).toEqual([1, 2, 3, 4, 5, 6, 7])
  })
})
