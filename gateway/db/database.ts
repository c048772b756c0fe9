import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { PGliteDialect } from './pglite.dialect.js'
import type { Database } from './schema.js'

export interface DatabaseOptions {
  /** PostgreSQL URL; unset means embedded PGlite in `dataDir`. */
  url?: string | undefined
  dataDir: string
  poolSize?: number
}

export interface DatabaseHandle {
  db: Kysely<Database>
  kind: 'postgres' | 'pglite'
  /** The embedded database, for serving it over the wire to the CLI; null on PostgreSQL. */
  pglite: PGlite | null
  close(): Promise<void>
}

const INT8_OID = 20
// bigint columns hold kopecks and row ids, all below 2^53: read them as numbers.
const parseInt8 = (value: string): number => Number(value)

export async function openDatabase(options: DatabaseOptions): Promise<DatabaseHandle> {
  if (options.url) {
    const pool = new pg.Pool({
      connectionString: options.url,
      max: options.poolSize ?? 10,
      // Detect a dead server within seconds rather than at the OS default of hours.
      keepAlive: true,
      connectionTimeoutMillis: 5_000,
      types: { getTypeParser: (oid: number, format?: any) => (oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format)) },
    })
    // An idle client that loses its server emits 'error'; the next query reports it.
    pool.on('error', () => {})
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    return { db, kind: 'postgres', pglite: null, close: () => db.destroy() }
  }
  mkdirSync(options.dataDir, { recursive: true })
  const pglite = await PGlite.create(options.dataDir, { parsers: { [INT8_OID]: parseInt8 } })
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite) })
  return {
    db,
    kind: 'pglite',
    pglite,
    close: async () => {
      await db.destroy()
      await pglite.close()
    },
  }
}
