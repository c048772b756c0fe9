import { sql, type Kysely } from 'kysely'
import { escapeUnprintable, saleContent, saleContentKey, saleTotal, type SaleContent, type SaleEvent, type SaleItem, type StoredSale } from '../../protocol/index.js'
import { ASYNC_COMMIT, assertNotInTransaction } from '../db/async-commit.js'
import type { Database, SaleState } from '../db/schema.js'

export interface IncomingSale {
  machineId: string
  event: SaleEvent
  /** The bytes as they came: kept with a conflict. */
  payload: Uint8Array
}

export interface InsertOutcome {
  /** Newly stored sales, each as its row with the kassa its machine maps to, as a receipt needs it. */
  inserted: StoredSale[]
  /** Sales seen before with the same content, with their state now and that content's key. */
  repeated: { machineId: string; saleId: string; state: SaleState; contentKey: string }[]
  /** Repeats of a (machine, saleId) with other content: refused with reason `conflict`. */
  conflicts: { sale: IncomingSale; rowId: number; state: SaleState; stored: SaleContent }[]
  /** Sales from machines that are not provisioned. */
  unknownMachine: { machineId: string; saleId: string }[]
}

const key = (machineId: string, saleId: string) => `${machineId}\u0000${saleId}`

/**
 * Stores a batch of sales in one statement: an idempotent insert on (machine_id, sale_id), the
 * kassa taken from the machine's mapping in the same statement. Whatever was not inserted is
 * classified by a second query, which only runs when there are repeats or strangers. Committed
 * without waiting for fsync (ASYNC_COMMIT: a sale lost in a crash is republished by its machine),
 * so call it outside any transaction.
 */
export async function insertSales(db: Kysely<Database>, sales: readonly IncomingSale[]): Promise<InsertOutcome> {
  assertNotInTransaction(db, 'insertSales')
  // Only the first copy of each sale goes into the statement, so the copy stored is known to be
  // that one (the order the database meets duplicates in is not ours to rely on); later copies
  // are compared with it below, as repeats or conflicts.
  const seen = new Set<string>()
  const firsts = sales.filter((s) => !seen.has(key(s.machineId, s.event.saleId)) && seen.add(key(s.machineId, s.event.saleId)))
  const rows = firsts.map(({ machineId, event }) => ({
    machine_id: machineId,
    sale_id: event.saleId,
    kind: event.kind,
    refund_of: event.refundOf ?? null,
    items: event.items,
    payment_method: event.payment.method,
    total: saleTotal(event.items),
    sold_at: event.at,
  }))
  // `m.id = any(…)`: with the join to the recordset alone (estimated at 100 rows) the planner
  // hashed the whole machines table for every chunk, 2 ms of the database's CPU at 10,000 machines.
  // The row's id and its machine's number, address and place come back with it, so that the
  // kick can carry each sale as its receipt needs it (protocol/stored-kick.ts); the rest is the
  // content just written.
  const inserted = await sql<{ id: string; machine_id: string; sale_id: string; kassa_id: string; number: string; address: string; place: string }>`
    with added as (
      insert into sales (machine_id, sale_id, kassa_id, kind, refund_of, items, payment_method, total, sold_at)
      select v.machine_id, v.sale_id, m.kassa_id, v.kind, v.refund_of, v.items, v.payment_method, v.total, v.sold_at
      from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(
        machine_id text, sale_id text, kind text, refund_of text, items jsonb,
        payment_method text, total bigint, sold_at timestamptz)
      join machines m on m.id = v.machine_id and m.id = any(${[...new Set(firsts.map((s) => s.machineId))]}::text[])
      cross join ${ASYNC_COMMIT} as async_commit
      on conflict (machine_id, sale_id) do nothing
      returning id, machine_id, sale_id, kassa_id
    )
    select a.id, a.machine_id, a.sale_id, a.kassa_id, m.number, m.address, m.place
    from added a join machines m on m.id = a.machine_id
    order by a.id`.execute(db)

  const content = new Map(rows.map((r) => [key(r.machine_id, r.sale_id), r]))
  const outcome: InsertOutcome = {
    inserted: inserted.rows.map((r) => {
      const c = content.get(key(r.machine_id, r.sale_id))!
      return {
        id: Number(r.id), kassa_id: r.kassa_id, machine_id: r.machine_id, sale_id: r.sale_id, kind: c.kind, refund_of: c.refund_of,
        items: c.items, payment_method: c.payment_method, total: c.total, number: r.number, address: r.address, place: r.place,
      }
    }),
    repeated: [],
    conflicts: [],
    unknownMachine: [],
  }
  if (outcome.inserted.length === sales.length) return outcome

  // The first copy of each inserted sale is the one stored; any further copy is a repeat or a conflict.
  const fresh = new Set(outcome.inserted.map((r) => key(r.machine_id, r.sale_id)))
  const rest = sales.filter((s) => !fresh.delete(key(s.machineId, s.event.saleId)))
  const { repeated, conflicts, notStored } = await compareWithStored(db, rest)
  // Not inserted and not stored: the machine is not provisioned.
  return { inserted: outcome.inserted, repeated, conflicts, unknownMachine: notStored }
}

export interface Compared extends Pick<InsertOutcome, 'repeated' | 'conflicts'> {
  notStored: { machineId: string; saleId: string }[]
}

/**
 * Copies of sales compared with the stored sale of the same machine and saleId: a repeat (the same
 * content), a conflict (other content), or none stored. One entry per copy.
 */
export async function compareWithStored(db: Kysely<Database>, copies: readonly IncomingSale[]): Promise<Compared> {
  const compared: Compared = { repeated: [], conflicts: [], notStored: [] }
  if (copies.length === 0) return compared
  const known = await sql<StoredRow>`
    select s.id, s.machine_id, s.sale_id, s.state, s.kind, s.refund_of, s.items, s.payment_method, s.total, s.declared
    from unnest(${copies.map((s) => s.machineId)}::text[], ${copies.map((s) => s.event.saleId)}::text[]) as v(m, s)
    join sales s on s.machine_id = v.m and s.sale_id = v.s`.execute(db)
  const stored = new Map(known.rows.map((r) => [key(r.machine_id, r.sale_id), r]))
  // One entry per copy received: each repeat of an answered sale is answered again.
  for (const s of copies) {
    const row = stored.get(key(s.machineId, s.event.saleId))
    if (!row) { compared.notStored.push({ machineId: s.machineId, saleId: s.event.saleId }); continue }
    const content = storedContent(row)
    const contentKey = saleContentKey(content)
    if (contentKey === saleContentKey(saleContent(s.event))) compared.repeated.push({ machineId: s.machineId, saleId: s.event.saleId, state: row.state, contentKey })
    else compared.conflicts.push({ sale: s, rowId: row.id, state: row.state, stored: content })
  }
  return compared
}

interface StoredRow {
  id: number; machine_id: string; sale_id: string; state: SaleState; kind: 'sale' | 'refund'; refund_of: string | null
  items: SaleItem[]; payment_method: SaleContent['method']; total: number; declared: SaleContent | null
}

/** The content the machine sent for a stored sale: `declared` when the columns were aligned to a receipt. */
function storedContent(r: StoredRow): SaleContent {
  return r.declared ?? { kind: r.kind, refundOf: r.refund_of, items: r.items, method: r.payment_method, total: r.total }
}

/** Keeps each conflict with both sides: the stored sale's content and the refused one's, bytes included. */
export async function insertConflicts(db: Kysely<Database>, conflicts: InsertOutcome['conflicts']): Promise<void> {
  if (conflicts.length === 0) return
  await db.insertInto('sale_conflicts').values(conflicts.map((c) => ({
    machine_id: c.sale.machineId,
    sale_id: c.sale.event.saleId,
    sale_row_id: c.rowId,
    stored_state: c.state,
    stored: JSON.stringify(c.stored),
    incoming: JSON.stringify({ ...saleContent(c.sale.event), at: c.sale.event.at }),
    payload: c.sale.payload,
  }))).execute()
}

export interface RejectedMessage {
  topic: string
  machineId: string | null
  saleId: string | null
  reason: string
  payload: Uint8Array
}

/**
 * Stores refused messages. Their text columns hold what a device sent, so each is written
 * printable (escapeUnprintable: a NUL or a lone surrogate as `\u0000`), which PostgreSQL always
 * accepts; the bytes as they came are in `payload` (bytea), whatever they hold.
 */
export async function insertRejected(db: Kysely<Database>, rejected: readonly RejectedMessage[]): Promise<void> {
  const text = (s: string | null) => (s === null ? null : escapeUnprintable(s))
  // 5 parameters a row: 1,000 rows a statement stays far below PostgreSQL's 65,535.
  for (let i = 0; i < rejected.length; i += 1000) {
    await db
      .insertInto('rejected_messages')
      .values(rejected.slice(i, i + 1000).map((r) => ({
        topic: text(r.topic)!,
        machine_id: text(r.machineId),
        sale_id: text(r.saleId),
        reason: text(r.reason)!,
        payload: r.payload,
      })))
      .execute()
  }
}
