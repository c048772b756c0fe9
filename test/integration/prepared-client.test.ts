import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type DatabaseHandle } from '../../gateway/db/database.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

// Statements repeated by the gateway are prepared once per connection (gateway/db/prepared-client.ts);
// a table that changes under a prepared `select *` costs one failed try, not a stuck statement.

let tdb: TestDatabase
let one: DatabaseHandle

beforeAll(async () => {
  tdb = await createTestDatabase()
  one = await openDatabase({ url: tdb.url, dataDir: '', poolSize: 1 }) // one connection: its prepared statements are visible
})

afterAll(async () => {
  await one?.close()
  await tdb?.drop()
})

/** The pattern is a parameter, so this statement's own text does not match it. */
const prepared = async () =>
  (await sql<{ n: number }>`select count(*)::int as n from pg_prepared_statements where statement like ${'%prepared_probe%'}`.execute(one.db)).rows[0]!.n

describe('prepared statements', () => {
  it('prepares a parameterised statement the second time it runs, and reuses it', async () => {
    const run = (x: number) => sql<{ v: number }>`select ${x}::int + 1 as v /* prepared_probe */`.execute(one.db)
    expect((await run(1)).rows[0]!.v).toBe(2)
    expect(await prepared()).toBe(0)
    for (let i = 2; i < 6; i++) expect((await run(i)).rows[0]!.v).toBe(i + 1)
    expect(await prepared()).toBe(1)
  })

  it('gets past a table that changed under a prepared select * with one failed try', async () => {
    await sql`create table stale_probe (a int)`.execute(one.db)
    await sql`insert into stale_probe values (1)`.execute(one.db)
    const read = () => sql<Record<string, number>>`select * from stale_probe where a = ${1}`.execute(one.db)
    for (let i = 0; i < 3; i++) await read()
    await sql`alter table stale_probe add column b int default 7`.execute(one.db)
    const rows = await read().catch(() => read()) // the caller's retry, as the fiscalizer and ingest retry
    expect(rows.rows).toEqual([{ a: 1, b: 7 }])
  })
})
