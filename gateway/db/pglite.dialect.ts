import type { PGlite } from '@electric-sql/pglite'
import {
  CompiledQuery,
  PostgresAdapter,
  PostgresIntrospector,
  PostgresQueryCompiler,
  type DatabaseConnection,
  type Dialect,
  type Driver,
  type Kysely,
  type QueryResult,
  type TransactionSettings,
} from 'kysely'

/**
 * Turns at PGlite's one connection. Whoever holds a turn has the connection to itself, from its
 * BEGIN to its COMMIT when it runs a transaction: this process's queries (the driver below) and
 * the embedded server's clients (embedded-server.ts) take their turns here. Without the shared
 * turns, a client of the embedded server that disconnected while the gateway's batch transaction
 * was open rolled that transaction back (the server ends the transaction it believes is its
 * client's), and the gateway's COMMIT then committed nothing without an error: it published
 * receipts whose documents were gone and issued their numbers again
 * (test/integration/embedded-turns.test.ts).
 */
export class PGliteTurns {
  private queue: Promise<void> = Promise.resolve()

  /** Waits for the connection; call the returned function to hand it on. */
  async take(): Promise<() => void> {
    let release!: () => void
    const previous = this.queue
    this.queue = new Promise<void>((resolve) => { release = resolve })
    await previous
    return release
  }
}

/**
 * Kysely over embedded PGlite. PGlite is one connection, so the driver hands it to one user at a
 * time (PGliteTurns): a transaction holds it from BEGIN to COMMIT and other queries queue behind it.
 */
export class PGliteDialect implements Dialect {
  constructor(private readonly pglite: PGlite, private readonly turns: PGliteTurns) {}
  createAdapter() { return new PostgresAdapter() }
  createDriver(): Driver { return new PGliteDriver(this.pglite, this.turns) }
  createQueryCompiler() { return new PostgresQueryCompiler() }
  createIntrospector(db: Kysely<any>) { return new PostgresIntrospector(db) }
}

class PGliteDriver implements Driver {
  private readonly connection: PGliteConnection

  constructor(private readonly pglite: PGlite, private readonly turns: PGliteTurns) {
    this.connection = new PGliteConnection(pglite)
  }

  async init(): Promise<void> {}

  async acquireConnection(): Promise<DatabaseConnection> {
    this.connection.release = await this.turns.take()
    return this.connection
  }

  async releaseConnection(connection: DatabaseConnection): Promise<void> {
    ;(connection as PGliteConnection).release()
  }

  async beginTransaction(connection: DatabaseConnection, settings: TransactionSettings): Promise<void> {
    const level = settings.isolationLevel ? ` isolation level ${settings.isolationLevel}` : ''
    await connection.executeQuery(CompiledQuery.raw(`begin${level}`))
  }

  async commitTransaction(connection: DatabaseConnection): Promise<void> {
    // COMMIT outside a transaction is only a warning: a transaction ended by anyone else would
    // look committed with its work gone. Refused instead (kysely then reports the transaction failed).
    if (!this.pglite.isInTransaction()) throw new Error('GW_ERR_PGLITE_TX_ENDED: the transaction was ended before its COMMIT; nothing of it was committed')
    await connection.executeQuery(CompiledQuery.raw('commit'))
  }

  async rollbackTransaction(connection: DatabaseConnection): Promise<void> {
    await connection.executeQuery(CompiledQuery.raw('rollback'))
  }

  async destroy(): Promise<void> {}
}

class PGliteConnection implements DatabaseConnection {
  release: () => void = () => {}

  constructor(private readonly pglite: PGlite) {}

  async executeQuery<R>(compiled: CompiledQuery): Promise<QueryResult<R>> {
    const result = await this.pglite.query<R>(compiled.sql, [...compiled.parameters])
    const affected = result.affectedRows
    return affected === undefined
      ? { rows: result.rows }
      : { rows: result.rows, numAffectedRows: BigInt(affected) }
  }

  // eslint-disable-next-line require-yield
  async *streamQuery<R>(): AsyncIterableIterator<QueryResult<R>> {
    throw new Error('GW_ERR_PGLITE_STREAM: streaming queries are not supported on embedded PGlite')
  }
}
