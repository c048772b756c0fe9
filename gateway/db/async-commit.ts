import { sql } from 'kysely'

/**
 * A FROM item that turns off synchronous commit for the one statement it is part of (an
 * autocommit statement is its own transaction; `set_config(…, true)` lasts until its end).
 *
 * For writes that are safe to lose in a database crash: a stored sale is republished by its
 * machine until a display arrives, and a display's "sent" mark only saves a resend. Only the
 * fiscalization batch must be durable before its displays go out (docs/contract.md#delivery-guarantees),
 * and its synchronous commit flushes the WAL written before it as well. Measured
 * here: a durable commit waits ~0.7 ms for fsync at the median, ~14 ms at p99, and at 500 sales/s
 * the ingest INSERT waiting on WALSync was a fifth of the database's active time (scripts/bench).
 * Never inside a transaction that writes fiscal data: it would make that commit asynchronous too.
 */
export const ASYNC_COMMIT = sql`(select set_config('synchronous_commit', 'off', true))`

/** Throws when `db` is a transaction: ASYNC_COMMIT there would make the whole transaction's commit asynchronous. */
export function assertNotInTransaction(db: { isTransaction: boolean }, what: string): void {
  if (db.isTransaction) throw new Error(`${what} commits without fsync and must not run inside a transaction`)
}
