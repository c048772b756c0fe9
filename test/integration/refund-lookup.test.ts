import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { refundOriginals, refundOriginalsQuery } from '../../gateway/fiscalizer/fiscal.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { pagesRead, tablePages } from '../support/pages.js'
import { provisionFleet, TEST_KASSA, type Credentials } from '../support/system.js'

// A refund is checked, under its FN's lock, against the sale it names: the machine's own sale,
// whether it is refunded already, or another machine's sale of that name. With a long history
// that check must stay a few key lookups.

const HISTORY = 20_000

describe('refund originals', () => {
  let database: TestDatabase
  let a: Credentials
  let b: Credentials
  const db = () => database.handle.db
  const lookup = (refunds: { machine_id: string; refund_of: string | null }[]) => db().transaction().execute((tx) => refundOriginals(tx, refunds))
  const store = (machineId: string, saleId: string, extra: { kind?: string; refundOf?: string; state?: string } = {}) => sql`
    insert into sales (machine_id, sale_id, kassa_id, kind, refund_of, items, payment_method, total, sold_at, state)
    values (${machineId}, ${saleId}, ${TEST_KASSA.id}, ${extra.kind ?? 'sale'}, ${extra.refundOf ?? null},
      ${JSON.stringify([{ sku: 'A1', name: 'Вода', price: 5000, qty: 1, vat: 'vat22' }])}::jsonb, 'card', 5000, now(), ${extra.state ?? 'done'})`.execute(db())

  beforeAll(async () => {
    database = await createTestDatabase()
    ;[a, b] = await provisionFleet(db(), 2) as [Credentials, Credentials]
    // Machine A's long history, written directly.
    await sql`insert into sales (machine_id, sale_id, kassa_id, kind, items, payment_method, total, sold_at, state)
      select ${a.id}, 'h-' || g, ${TEST_KASSA.id}, 'sale', '[{"sku":"A1","name":"Вода","price":5000,"qty":1,"vat":"vat22"}]'::jsonb, 'card', 5000, now(), 'done'
      from generate_series(1, ${HISTORY}) g`.execute(db())
    await store(a.id, 'a-1')
    await store(b.id, 'b-1')
    await sql`analyze sales`.execute(db())
  })

  afterAll(async () => {
    await database?.drop()
  })

  it('finds the machine\'s own sale, and whether it is refunded', async () => {
    const [own] = await lookup([{ machine_id: a.id, refund_of: 'a-1' }])
    expect(own).toMatchObject({ machine_id: a.id, sale_id: 'a-1', kind: 'sale', state: 'done', total: 5000, refunded: false })
    await store(a.id, 'r-1', { kind: 'refund', refundOf: 'a-1', state: 'done' })
    expect((await lookup([{ machine_id: a.id, refund_of: 'a-1' }]))[0]!.refunded).toBe(true)
  })

  it('tells another machine\'s sale from an unknown one', async () => {
    expect(await lookup([{ machine_id: a.id, refund_of: 'b-1' }])).toEqual([expect.objectContaining({ machine_id: b.id, sale_id: 'b-1' })])
    expect(await lookup([{ machine_id: a.id, refund_of: 'nobody-sold-this' }])).toEqual([])
    expect(await lookup([{ machine_id: a.id, refund_of: null }])).toEqual([])
  })

  it('reads a few pages whatever the history: the key, not the whole table or the machine\'s sales', async () => {
    expect(await tablePages(db(), 'sales')).toBeGreaterThan(500)
    expect(await pagesRead(db(), refundOriginalsQuery([{ machineId: a.id, saleId: 'a-1' }, { machineId: a.id, saleId: 'h-777' }]))).toBeLessThan(60)
  })
})
