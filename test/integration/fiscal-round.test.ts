import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimKassas, writeBatches, type ClaimedBatch } from '../../gateway/fiscalizer/batch-commit.repository.js'
import { signClaimed, signLockedBatch } from '../../gateway/fiscalizer/emulated.signer.js'
import { createRoundSigner, type RoundOutcome } from '../../gateway/fiscalizer/fiscal-round.js'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'
import { insertSales } from '../../gateway/ingest/sale.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet, TEST_KASSA, type Credentials } from '../support/system.js'

// A fiscalization round: the checked batches of several kassas claimed by one statement and
// written by one. Each kassa still gets its own batch, numbered in its own FN without gaps; a
// kassa another signer holds or moves is left out of the write, and the others are written.

const KASSAS = ['K1', 'K2', 'K3'] as const
const FNS: Record<string, string> = { K1: '9999078900001001', K2: '9999078900001002', K3: '9999078900001003' }

describe('fiscalization round', () => {
  let database: TestDatabase
  const machines: Record<string, Credentials> = {}
  const db = () => database.handle.db
  const opts = { batchMax: 100, publicUrl: 'http://receipts.test', now: () => new Date() }
  const store = (kassa: string, n: number, overrides = {}) =>
    insertSales(db(), Array.from({ length: n }, () => ({ machineId: machines[kassa]!.id, event: sale(overrides), payload: new Uint8Array() })))
  const fds = async (kassa: string) =>
    (await sql<{ fd: number }>`select fd from fiscal_documents where fn = ${FNS[kassa]!} order by fd`.execute(db())).rows.map((r) => r.fd)
  const receiptFds = (o: RoundOutcome) => ('batch' in o ? o.batch.displays.flatMap((d) => (d.payload.type === 'receipt' ? [d.payload.fiscal.fd] : [])) : [])

  beforeAll(async () => {
    database = await createTestDatabase()
    for (const [i, id] of KASSAS.entries()) {
      const [m] = await provisionFleet(db(), 1, { prefix: `R${i}-`, kassa: { id, fn: FNS[id]!, reg: `000000000101234${i}` } })
      machines[id] = m!
    }
  })

  afterAll(async () => {
    await database?.drop()
  })

  it('signs the kassas asking in the same turn in one round, each in its own FN numbering', async () => {
    await store('K1', 3)
    await store('K2', 1)
    await store('K3', 2)
    const rounds = createRoundSigner({ db: db(), ...opts })
    const outcomes = await Promise.all(KASSAS.map((k) => rounds.sign(k)))
    expect(rounds.stats).toEqual({ rounds: 1, kassas: 3 })
    // Shift opening is FD 1 of each FN, then its receipts.
    expect(outcomes.map(receiptFds)).toEqual([[2, 3, 4], [2], [2, 3]])
    expect(outcomes.map((o) => 'batch' in o && o.batch.range)).toEqual([
      { fn: FNS.K1, from: 1, to: 4, left: 3 }, { fn: FNS.K2, from: 1, to: 2, left: 1 }, { fn: FNS.K3, from: 1, to: 3, left: 2 },
    ])
    expect(await fds('K1')).toEqual([1, 2, 3, 4])
    expect(await fds('K2')).toEqual([1, 2])
    expect(await fds('K3')).toEqual([1, 2, 3])
    const pending = await db().selectFrom('sales').select('id').where('state', '=', 'pending').execute()
    expect(pending).toEqual([])
    // The displays stored with their documents are the messages published.
    const stored = await sql<{ display: string }>`select display from fiscal_documents where fn = ${FNS.K2!} and fd = 2`.execute(db())
    expect(JSON.parse(stored.rows[0]!.display)).toEqual(('batch' in outcomes[1]! && outcomes[1].batch.displays[0]!.payload))
  })

  it('leaves a kassa whose FN another transaction holds, and signs the others', async () => {
    await store('K1', 1)
    await store('K2', 2)
    const rounds = createRoundSigner({ db: db(), ...opts })
    await db().transaction().execute(async (tx) => {
      await sql`select 1 from fiscal_drives where kassa_id = 'K1' for update`.execute(tx)
      const [k1, k2] = await Promise.all([rounds.sign('K1'), rounds.sign('K2')])
      expect(k1).toEqual({ batch: expect.objectContaining({ claimed: false, signed: 0 }) })
      expect(receiptFds(k2)).toEqual([3, 4])
    })
    expect(await fds('K1')).toEqual([1, 2, 3, 4])
    expect(receiptFds(await rounds.sign('K1'))).toEqual([5])
    expect(rounds.stats).toEqual({ rounds: 2, kassas: 2 })
  })

  it('writes the batches of the FNs still as claimed and nothing of one another signer moved meanwhile', async () => {
    await store('K1', 2)
    await store('K3', 2)
    const claims = await claimKassas(db(), ['K1', 'K3'], 100)
    const k1 = claims.get('K1') as ClaimedBatch
    const k3 = claims.get('K3') as ClaimedBatch
    expect(k1.sales).toHaveLength(2)
    // Another signer takes K3's sales between the round's claim and its write.
    expect((await signLockedBatch(db(), 'K3', opts)).signed).toBe(2)
    expect(await fds('K3')).toEqual([1, 2, 3, 4, 5])

    const written = await writeBatches(db(), [k1, k3].map((c) => ({ ...signClaimed(c, [], opts).write, ifVersion: c.rowVersion })))
    expect([...written.keys()]).toEqual([FNS.K1])
    expect(written.get(FNS.K1!)!.displays).toHaveLength(2)
    expect(await fds('K1')).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(await fds('K3')).toEqual([1, 2, 3, 4, 5])
    const k3Sales = await sql<{ fd: number }>`select fd from sales where kassa_id = 'K3' order by id`.execute(db())
    expect(k3Sales.rows.map((r) => r.fd)).toEqual([2, 3, 4, 5])
  })

  it('leaves a batch with a refund to the kassa, to be signed locked', async () => {
    const [original] = (await store('K2', 1)).inserted
    const signed = await createRoundSigner({ db: db(), ...opts }).sign('K2')
    expect(receiptFds(signed)).toEqual([5])
    await store('K2', 1, { kind: 'refund', refundOf: original!.saleId })
    expect(await createRoundSigner({ db: db(), ...opts }).sign('K2')).toEqual({ alone: 'locked' })
    const locked = await signLockedBatch(db(), 'K2', opts)
    expect(locked.signed).toBe(1)
    expect(await fds('K2')).toEqual([1, 2, 3, 4, 5, 6])
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
    expect(report.ok).toBe(true)
  })
})
