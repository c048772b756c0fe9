import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type DatabaseHandle } from '../../gateway/db/database.js'
import { serveEmbedded } from '../../gateway/db/embedded-server.js'

// The embedded database has one connection, shared by this process's queries and the clients of
// its wire-protocol server (`npm run fleet` while `npm start` runs). Each takes its turn: a client
// never runs inside this process's transaction, nor this process inside a client's, and a client
// leaving never ends a transaction that is not its own. Before, a client that disconnected while a
// fiscalization batch's transaction was open rolled the batch back, and its COMMIT then succeeded
// with nothing to commit: receipts published for documents that were gone, their numbers issued
// again (seen as two documents with one number in the one-data-dir e2e test under load).

describe('embedded database: turns at its one connection', () => {
  const root = mkdtempSync(join(tmpdir(), 'vt-turns-'))
  let handle: DatabaseHandle
  let server: { url: string; stop(): Promise<void> }
  const rows = async () => (await sql<{ x: number }>`select x from t order by x`.execute(handle.db)).rows.map((r) => r.x)
  const client = async () => { const c = new pg.Client({ connectionString: server.url }); await c.connect(); return c }

  beforeAll(async () => {
    handle = await openDatabase({ dataDir: join(root, 'data'), role: 'test' })
    server = await serveEmbedded(handle.pglite!, handle.turns!, handle.lock!)
    await sql`create table t (x int)`.execute(handle.db)
  })

  afterAll(async () => {
    await server?.stop()
    await handle?.close()
    rmSync(root, { recursive: true, force: true })
  })

  it('keeps a transaction of this process whole while a client comes, reads and leaves', async () => {
    const c = await client()
    let seen: Promise<number> | undefined
    await handle.db.transaction().execute(async (tx) => {
      await sql`insert into t values (1)`.execute(tx)
      // The client's read and its disconnect happen while the transaction is open.
      seen = c.query<{ n: number }>('select count(*)::int as n from t').then(async (r) => { await c.end(); return r.rows[0]!.n })
      await new Promise((resolve) => setTimeout(resolve, 300))
      await sql`insert into t values (2)`.execute(tx)
    })
    // The client read after the commit: never the half-done transaction.
    expect(await seen).toBe(2)
    expect(await rows()).toEqual([1, 2])
  })

  it("runs none of this process's statements inside a client's open transaction, and keeps them when the client leaves", async () => {
    const c = await client()
    await c.query('begin')
    await c.query('insert into t values (10)')
    const order: string[] = []
    // This process's write waits for the client's transaction instead of joining it.
    const ours = sql`insert into t values (3)`.execute(handle.db).then(() => order.push('ours'))
    await new Promise((resolve) => setTimeout(resolve, 300))
    order.push('client leaves')
    await c.end()
    await ours
    expect(order).toEqual(['client leaves', 'ours'])
    // The client's uncommitted insert was rolled back at its disconnect; this process's was committed.
    expect(await rows()).toEqual([1, 2, 3])
  })

  it("commits a client's transaction as the client's", async () => {
    const c = await client()
    await c.query('begin')
    await c.query('insert into t values (20)')
    const ours = sql`insert into t values (4)`.execute(handle.db)
    await c.query('commit')
    await ours
    await c.end()
    expect(await rows()).toEqual([1, 2, 3, 4, 20])
  })

  it('fails a transaction that something else ended before its COMMIT, instead of committing nothing', async () => {
    const attempt = handle.db.transaction().execute(async (tx) => {
      await sql`insert into t values (5)`.execute(tx)
      // What a client's disconnect did before the turns: a rollback from outside this connection's user.
      await handle.pglite!.exec('rollback')
      await sql`insert into t values (6)`.execute(tx)
    })
    await expect(attempt).rejects.toThrow(/GW_ERR_PGLITE_TX_ENDED/)
    expect(await rows()).not.toContain(5)
  })
})
