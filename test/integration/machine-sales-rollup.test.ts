import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { insertSales } from '../../gateway/ingest/sale.repository.js'
import { MACHINE_SORTS, searchMachines } from '../../gateway/operator/machine-search.repository.js'
import { listMachineStates } from '../../gateway/operator/machine-state.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet, TEST_KASSA } from '../support/system.js'

// The per-machine sales figures the database keeps as sales are stored (migration 0008) must be
// what the sales themselves say: the machines list sorts by them and shows the figures of sales.
describe('the per-machine sales rollup behind the machines list', () => {
  let database: TestDatabase
  // 23:30 in Moscow on 6 December, 06:30 on 7 December in Vladivostok: two "todays" at once.
  const now = new Date('2026-12-06T20:30:00Z')
  const at = (iso: string) => new Date(iso).toISOString()
  const db = () => database.handle.db

  beforeAll(async () => {
    database = await createTestDatabase()
    await provisionFleet(db(), 3)
    await runFleetCommand(db(), 'add-kassa', { ...TEST_KASSA, id: 'K3', fn: '9999078900007777', tz: 'Asia/Vladivostok' })
    await runFleetCommand(db(), 'add-machine', { id: 'VL-001', kassa: 'K3', address: 'г. Владивосток, ул. Светланская, 1', place: 'Вокзал' })
    const item = (price: number, qty = 1) => [{ sku: 'A1', name: 'Вода', price, qty, vat: 'vat22' as const }]
    const first = [
      { machineId: 'VM-001', event: sale({ saleId: 'a1', at: at('2026-12-06T08:00:00Z'), items: item(10000) }) },
      { machineId: 'VM-001', event: sale({ saleId: 'a2', at: at('2026-12-06T20:00:00Z'), items: item(2500, 2) }) },
      // Yesterday in Moscow: not today's.
      { machineId: 'VM-002', event: sale({ saleId: 'b1', at: at('2026-12-05T20:59:00Z'), items: item(7000) }) },
      { machineId: 'VM-002', event: sale({ saleId: 'b2', at: at('2026-12-06T10:00:00Z'), items: item(4000) }) },
      // 07:10 on the 6th in Vladivostok: yesterday there now; the next two are 01:00 and 02:00 on the 7th.
      { machineId: 'VL-001', event: sale({ saleId: 'v1', at: at('2026-12-05T21:10:00Z'), items: item(3000) }) },
      { machineId: 'VL-001', event: sale({ saleId: 'v2', at: at('2026-12-06T15:00:00Z'), items: item(9000) }) },
    ]
    const second = [
      // A repeat of a stored sale is not counted again.
      first[0]!,
      { machineId: 'VM-001', event: sale({ saleId: 'a3', kind: 'refund', refundOf: 'a2', at: at('2026-12-06T20:05:00Z'), items: item(2500, 2) }) },
      { machineId: 'VM-003', event: sale({ saleId: 'c1', at: at('2026-12-06T12:00:00Z'), items: item(15000) }) },
      { machineId: 'VM-003', event: sale({ saleId: 'c2', at: at('2026-12-06T13:00:00Z'), items: item(500) }) },
      { machineId: 'VL-001', event: sale({ saleId: 'v3', at: at('2026-12-06T16:00:00Z'), items: item(1000) }) },
    ]
    for (const batch of [first, second]) await insertSales(db(), batch.map((s) => ({ ...s, payload: new Uint8Array() })))
    // After storing: a sale that fails, a refund aligned to another total, a failure that a later fix undoes.
    await sql`update sales set state = 'failed' where sale_id = 'c1'`.execute(db())
    await sql`update sales set total = 4000 where sale_id = 'a3'`.execute(db())
    await sql`update sales set state = 'failed' where sale_id = 'v3'`.execute(db())
    await sql`update sales set state = 'pending' where sale_id = 'v3'`.execute(db())
    await sql`update sales set state = 'done' where sale_id in ('a1', 'a2', 'b2')`.execute(db())
    await sql`update machines set last_seen_at = ${new Date('2026-12-06T20:20:00Z')} where id = 'VM-002'`.execute(db())
  }, 60_000)
  afterAll(async () => { await database?.drop() })

  it('holds per machine and day what the sales hold, after failures and aligned totals', async () => {
    const fromSales = await sql<{ machine_id: string; day: string; sales: number; refunds: number; revenue: string }>`
      select s.machine_id, (s.sold_at at time zone k.time_zone)::date::text as day,
             count(*) filter (where s.kind = 'sale' and s.state <> 'failed')::int as sales,
             count(*) filter (where s.kind = 'refund' and s.state <> 'failed')::int as refunds,
             coalesce(sum(case when s.kind = 'sale' then s.total else -s.total end) filter (where s.state <> 'failed'), 0)::text as revenue
      from sales s join kassas k on k.id = s.kassa_id group by 1, 2 order by 1, 2`.execute(db())
    const rollup = await sql`
      select machine_id, day::text as day, sum(sales)::int as sales, sum(refunds)::int as refunds, sum(revenue)::text as revenue
      from (select * from machine_sales_days union all select * from machine_sales_day_fixes) r group by 1, 2 order by 1, 2`.execute(db())
    expect(rollup.rows).toEqual(fromSales.rows)
    expect(fromSales.rows.find((r) => r.machine_id === 'VM-001')).toMatchObject({ sales: 2, refunds: 1, revenue: String(10000 + 5000 - 4000) })
  })

  it('sorts every column by the figures the list shows, both ways', async () => {
    const states = new Map((await listMachineStates(db(), now, { limit: 100 })).map((m) => [m.id, m]))
    const value = (id: string, sort: string): number => {
      const m = states.get(id)!
      switch (sort) {
        case 'lastSeenAt': return m.lastSeenAt ? new Date(m.lastSeenAt).getTime() : 0
        case 'lastSaleAt': return m.lastSaleAt ? new Date(m.lastSaleAt).getTime() : 0
        case 'salesToday': return m.salesToday
        default: return Number(m.revenueToday)
      }
    }
    expect([...states.values()].map((m) => [m.id, m.salesToday, Number(m.revenueToday)])).toEqual([
      ['VL-001', 2, 10000], ['VM-001', 2, 11000], ['VM-002', 1, 4000], ['VM-003', 1, 500],
    ])
    for (const sort of ['lastSeenAt', 'lastSaleAt', 'salesToday', 'revenueToday'] as const) {
      expect(MACHINE_SORTS).toContain(sort)
      for (const desc of [false, true]) {
        const keys = await searchMachines(db(), now, { alertCounts: {}, sort, desc, limit: 10 })
        const expected = [...states.keys()].sort((a, b) => (value(a, sort) - value(b, sort) || (a < b ? -1 : 1)) * (desc ? -1 : 1))
        expect(keys.map((k) => k.id), `${sort} ${desc ? 'desc' : 'asc'}`).toEqual(expected)
        expect(keys.map((k) => Math.floor(Number(k.v)))).toEqual(expected.map((id) => value(id, sort)))
      }
    }
  })
})
