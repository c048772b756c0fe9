import { performance } from 'node:perf_hooks'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpServer } from '../../gateway/http/http.server.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { OPERATOR_TOKEN } from '../support/operator-api.js'
import { gatewayConfig, logger, provisionFleet } from '../support/system.js'

// The machines list at 10,000 machines and 100,000 sales today: every sort pages with a cursor,
// reading a row per machine (0008's rollup), never the sales table.
// The times are printed for the record (the machine is shared and noisy), not asserted.
describe('the machines list at 10,000 machines', () => {
  let database: TestDatabase
  let http: ReturnType<typeof createHttpServer>
  let base: string

  beforeAll(async () => {
    database = await createTestDatabase()
    const db = database.handle.db
    await provisionFleet(db, 1)
    await sql`insert into machines (id, kassa_id, number, address, place, time_zone, secret_hash, online, last_seen_at)
      select 'M-' || lpad(i::text, 5, '0'), 'K1', 'M' || i, 'г. Москва, ул. Тверская, д. ' || (i % 200), 'Этаж ' || (i % 9), 'Europe/Moscow', 'hmac-sha256$unused$x', i % 3 <> 0, now() - (i || ' s')::interval
      from generate_series(1, 10000) i`.execute(db)
    await sql`insert into sales (machine_id, sale_id, kassa_id, kind, items, payment_method, total, sold_at, state)
      select 'M-' || lpad((1 + i % 10000)::text, 5, '0'), 's' || i, 'K1', 'sale', '[]', 'card', 100 + i % 5000,
        -- Within the last hour, and all of it today in the kassa's time zone (closer together just after its midnight).
        now() - (i % 3600) * least(interval '1 second', (now() - (date_trunc('day', now() at time zone 'Europe/Moscow') at time zone 'Europe/Moscow')) / 3600), 'done'
      from generate_series(1, 100000) i`.execute(db)
    await sql`analyze`.execute(db)
    http = createHttpServer({ db, logger, config: gatewayConfig('mqtt://127.0.0.1:1'), readiness: () => ({ migrated: true, database: true, broker: false }) })
    base = `http://127.0.0.1:${await http.listen()}`
  }, 120_000)
  afterAll(async () => {
    await http?.close()
    await database?.drop()
  })

  const get = async (path: string) => {
    const t = performance.now()
    const r = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${OPERATOR_TOKEN}` } })
    const body = await r.json() as { items: { id: string; salesToday: number }[]; next: string | null }
    return { ms: performance.now() - t, body }
  }

  /** The median and the slowest of five fetches of one page: one sample on a shared machine says little. */
  const sample = async (path: string) => {
    const runs = []
    for (let i = 0; i < 5; i++) runs.push(await get(path))
    const ms = runs.map((r) => r.ms).sort((a, b) => a - b)
    return { body: runs[0]!.body, text: `${ms[2]!.toFixed(0)} (${ms[4]!.toFixed(0)})` }
  }

  it('pages every sort with a cursor, 100 a page, and prints what each page took', async () => {
    const timings: Record<string, string> = {}
    for (const sort of ['id', 'address', 'status', 'lastSeenAt', 'lastSaleAt', 'salesToday', 'revenueToday']) {
      await get(`/api/machines?sort=${sort}&limit=100`) // warm the plan cache
      const first = await sample(`/api/machines?sort=${sort}&dir=desc&limit=100`)
      const second = await sample(`/api/machines?sort=${sort}&dir=desc&limit=100&cursor=${first.body.next}`)
      expect(first.body.items).toHaveLength(100)
      expect(second.body.items).toHaveLength(100)
      expect(new Set([...first.body.items, ...second.body.items].map((m) => m.id)).size).toBe(200)
      timings[sort] = `${first.text} / ${second.text}`
    }
    const search = await sample('/api/machines?q=' + encodeURIComponent('тверская, д. 17') + '&status=online&limit=100')
    expect(search.body.items.length).toBeGreaterThan(0)
    timings.search = search.text
    const filtered = await sample('/api/machines?status=online&kassa=K1&alert=none&sort=revenueToday&dir=desc&limit=100')
    expect(filtered.body.items).toHaveLength(100)
    timings['online, K1, no alert, by revenue'] = filtered.text
    const top = await get('/api/machines?sort=salesToday&dir=desc&limit=1')
    expect(top.body.items[0]!.salesToday).toBe(10)
    console.info(`machines list at 10,000 machines, ms, median (slowest) of 5, first / second page: ${JSON.stringify(timings)}`)
  }, 120_000)
})
