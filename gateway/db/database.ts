import { mkdirSync } from 'node:fs'
import { PGlite } from '@electric-sql/pglite'
import { Kysely, PostgresDialect } from 'kysely'
import pg from 'pg'
import { asDataDirDamage, DataDirDamagedError, setAside } from './data-dir.damage.js'
import { acquireDataDir, type DataDirLock } from './data-dir.lock.js'
import { PGliteDialect, PGliteTurns } from './pglite.dialect.js'
import { PreparedClient } from './prepared-client.js'
import type { Database } from './schema.js'

export interface DatabaseOptions {
  /** PostgreSQL URL; unset means embedded PGlite in `dataDir`. */
  url?: string | undefined
  dataDir: string
  poolSize?: number
  /**
   * Prepare repeated statements once per connection (default true). Off for the CLI: it runs a
   * few statements, and through the embedded server (embedded-server.ts) every connection shares
   * one session, where the next run's statement of the same name would already exist.
   */
  prepare?: boolean
  /** Who opens an embedded directory (`npm start`…): what a process refused the directory is told. */
  role?: string
  /** Move an existing embedded directory aside (data-dir.damage.ts) and start with an empty one. */
  fresh?: boolean
  /**
   * Plan each prepared statement once, generically, on PostgreSQL (`plan_cache_mode`): for the
   * pools that store and sign sales. Their statements take arrays and JSON whose length a custom
   * plan knows and a generic plan guesses, so the server judged the generic plan dearer and planned
   * the sale insert and the batch write again at every execution: a quarter to a third of their
   * time in the database (pg_stat_statements, `npm run bench`). Their generic plans are the same
   * index lookups. Not for the console's pool, whose filters a custom plan can match to partial
   * indexes.
   */
  genericPlans?: boolean
}

export interface DatabaseHandle {
  db: Kysely<Database>
  kind: 'postgres' | 'pglite'
  /** The embedded database, for serving it over the wire to the CLI; null on PostgreSQL. */
  pglite: PGlite | null
  /** Turns at the embedded database's one connection, which its server's clients must take too; null on PostgreSQL. */
  turns: PGliteTurns | null
  /** The embedded directory's lock (data-dir.lock.ts), held until close; null on PostgreSQL. */
  lock: DataDirLock | null
  /** `err` as a DataDirDamagedError when it says the embedded directory's files cannot be read; else `err`. */
  explain(err: unknown): unknown
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
      // Prepares each repeated statement once per connection (prepared-client.ts).
      ...(options.prepare === false ? {} : { Client: PreparedClient }),
      // Detect a dead server within seconds rather than at the OS default of hours: without an
      // initial delay Node leaves the first probe to the OS (2 h on Linux).
      keepAlive: true,
      keepAliveInitialDelayMillis: 10_000,
      connectionTimeoutMillis: 5_000,
      // The FN claim is a row lock held by a transaction. A gateway that dies loses it as soon as
      // its connection closes; one that is cut off or frozen mid-transaction keeps it until the
      // server ends the session, which this bounds to 10 s. No transaction here waits on anything
      // but the database itself (ATOL calls happen after commit), so a live one never idles that long.
      idle_in_transaction_session_timeout: 10_000,
      ...(options.genericPlans ? { options: '-c plan_cache_mode=force_generic_plan' } : {}),
      types: { getTypeParser: (oid: number, format?: any) => (oid === INT8_OID ? parseInt8 : pg.types.getTypeParser(oid, format)) },
    })
    // An idle client that loses its server emits 'error'; the next query reports it.
    pool.on('error', () => {})
    // A client checked out of the pool has no 'error' listener: a connection lost between two
    // statements of a transaction would be an unhandled 'error' event and end the process (seen
    // in the chaos run, a database cut killed a gateway). The next query on it fails instead, and
    // the pool discards it on release.
    pool.on('connect', (client) => client.on('error', () => {}))
    const db = new Kysely<Database>({ dialect: new PostgresDialect({ pool }) })
    return { db, kind: 'postgres', pglite: null, turns: null, lock: null, explain: (err) => err, close: () => db.destroy() }
  }
  // The lock comes before anything touches the directory: a process refused it has opened nothing.
  const lock = await acquireDataDir(options.dataDir, options.role ?? 'another process')
  let pglite: PGlite
  const log: string[] = []
  try {
    const setAsideTo = options.fresh ? setAside(options.dataDir) : null
    if (setAsideTo) process.stderr.write(`moved ${options.dataDir} aside to ${setAsideTo}; starting with an empty database\n`)
    mkdirSync(options.dataDir, { recursive: true })
    // PostgreSQL's own log lines say what is wrong with damaged files; PGlite only aborts.
    pglite = await PGlite.create(options.dataDir, {
      parsers: { [INT8_OID]: parseInt8 },
      onStderr: (line) => { log.push(line); if (log.length > 50) log.shift(); return true },
    })
  } catch (err) {
    await lock.release()
    // A file-system refusal (permissions, a read-only disk) is not damage: moving the directory aside would not help.
    if ((err as NodeJS.ErrnoException).syscall) throw err
    throw asDataDirDamage(err, options.dataDir, log) ?? new DataDirDamagedError(options.dataDir, String(err), { cause: err })
  }
  const turns = new PGliteTurns()
  const db = new Kysely<Database>({ dialect: new PGliteDialect(pglite, turns) })
  return {
    db,
    kind: 'pglite',
    pglite,
    turns,
    lock,
    explain: (err) => asDataDirDamage(err, options.dataDir, log) ?? err,
    close: async () => {
      await db.destroy()
      await pglite.close()
      await lock.release()
    },
  }
}
