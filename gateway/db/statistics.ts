import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Database } from './schema.js'

/** The tables that grow with every sale, and the fleet the sale statements join. */
const TABLES = ['sales', 'fiscal_documents', 'display_outbox', 'machines', 'telemetry_history', 'rejected_messages'] as const

/**
 * Sample size of the keeper's ANALYZE (PostgreSQL samples 300 rows per unit): 9,000 rows instead
 * of the server's default 30,000. Its ANALYZE runs on the cores the sales need, in one burst, and
 * stalled every machine's receipts while it ran (the gateway's and the broker's event loops late by
 * 30–80 ms together with it in `npm run bench`); at 40,000 sales `analyze sales, fiscal_documents`
 * took 330–370 ms of the database's CPU at the default and 120–140 ms at 30. The plans it protects
 * are index lookups by key, which need row counts and distinct counts, not fine histograms.
 */
const STATISTICS_TARGET = 30

export interface StatisticsKeeperOptions {
  db: Kysely<Database>
  kind: 'postgres' | 'pglite'
  logger: Logger
  /** ms between two looks at how much each table changed (default 10,000). */
  intervalMs?: number
  /**
   * ms between the ANALYZE of one table and the next (default 100): one statement per table, so
   * the cores the sales need are taken for one table's ANALYZE at a time, not for all of them (in
   * `npm run bench` the longest ANALYZE statement took 296 ms of wall time with the tables together
   * and 161 ms alone, `sales` being most of it; pg_stat_statements).
   */
  pauseMs?: number
}

/**
 * Keeps the planner's statistics current where nothing else does. The gateway's batch statements
 * join a JSON recordset (estimated at 100 rows) to `sales`, and they are prepared: a generic plan
 * made while the table was nearly empty hashes the whole table for every batch, and only an
 * ANALYZE of the table makes the server plan again. Measured on a server with autovacuum off:
 * 7–12 ms a batch at 14,000 sales, against 0.3 ms with an index scan, and the database became the
 * limit at 250 sales/s. Autovacuum's ANALYZE normally prevents it; embedded PGlite has no
 * autovacuum, and a server may have it turned off. Then the gateway analyzes each of its tables
 * once it has grown by 50 rows + its whole size at the last ANALYZE (live rows against the
 * `reltuples` that ANALYZE recorded): at about 50, 150, 350, 750… rows, a number of runs that grows
 * with the log of the table, not with the sales. Growth, not changes: every sale is inserted and
 * then updated once (receipted), so counting changes (n_mod_since_analyze) analyzed `sales`
 * whenever it had grown by half, at every 10 s look at 1,000 sales/s in `npm run bench`, each time
 * 100–245 ms of a busy server (the PostgreSQL log). Autovacuum's 10% made it every 10–20 s at
 * 1,000 sales/s, each run sampling 30,000 rows of `sales`, `fiscal_documents` and `display_outbox`
 * on the cores the sales need, while the plans it protects (index lookups) stop changing once a
 * table is past a few hundred rows. On PGlite, whose counters do not move, every table once a
 * minute. VACUUM stays the operator's job.
 */
export async function createStatisticsKeeper(o: StatisticsKeeperOptions) {
  let needed = o.kind === 'pglite'
  if (!needed) {
    const row = await sql<{ setting: string }>`select setting from pg_settings where name = 'autovacuum'`.execute(o.db)
    needed = row.rows[0]?.setting !== 'on'
    if (needed) o.logger.warn('autovacuum is off on this server: the gateway runs ANALYZE on its own tables as they change; plan VACUUM yourself')
  }
  let timer: NodeJS.Timeout | null = null
  let running: Promise<void> | null = null

  let ticks = 0

  /** The tables that doubled since their last ANALYZE (reltuples is -1 before the first). */
  async function stale(): Promise<string[]> {
    // PGlite's counters do not move in its single-user mode: every table, every sixth look.
    if (o.kind === 'pglite') return ticks++ % 6 === 0 ? [...TABLES] : []
    const rows = await sql<{ relname: string }>`
      select t.relname from pg_stat_user_tables t join pg_class c on c.oid = t.relid
      where t.relname = any(${[...TABLES]}::text[]) and t.n_live_tup > 50 + 2 * greatest(c.reltuples, 0)`.execute(o.db)
    return rows.rows.map((r) => r.relname)
  }

  async function analyze(): Promise<string[]> {
    try {
      const tables = (await stale()).filter((t): t is (typeof TABLES)[number] => (TABLES as readonly string[]).includes(t))
      for (const [i, table] of tables.entries()) {
        if (i > 0) await new Promise((resolve) => setTimeout(resolve, o.pauseMs ?? 100))
        await o.db.transaction().execute(async (tx) => {
          await sql`set local default_statistics_target = ${sql.lit(STATISTICS_TARGET)}`.execute(tx)
          await sql.raw(`analyze ${table}`).execute(tx)
        })
      }
      return tables
    } catch (err) {
      o.logger.warn({ err }, 'ANALYZE failed; the planner keeps its previous statistics')
      return []
    }
  }

  function tick(): void {
    running ??= analyze().then(() => undefined).finally(() => { running = null })
  }

  return {
    needed,
    /** Analyzes the tables past the threshold now; returns their names. */
    analyze,
    start(): void {
      if (!needed || timer) return
      timer = setInterval(tick, o.intervalMs ?? 10_000)
      timer.unref()
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer)
      timer = null
      await running
    },
  }
}
