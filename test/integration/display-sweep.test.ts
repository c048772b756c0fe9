import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { claimDueDocuments } from '../../gateway/display/display-marks.repository.js'
import { claimDueDisplays, latestDisplays } from '../../gateway/display/outbox.repository.js'
import { signPendingBatch } from '../../gateway/fiscalizer/emulated.signer.js'
import { insertSales } from '../../gateway/ingest/sale.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet, type Credentials } from '../support/system.js'

// The sweeper's claims of displays committed and not acknowledged (gateway/display/): receipts
// above their FN's mark, and outbox rows. Every FN and every row due must come to a sweep in turn,
// with a backoff that holds however long a display stays unacknowledged; and a sale repeated gets
// its own receipt again, never another sale's.

const FN = { A: '9999078900003001', B: '9999078900003002' } as const
const SIGNING = { batchMax: 50, publicUrl: 'http://receipts.test', now: () => new Date() }

let database: TestDatabase
const machines: Record<string, Credentials> = {}
const db = () => database.handle.db

/** Each FN's mark row: sweeps so far, and seconds until its next sweep (negative: due). */
async function marks(): Promise<Record<string, { sweeps: number; dueInS: number }>> {
  const { rows } = await sql<{ fn: string; sweeps: number; due_in_s: number }>`
    select fn, sweeps, extract(epoch from sweep_at - now())::float8 as due_in_s from display_marks where fn = any(${Object.values(FN)}::text[])`.execute(db())
  return Object.fromEntries(rows.map((r) => [r.fn, { sweeps: r.sweeps, dueInS: r.due_in_s }]))
}

beforeAll(async () => {
  database = await createTestDatabase()
  for (const [i, id] of (['A', 'B'] as const).entries()) {
    const [m] = await provisionFleet(db(), 1, { prefix: `SW${i}-`, kassa: { id, fn: FN[id], reg: `000000000301234${i}` } })
    machines[id] = m!
    // A shift opening and three receipts, committed and never published: FDs 1-4 above the mark.
    await insertSales(db(), [sale(), sale(), sale()].map((event) => ({ machineId: m!.id, event, payload: new Uint8Array() })))
    expect((await signPendingBatch(db(), id, SIGNING)).signed).toBe(3)
  }
})

afterAll(async () => {
  await database?.drop()
})

describe('display sweeps', () => {
  it('takes only the FNs whose documents it returns: one FN\'s backlog filling the limit leaves the others due for the next sweep', async () => {
    // A has waited longer, so it comes first, and its four documents fill a limit of four.
    await sql`update display_marks set sweep_at = now() - interval '1 hour' where fn = ${FN.A}`.execute(db())
    await sql`update display_marks set sweep_at = now() - interval '1 minute' where fn = ${FN.B}`.execute(db())
    const first = await claimDueDocuments(db(), 0, 4)
    expect(first.map((d) => `${d.fn}/${d.fd}`)).toEqual([1, 2, 3, 4].map((fd) => `${FN.A}/${fd}`))
    expect(first.map((d) => d.display?.type ?? null)).toEqual([null, 'receipt', 'receipt', 'receipt'])
    const after = await marks()
    expect(after[FN.A]).toEqual({ sweeps: 1, dueInS: expect.closeTo(5, 0) })
    // B was not taken: no sweep counted, still due.
    expect(after[FN.B]!.sweeps).toBe(0)
    expect(after[FN.B]!.dueInS).toBeLessThan(0)
    const second = await claimDueDocuments(db(), 0, 4)
    expect(second.map((d) => `${d.fn}/${d.fd}`)).toEqual([1, 2, 3, 4].map((fd) => `${FN.B}/${fd}`))
    expect((await marks())[FN.B]).toEqual({ sweeps: 1, dueInS: expect.closeTo(5, 0) })
  })

  it('keeps sweeping an FN whose displays stay unacknowledged through many sweeps, every 5 minutes, and the others with it', async () => {
    // 41 sweeps: 5 s × 2^41 is past what an interval holds, which failed every sweep of every FN.
    await sql`update display_marks set sweeps = 41, sweep_at = now() - interval '1 hour' where fn = ${FN.A}`.execute(db())
    await sql`update display_marks set sweeps = 0, sweep_at = now() - interval '1 minute' where fn = ${FN.B}`.execute(db())
    const swept = await claimDueDocuments(db(), 0, 100)
    expect(swept.map((d) => `${d.fn}/${d.fd}`)).toEqual([
      ...[1, 2, 3, 4].map((fd) => `${FN.A}/${fd}`), ...[1, 2, 3, 4].map((fd) => `${FN.B}/${fd}`),
    ])
    expect(await marks()).toEqual({
      [FN.A]: { sweeps: 42, dueInS: expect.closeTo(300, 0) },
      [FN.B]: { sweeps: 1, dueInS: expect.closeTo(5, 0) },
    })
  })

  it('keeps resending an outbox display through many attempts, every 5 minutes, and the others with it', async () => {
    const m = machines.A!.id
    await sql`insert into display_outbox (machine_id, sale_id, payload, attempts, next_at) values
      (${m}, 'stuck', '{"v":1,"type":"rejected","saleId":"stuck","reason":"r"}', 41, now() - interval '1 hour'),
      (${m}, 'fresh', '{"v":1,"type":"rejected","saleId":"fresh","reason":"r"}', 0, now() - interval '1 second')`.execute(db())
    const claimed = await claimDueDisplays(db(), 10)
    expect(claimed.map((d) => d.saleId)).toEqual(['stuck', 'fresh'])
    const { rows } = await sql<{ sale_id: string; attempts: number; due_in_s: number }>`
      select sale_id, attempts, extract(epoch from next_at - now())::float8 as due_in_s from display_outbox where machine_id = ${m} order by id`.execute(db())
    expect(rows).toEqual([
      { sale_id: 'stuck', attempts: 42, due_in_s: expect.closeTo(300, 0) },
      { sale_id: 'fresh', attempts: 1, due_in_s: expect.closeTo(5, 0) },
    ])
  })

  it('answers a repeated sale with its own display, never the document another sale has under the same FN and number', async () => {
    // A cloud kassa's sale carries its provider's FN and number; here they are those of A's first
    // receipt, which belongs to another sale. Its own display is the outbox row.
    const [original] = (await sql<{ fn: string; fd: number; sale_id: string }>`
      select s.fn, s.fd, s.sale_id from sales s where s.kassa_id = 'A' and s.fd = 2`.execute(db())).rows
    const cloud = sale()
    const { inserted } = await insertSales(db(), [{ machineId: machines.B!.id, event: cloud, payload: new Uint8Array() }])
    await sql`update sales set state = 'done', fn = ${original!.fn}, fd = ${original!.fd} where id = ${inserted[0]!.id}`.execute(db())
    const own = { v: 1, type: 'rejected', saleId: cloud.saleId, reason: 'its own' }
    await sql`insert into display_outbox (machine_id, sale_id, payload, sent_at) values (${machines.B!.id}, ${cloud.saleId}, ${JSON.stringify(own)}, now())`.execute(db())
    const [answer, originals] = [
      await latestDisplays(db(), [{ machineId: machines.B!.id, saleId: cloud.saleId }]),
      await latestDisplays(db(), [{ machineId: machines.A!.id, saleId: original!.sale_id }]),
    ]
    expect(answer.map((d) => d.payload)).toEqual([own])
    expect(originals.map((d) => d.payload)).toEqual([expect.objectContaining({ type: 'receipt', saleId: original!.sale_id })])
  })
})
