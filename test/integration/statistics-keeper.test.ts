import { sql } from 'kysely'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createStatisticsKeeper } from '../../gateway/db/statistics.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { provisionFleet } from '../support/system.js'

// With autovacuum off (as on this machine's PostgreSQL) nothing analyzes the gateway's tables, and
// a prepared statement keeps the plan it got while `sales` was empty: a hash of the whole table per
// batch. The keeper analyzes a table once it has doubled since its last ANALYZE.

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
})
