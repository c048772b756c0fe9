import { sql, type Kysely, type Transaction } from 'kysely'
import type { DisplayMessage } from '../../protocol/index.js'
import { ASYNC_COMMIT, assertNotInTransaction } from '../db/async-commit.js'
import type { Database } from '../db/schema.js'

export interface OutboxEntry {
  id: number
  machineId: string
  saleId: string
  payload: DisplayMessage
  /** `payload` as JSON when already encoded (the text stored in the outbox): published as is. */
  text?: string
  /** ms since the sale was received, on the database's clock, when its receipt was written (metrics). */
  ageMs?: number
}

type NewEntry = Omit<OutboxEntry, 'id' | 'text' | 'ageMs'>

/** Called inside the fiscalization transaction: the display exists exactly when the document does. */
export async function enqueueDisplays(tx: Transaction<Database>, entries: readonly NewEntry[]): Promise<OutboxEntry[]> {
  if (entries.length === 0) return []
  const rows = await tx
    .insertInto('display_outbox')
    .values(entries.map((e) => ({ machine_id: e.machineId, sale_id: e.saleId, payload: JSON.stringify(e.payload) })))
    .returning('id')
    .execute()
  return rows.map((r, i) => ({ ...entries[i]!, id: r.id }))
}

/** Committed without waiting for fsync: a mark lost in a crash only means the display is sent again. */
export async function markSent(db: Kysely<Database>, ids: readonly number[]): Promise<void> {
  assertNotInTransaction(db, 'markSent')
  if (ids.length === 0) return
  await sql`update display_outbox set sent_at = now() from ${ASYNC_COMMIT} as async_commit
    where id = any(${[...ids]}::bigint[])`.execute(db)
}

/**
 * Takes unsent displays whose publisher did not confirm them in time (it crashed, or the broker
 * was away) and pushes their next try back with backoff, so two gateways rarely resend the same one.
 */
export async function claimDueDisplays(db: Kysely<Database>, limit: number): Promise<OutboxEntry[]> {
  const rows = await sql<{ id: number; machine_id: string; sale_id: string; payload: DisplayMessage }>`
    update display_outbox set attempts = attempts + 1,
      next_at = now() + least(interval '5 seconds' * power(2, attempts), interval '5 minutes')
    where id in (
      select id from display_outbox where sent_at is null and next_at <= now()
      order by next_at limit ${limit} for update skip locked)
    returning id, machine_id, sale_id, payload`.execute(db)
  return rows.rows.map((r) => ({ id: r.id, machineId: r.machine_id, saleId: r.sale_id, payload: r.payload }))
}

/** The last display stored for each of these sales: what a repeated sale gets again. */
export async function latestDisplays(
  db: Kysely<Database>,
  sales: readonly { machineId: string; saleId: string }[],
): Promise<OutboxEntry[]> {
  if (sales.length === 0) return []
  const rows = await sql<{ id: number; machine_id: string; sale_id: string; payload: DisplayMessage }>`
    select distinct on (o.machine_id, o.sale_id) o.id, o.machine_id, o.sale_id, o.payload
    from jsonb_to_recordset(${JSON.stringify(sales.map((s) => ({ m: s.machineId, s: s.saleId })))}::jsonb) as v(m text, s text)
    join display_outbox o on o.machine_id = v.m and o.sale_id = v.s
    order by o.machine_id, o.sale_id, o.id desc`.execute(db)
  return rows.rows.map((r) => ({ id: r.id, machineId: r.machine_id, saleId: r.sale_id, payload: r.payload }))
}
