import { sql } from 'kysely'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStatisticsKeeper } from '../../gateway/db/statistics.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { insertSales } from '../../gateway/ingest/sale.repository.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet } from '../support/system.js'

// With autovacuum off (as on this machine's PostgreSQL) nothing analyzes the gateway's tables, and
// a prepared statement keeps the plan it got while `sales` was empty: a hash of the whole table per
// batch. The keeper analyzes a table once it has doubled since its last ANALYZE: grown, not
// changed, since every sale is inserted and then updated once when it is receipted.

describe('statistics keeper', () => {
  let database: TestDatabase

  beforeAll(async () => {
    database = await createTestDatabase()
  })

  afterAll(async () => {
    await database?.drop()
  })

  it('analyzes the tables that changed past the threshold, and only those', async () => {
    const db = database.handle.db
    const autovacuum = (await sql<{ setting: string }>`select setting from pg_settings where name = 'autovacuum'`.execute(db)).rows[0]!.setting
    const keeper = await createStatisticsKeeper({ db, kind: 'postgres', logger: pino({ level: 'silent' }) })
    expect(keeper.needed).toBe(autovacuum !== 'on')

    await provisionFleet(db, 200) // 200 machines: past 50 + the empty table it was
    const changed = async () => (await sql<{ n: number }>`select n_mod_since_analyze::int as n from pg_stat_user_tables where relname = 'machines'`.execute(db)).rows[0]!.n
    // The server's counters reach pg_stat_user_tables when the writing session reports them.
    for (let i = 0; i < 100 && (await changed()) < 200; i++) await new Promise((r) => setTimeout(r, 100))
    expect(await changed()).toBeGreaterThanOrEqual(200)

    const analyzed = await keeper.analyze()
    expect(analyzed).toContain('machines')
    expect(analyzed).not.toContain('sales') // nothing sold yet
    const stats = await sql<{ reltuples: number }>`select reltuples::int as reltuples from pg_class where relname = 'machines'`.execute(db)
    expect(stats.rows[0]!.reltuples).toBe(200)
    expect(await keeper.analyze()).toEqual([])
  })

  it('keeps no statistics on the large columns no query filters by, and keeps them on the ones the plans use', async () => {
    const db = database.handle.db
    const machines = await provisionFleet(db, 3, { prefix: 'ST-', kassa: { id: 'K-ST', fn: '9999078900007777', reg: '0000000001017777' } })
    const soldAt = (i: number) => new Date(Date.now() - i * 1000).toISOString()
    await insertSales(db, Array.from({ length: 300 }, (_, i) => ({ machineId: machines[i % 3]!.id, event: sale({ at: soldAt(i) }), payload: new Uint8Array() })))
    const keeper = await createStatisticsKeeper({ db, kind: 'postgres', logger: pino({ level: 'silent' }) })
    const changed = async () => (await sql<{ n: number }>`select n_mod_since_analyze::int as n from pg_stat_user_tables where relname = 'sales'`.execute(db)).rows[0]!.n
    for (let i = 0; i < 100 && (await changed()) < 300; i++) await new Promise((r) => setTimeout(r, 100))
    expect(await keeper.analyze()).toContain('sales')
    // The keeper samples 9,000 rows (target 30): a histogram of at most 31 bounds where the server's default makes 101.
    const bounds = await sql<{ n: number }>`select cardinality(histogram_bounds::text::text[])::int as n from pg_stats where tablename = 'sales' and attname = 'sold_at'`.execute(db)
    expect(bounds.rows[0]!.n).toBeGreaterThan(10)
    expect(bounds.rows[0]!.n).toBeLessThanOrEqual(31)
    const columns = await sql<{ attname: string }>`select attname from pg_stats where tablename = 'sales' and schemaname = 'public'`.execute(db)
    const withStatistics = columns.rows.map((r) => r.attname)
    expect(withStatistics).toEqual(expect.arrayContaining(['kassa_id', 'machine_id', 'state', 'sold_at']))
    expect(withStatistics).not.toContain('items')
    expect(withStatistics).not.toContain('last_error')
    const targets = await sql<{ relname: string; attname: string; target: number }>`
      select c.relname, a.attname, a.attstattarget::int as target from pg_attribute a join pg_class c on c.oid = a.attrelid
      where c.relname in ('sales', 'fiscal_documents') and a.attnum > 0 and a.attstattarget = 0 order by 1, 2`.execute(db)
    expect(targets.rows.map((r) => `${r.relname}.${r.attname}`)).toEqual([
      'fiscal_documents.display', 'fiscal_documents.fp', 'fiscal_documents.tlv', 'sales.declared', 'sales.items', 'sales.last_error',
    ])
  })

  it('counts growth, not changes: updating every sale analyzes nothing, doubling them analyzes sales', async () => {
    const db = database.handle.db
    const machines = await provisionFleet(db, 2, { prefix: 'GR-', kassa: { id: 'K-GR', fn: '9999078900007778', reg: '0000000001017778' } })
    const store = (n: number) => insertSales(db, Array.from({ length: n }, (_, i) => ({ machineId: machines[i % 2]!.id, event: sale(), payload: new Uint8Array() })))
    const keeper = await createStatisticsKeeper({ db, kind: 'postgres', logger: pino({ level: 'silent' }) })
    const counters = async () => (await sql<{ live: number; changed: number }>`
      select n_live_tup::int as live, n_mod_since_analyze::int as changed from pg_stat_user_tables where relname = 'sales'`.execute(db)).rows[0]!
    const reported = async (ok: (c: { live: number; changed: number }) => boolean) => {
      for (let i = 0; i < 100 && !ok(await counters()); i++) await new Promise((r) => setTimeout(r, 100))
      expect(ok(await counters())).toBe(true)
    }
    await store(120)
    await reported((c) => c.live >= 120)
    await keeper.analyze()
    const analyzedAt = (await sql<{ n: number }>`select reltuples::int as n from pg_class where relname = 'sales'`.execute(db)).rows[0]!.n
    expect(analyzedAt).toBeGreaterThanOrEqual(120)

    // As many changes as rows, as when each sale is receipted: no growth.
    await sql`update sales set last_error = null`.execute(db)
    await reported((c) => c.changed >= analyzedAt)
    expect(await keeper.analyze()).not.toContain('sales')

    // Grown by 50 + the size at the last ANALYZE: analyzed again.
    await store(analyzedAt + 51)
    await reported((c) => c.live >= 2 * analyzedAt + 51)
    expect(await keeper.analyze()).toContain('sales')
    expect(await keeper.analyze()).not.toContain('sales')
  })
})
