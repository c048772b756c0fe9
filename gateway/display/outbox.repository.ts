import { sql, type Kysely, type Transaction } from 'kysely'
import type { DisplayMessage } from '../../protocol/index.js'
import { ASYNC_COMMIT, assertNotInTransaction } from '../db/async-commit.js'
import type { Database } from '../db/schema.js'
import type { DisplayRange } from './display-marks.repository.js'

export interface OutboxEntry {
  /** The outbox row; -1 for a display without one (a receipt of the emulated FN: see `range`; a direct answer). */
  id: number
  machineId: string
  saleId: string
  payload: DisplayMessage
  /** `payload` as JSON when already encoded (the text stored in the outbox): published as is. */
  text?: string
  /** ms since the sale was received, on the database's clock, when its receipt was written (metrics). */
  ageMs?: number
  /** A receipt of the emulated FN: acknowledged through its batch's documents (display-marks.repository.ts). */
  range?: DisplayRange
}

type NewEntry = Omit<OutboxEntry, 'id' | 'text' | 'ageMs' | 'range'>

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
      -- The exponent is capped before it multiplies: 5 s × 2^41 is past what an interval holds.
      next_at = now() + least(interval '5 seconds' * power(2, least(attempts, 6)), interval '5 minutes')
    where id in (
      select id from display_outbox where sent_at is null and next_at <= now()
      order by next_at limit ${limit} for update skip locked)
    returning id, machine_id, sale_id, payload`.execute(db)
  return rows.rows.map((r) => ({ id: r.id, machineId: r.machine_id, saleId: r.sale_id, payload: r.payload }))
}

/**
 * The display each of these sales got: its receipt's, stored with the document (emulated FN), or
 * else the last outbox row (a refusal, a cloud kassa's receipt). What a repeated sale gets again.
 */
export async function latestDisplays(
  db: Kysely<Database>,
  sales: readonly { machineId: string; saleId: string }[],
): Promise<OutboxEntry[]> {
  if (sales.length === 0) return []
  const rows = await sql<{ id: number; machine_id: string; sale_id: string; payload: DisplayMessage }>`
    with v as (select * from unnest(${sales.map((s) => s.machineId)}::text[], ${sales.map((s) => s.saleId)}::text[]) as v(m, s))
    select v.m as machine_id, v.s as sale_id, -1::bigint as id, d.display::jsonb as payload
    from v join sales s on s.machine_id = v.m and s.sale_id = v.s
    join fiscal_documents d on d.fn = s.fn and d.fd = s.fd and d.sale_row_id = s.id
    where d.display is not null
    union all
    select * from (
      select distinct on (o.machine_id, o.sale_id) o.machine_id, o.sale_id, o.id, o.payload
      from v join display_outbox o on o.machine_id = v.m and o.sale_id = v.s
      order by o.machine_id, o.sale_id, o.id desc) last`.execute(db)
  // A sale with both (a refusal before an FN-signed receipt cannot happen; a receipt wins anyway).
  const bySale = new Map<string, OutboxEntry>()
  for (const r of rows.rows) {
    const key = `${r.machine_id}\u0000${r.sale_id}`
    if (!bySale.has(key)) bySale.set(key, { id: r.id, machineId: r.machine_id, saleId: r.sale_id, payload: r.payload })
  }
  return [...bySale.values()]
}

/**
 * Displays committed and not yet acknowledged by the broker, all gateways: outbox rows unsent and
 * receipts above their FN's mark. Read on every scrape of /metrics, so each FN's documents are read
 * between its mark and its next number, through the primary key: in proportion to what is
 * unacknowledged. Joined without those bounds, the planner (taking a third of the documents to be
 * above the mark) read the whole table at every scrape: 16 ms at 18,000 documents, growing with
 * the kassas' history.
 */
export const unacknowledgedDisplaysQuery = sql<{ n: number }>`select
    (select count(*) from display_outbox where sent_at is null)::int
    + coalesce((select sum(above.n) from display_marks m join fiscal_drives f on f.fn = m.fn
        cross join lateral (select count(*) as n from fiscal_documents d
          where d.fn = m.fn and d.fd > m.through_fd and d.fd < f.next_fd and d.display is not null) above), 0)::int as n`

export function unacknowledgedDisplays(db: Kysely<Database>) {
  return unacknowledgedDisplaysQuery.execute(db)
}
