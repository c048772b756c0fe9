import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimKassas, writeBatches, type ClaimedBatch } from '../../gateway/fiscalizer/batch-commit.repository.js'
import { signClaimed, signLockedBatch, signPendingBatch } from '../../gateway/fiscalizer/emulated.signer.js'
import { createRoundSigner, type RoundOutcome } from '../../gateway/fiscalizer/fiscal-round.js'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'
import { insertSales } from '../../gateway/ingest/sale.repository.js'
import type { StoredSale } from '../../protocol/index.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet, TEST_KASSA, type Credentials } from '../support/system.js'

// A fiscalization round: the checked batches of several kassas claimed by one statement and
// written by one. Each kassa still gets its own batch, numbered in its own FN without gaps; a
// kassa another signer holds or moves is left out of the write, and the others are written.

const KASSAS = ['K1', 'K2', 'K3'] as const
/** Kassas of the tests of kicked sales, each its own FN from its first document. */
const KICKED = ['K4', 'K5', 'K6', 'K7', 'K8'] as const
/** Kassas of the test of a round that fails as a whole. */
const FAILING = ['K9', 'K10'] as const
const FNS: Record<string, string> = {
  K1: '9999078900001001', K2: '9999078900001002', K3: '9999078900001003', K4: '9999078900001004', K5: '9999078900001005', K6: '9999078900001006',
  K7: '9999078900001007', K8: '9999078900001008', K9: '9999078900001009', K10: '9999078900001010',
}

describe('fiscalization round', () => {
  let database: TestDatabase
  const machines: Record<string, Credentials> = {}
  const db = () => database.handle.db
  const opts = { batchMax: 100, publicUrl: 'http://receipts.test', now: () => new Date() }
  const store = (kassa: string, n: number, overrides = {}) =>
    insertSales(db(), Array.from({ length: n }, () => ({ machineId: machines[kassa]!.id, event: sale(overrides), payload: new Uint8Array() })))
  const fds = async (kassa: string) =>
    (await sql<{ fd: number }>`select fd from fiscal_documents where fn = ${FNS[kassa]!} order by fd`.execute(db())).rows.map((r) => r.fd)
  /** Each sale's state and number, and how many documents name it. */
  const saleDocs = async (ids: readonly number[]) => (await sql<{ state: string; fd: number; docs: number }>`
    select s.state, s.fd, (select count(*)::int from fiscal_documents d where d.sale_row_id = s.id) as docs
    from sales s where s.id = any(${ids}::bigint[]) order by s.id`.execute(db())).rows
  /**
   * A round signer of batches of `batchMax` that wrote `kassa` last (its first sale, claimed: FD 2),
   * holding `n` more sales kicked to it.
   */
  const backlogOf = async (kassa: string, batchMax: number, n: number) => {
    const small = { ...opts, batchMax }
    const rounds = createRoundSigner({ db: db(), ...small })
    await store(kassa, 1)
    expect(receiptFds(await rounds.sign(kassa))).toEqual([2])
    const kicked = await store(kassa, n)
    rounds.offer(kicked.inserted)
    return { small, rounds, kicked }
  }
  const receiptFds = (o: RoundOutcome) => ('batch' in o ? o.batch.displays.flatMap((d) => (d.payload.type === 'receipt' ? [d.payload.fiscal.fd] : [])) : [])

  beforeAll(async () => {
    database = await createTestDatabase()
    for (const [i, id] of [...KASSAS, ...KICKED, ...FAILING].entries()) {
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
    expect(rounds.stats).toEqual({ rounds: 1, kassas: 3, unclaimed: 0, ahead: 0 })
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
    expect(rounds.stats).toEqual({ rounds: 2, kassas: 2, unclaimed: 0, ahead: 0 })
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

  it('signs the sales a kick carried without a claim once it wrote the kassa, each sale once and gaplessly', async () => {
    const rounds = createRoundSigner({ db: db(), ...opts })
    const claimed = await store('K4', 1)
    rounds.offer(claimed.inserted)
    // No write of this process yet: the FN is read by a claim.
    expect(receiptFds(await rounds.sign('K4'))).toEqual([2])
    const kicked = await store('K4', 3)
    expect(kicked.inserted).toEqual(kicked.inserted.map((s) => expect.objectContaining({
      kassa_id: 'K4', machine_id: machines.K4!.id, sale_id: s.sale_id, number: expect.any(String), address: expect.any(String), place: expect.any(String),
    })))
    rounds.offer(kicked.inserted)
    const outcome = await rounds.sign('K4')
    expect(outcome).toEqual({ batch: expect.objectContaining({ claimed: true, taken: 3, signed: 3, kicked: true }) })
    expect(receiptFds(outcome)).toEqual([3, 4, 5])
    expect(rounds.stats).toEqual({ rounds: 2, kassas: 2, unclaimed: 1, ahead: 0 })
    expect(rounds.heldCount()).toBe(0)
    expect(await fds('K4')).toEqual([1, 2, 3, 4, 5])
    const rows = await sql<{ sale_id: string; state: string; fd: number }>`
      select sale_id, state, fd from sales where id = any(${kicked.inserted.map((s) => s.id)}::bigint[]) order by id`.execute(db())
    expect(rows.rows).toEqual(kicked.inserted.map((s, i) => ({ sale_id: s.sale_id, state: 'done', fd: 3 + i })))
    // Nothing left held: with no kicked sale, the next batch is claimed.
    const later = await store('K4', 1)
    expect(receiptFds(await rounds.sign('K4'))).toEqual([6])
    expect(rounds.stats.unclaimed).toBe(1)
    expect(later.inserted).toHaveLength(1)
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
  })

  it('writes nothing from a kicked copy the table does not hold as pending, and the claim signs what is', async () => {
    const rounds = createRoundSigner({ db: db(), ...opts })
    await store('K5', 1)
    expect(receiptFds(await rounds.sign('K5'))).toEqual([2])
    // The same kick again (a broker's redelivery, an owner and its backup both kicked): already receipted.
    const once = await store('K5', 1)
    rounds.offer(once.inserted)
    expect(receiptFds(await rounds.sign('K5'))).toEqual([3])
    rounds.offer(once.inserted)
    expect(await rounds.sign('K5')).toEqual({ alone: 'checked' })
    const fresh = await store('K5', 1)
    expect(receiptFds(await rounds.sign('K5'))).toEqual([4])
    const other = await store('K5', 1)
    // A copy whose amount differs from the stored sale's (a consistent one: the FN would sign it): never signed.
    rounds.offer(other.inserted.map((s) => ({
      ...s, items: s.items.map((it, i) => (i === 0 ? { ...it, price: it.price + 100 } : it)), total: s.total + 100 * s.items[0]!.qty,
    })))
    expect(await rounds.sign('K5')).toEqual({ alone: 'checked' })
    expect(await fds('K5')).toEqual([1, 2, 3, 4])
    // Forgotten: the next batch is claimed, and signs the stored sale as stored.
    const retry = await rounds.sign('K5')
    expect(receiptFds(retry)).toEqual([5])
    expect('batch' in retry && retry.batch.kicked).toBeFalsy()
    const totals = await sql<{ total: number; fd: number; doc_total: number; n: number }>`
      select s.total::int, s.fd, d.total::int as doc_total, (select count(*)::int from fiscal_documents x where x.sale_row_id = s.id) as n
      from sales s join fiscal_documents d on d.fn = s.fn and d.fd = s.fd where s.id = ${other.inserted[0]!.id}`.execute(db())
    expect(totals.rows).toEqual([{ total: other.inserted[0]!.total, fd: 5, doc_total: other.inserted[0]!.total, n: 1 }])
    expect(fresh.inserted).toHaveLength(1)
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
  })

  it('writes nothing from kicked sales once another signer moved the FN, and claims again every claimEveryMs', async () => {
    let now = 0
    const rounds = createRoundSigner({ db: db(), ...opts, claimEveryMs: 1000, clock: () => now })
    await store('K6', 1)
    const [first] = receiptFds(await rounds.sign('K6'))
    // Another signer (a locked batch, a shift closed by the timer) takes the next sale first.
    const taken = await store('K6', 1)
    expect((await signLockedBatch(db(), 'K6', opts)).signed).toBe(1)
    rounds.offer(taken.inserted)
    expect(await rounds.sign('K6')).toEqual({ alone: 'checked' })
    expect(await fds('K6')).toEqual([...Array.from({ length: first! + 1 }, (_, i) => i + 1)])

    // A sale no kick brought waits at most claimEveryMs while kicked ones keep coming.
    await store('K6', 1)
    expect(receiptFds(await rounds.sign('K6'))).toEqual([first! + 2])
    const unkicked = await store('K6', 1)
    const kicked = await store('K6', 1)
    rounds.offer(kicked.inserted)
    expect(await rounds.sign('K6')).toEqual({ batch: expect.objectContaining({ signed: 1, kicked: true }) })
    now += 1000
    const claimed = await rounds.sign('K6')
    expect(claimed).toEqual({ batch: expect.objectContaining({ signed: 1 }) })
    expect('batch' in claimed && claimed.batch.kicked).toBeFalsy()
    const state = await sql<{ state: string }>`select state from sales where id = ${unkicked.inserted[0]!.id}`.execute(db())
    expect(state.rows).toEqual([{ state: 'done' }])
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
  })

  it('holds at most heldMax kicked sales of a kassa and heldTotalMax in all, each once', () => {
    const rounds = createRoundSigner({ db: db(), ...opts, heldMax: 3, heldTotalMax: 5 })
    const row = (id: number, kassa: string): StoredSale => ({
      id, kassa_id: kassa, machine_id: 'VM-1', sale_id: `s-${id}`, kind: 'sale', refund_of: null,
      items: [{ sku: 'A1', name: 'Вода', price: 100, qty: 1, vat: 'vat22' }], payment_method: 'card', total: 100, number: '1', address: 'a', place: 'p',
    })
    rounds.offer([1, 2, 3, 4, 2].map((id) => row(id, 'X')))
    expect(rounds.heldCount()).toBe(3)
    rounds.offer([1, 2, 3, 4].map((id) => row(10 + id, 'Y')))
    expect(rounds.heldCount()).toBe(5)
    rounds.forget('X')
    expect(rounds.heldCount()).toBe(2)
    rounds.offer([row(1, 'X')])
    expect(rounds.heldCount()).toBe(3)
  })

  it('signs a backlog\'s next batch while the batch before is written, and writes it as signed, gaplessly', async () => {
    const { rounds, kicked } = await backlogOf('K7', 3, 7)
    // Three signed and written; meanwhile the next three are signed from the state that write commits.
    expect(receiptFds(await rounds.sign('K7'))).toEqual([3, 4, 5])
    expect(rounds.stats.ahead).toBe(0)
    const second = await rounds.sign('K7')
    expect(receiptFds(second)).toEqual([6, 7, 8])
    expect(rounds.stats.ahead).toBe(1)
    expect(second).toEqual({ batch: expect.objectContaining({ signed: 3, kicked: true, range: { fn: FNS.K7, from: 6, to: 8, left: 3 } }) })
    // One sale left: no full batch behind it, nothing signed ahead.
    expect(receiptFds(await rounds.sign('K7'))).toEqual([9])
    expect(rounds.stats.ahead).toBe(1)
    expect(rounds.heldCount()).toBe(0)
    expect(await fds('K7')).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9])
    expect(await saleDocs(kicked.inserted.map((s) => s.id))).toEqual(kicked.inserted.map((_, i) => ({ state: 'done', fd: 3 + i, docs: 1 })))
    // Each document's time is no later than the next one's: signed ahead, signed in order.
    const times = await sql<{ fd: number; signed_at: Date }>`select fd, signed_at from fiscal_documents where fn = ${FNS.K7!} order by fd`.execute(db())
    expect(times.rows.map((r) => r.signed_at.getTime())).toEqual(times.rows.map((r) => r.signed_at.getTime()).sort((a, b) => a - b))
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
  })

  it('never writes a batch signed ahead once another signer moved the FN: its sales are signed again, each once', async () => {
    const { small, rounds, kicked } = await backlogOf('K8', 2, 5)
    expect(receiptFds(await rounds.sign('K8'))).toEqual([3, 4])
    // Signed ahead for the next two; another signer takes them first, with the numbers they were signed under.
    expect((await signLockedBatch(db(), 'K8', small)).signed).toBe(2)
    expect(await fds('K8')).toEqual([1, 2, 3, 4, 5, 6])
    expect(await rounds.sign('K8')).toEqual({ alone: 'checked' })
    expect(rounds.stats.ahead).toBe(0)
    expect(rounds.heldCount()).toBe(0)
    // Forgotten: the last sale is claimed and signed after the other signer's documents.
    expect(receiptFds(await rounds.sign('K8'))).toEqual([7])
    expect(await fds('K8')).toEqual([1, 2, 3, 4, 5, 6, 7])
    expect(await saleDocs(kicked.inserted.map((s) => s.id))).toEqual([3, 4, 5, 6, 7].map((fd) => ({ state: 'done', fd, docs: 1 })))
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
  })

  it('leaves a batch with a refund to the kassa, to be signed locked', async () => {
    const [original] = (await store('K2', 1)).inserted
    const signed = await createRoundSigner({ db: db(), ...opts }).sign('K2')
    expect(receiptFds(signed)).toEqual([5])
    await store('K2', 1, { kind: 'refund', refundOf: original!.sale_id })
    expect(await createRoundSigner({ db: db(), ...opts }).sign('K2')).toEqual({ alone: 'locked' })
    const locked = await signLockedBatch(db(), 'K2', opts)
    expect(locked.signed).toBe(1)
    expect(await fds('K2')).toEqual([1, 2, 3, 4, 5, 6])
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
    expect(report.ok).toBe(true)
  })

  it('under load waits windowMs from the last round, gathering the kassas asking meanwhile; after a quiet spell starts at once', async () => {
    const windowMs = 1500
    const rounds = createRoundSigner({ db: db(), ...opts, windowMs })
    const pendingSales = async () => Number((await sql<{ n: string }>`select count(*) as n from sales where state = 'pending'`.execute(db())).rows[0]!.n)
    await store('K1', 1)
    const started = performance.now()
    expect(receiptFds(await rounds.sign('K1'))).toHaveLength(1)
    // The first round had nothing before it: it did not wait.
    expect(performance.now() - started).toBeLessThan(windowMs)
    expect(rounds.stats.rounds).toBe(1)

    // Asking within the window of that round, 30 ms apart: one round for both, after the window.
    await store('K2', 1)
    const k2 = rounds.sign('K2')
    await new Promise((r) => setTimeout(r, 30))
    expect(rounds.stats.rounds).toBe(1)
    await store('K3', 2)
    const k3 = rounds.sign('K3')
    expect(await pendingSales()).toBe(3)
    const [a, b] = await Promise.all([k2, k3])
    expect(rounds.stats.rounds).toBe(2)
    expect(receiptFds(a)).toHaveLength(1)
    expect(receiptFds(b)).toHaveLength(2)
    expect(await pendingSales()).toBe(0)
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
  })

  it('without a window starts the next round as soon as the last one ends', async () => {
    const rounds = createRoundSigner({ db: db(), ...opts })
    await store('K1', 1)
    await rounds.sign('K1')
    await store('K2', 1)
    const k2 = rounds.sign('K2')
    await new Promise((r) => setTimeout(r, 30))
    await store('K3', 1)
    await Promise.all([k2, rounds.sign('K3')])
    expect(rounds.stats.rounds).toBe(3)
  })

  it('hands every kassa of a round that fails as a whole to a batch of its own, where only the kassa at fault fails', async () => {
    // The database refuses K9's documents; the round's one write carries K10's batch too.
    await sql`create function refuse_k9() returns trigger language plpgsql as $$ begin raise exception 'K9 refused'; end $$`.execute(db())
    await sql`create trigger refuse_k9 before insert on fiscal_documents for each row when (new.fn = '9999078900001009') execute function refuse_k9()`.execute(db())
    try {
      await store('K9', 2)
      await store('K10', 1)
      const errors: { message: string; kassaIds: readonly string[] }[] = []
      const rounds = createRoundSigner({ db: db(), ...opts, onRoundError: (err, kassaIds) => errors.push({ message: (err as Error).message, kassaIds }) })
      const outcomes = await Promise.all(FAILING.map((k) => rounds.sign(k)))
      expect(outcomes).toEqual([{ alone: 'checked' }, { alone: 'checked' }])
      expect(errors).toEqual([{ message: 'K9 refused', kassaIds: ['K9', 'K10'] }])
      expect(await fds('K9')).toEqual([])
      expect(await fds('K10')).toEqual([])
      // What the fiscalizer does with those outcomes: each kassa's own checked batch.
      await expect(signPendingBatch(db(), 'K9', { ...opts, checked: true })).rejects.toThrow('K9 refused')
      expect((await signPendingBatch(db(), 'K10', { ...opts, checked: true })).signed).toBe(1)
      expect(await fds('K10')).toEqual([1, 2])
      expect(await fds('K9')).toEqual([])
    } finally {
      await sql`drop trigger refuse_k9 on fiscal_documents`.execute(db())
      await sql`drop function refuse_k9()`.execute(db())
    }
    // Its sales waited, pending, for the database to take them: signed once, gaplessly.
    expect((await signPendingBatch(db(), 'K9', { ...opts, checked: true })).signed).toBe(2)
    expect(await fds('K9')).toEqual([1, 2, 3])
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
  })
})
