import { sql, type Kysely } from 'kysely'
import type { SaleEvent } from '../../protocol/index.js'
import { saleTotal } from '../../protocol/index.js'
import { ASYNC_COMMIT, assertNotInTransaction } from '../db/async-commit.js'
import type { Database, SaleState } from '../db/schema.js'

export interface IncomingSale {
  machineId: string
  event: SaleEvent
}

export interface InsertOutcome {
  /** Newly stored sales, with the kassa their machine maps to. */
  inserted: { machineId: string; saleId: string; kassaId: string }[]
  /** Sales seen before, with their state now. */
  repeated: { machineId: string; saleId: string; state: SaleState }[]
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
  const rows = sales.map(({ machineId, event }) => ({
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
  const inserted = await sql<{ machine_id: string; sale_id: string; kassa_id: string }>`
    insert into sales (machine_id, sale_id, kassa_id, kind, refund_of, items, payment_method, total, sold_at)
    select v.machine_id, v.sale_id, m.kassa_id, v.kind, v.refund_of, v.items, v.payment_method, v.total, v.sold_at
    from jsonb_to_recordset(${JSON.stringify(rows)}::jsonb) as v(
      machine_id text, sale_id text, kind text, refund_of text, items jsonb,
      payment_method text, total bigint, sold_at timestamptz)
    join machines m on m.id = v.machine_id and m.id = any(${[...new Set(sales.map((s) => s.machineId))]}::text[])
    cross join ${ASYNC_COMMIT} as async_commit
    on conflict (machine_id, sale_id) do nothing
    returning machine_id, sale_id, kassa_id`.execute(db)

  const outcome: InsertOutcome = {
    inserted: inserted.rows.map((r) => ({ machineId: r.machine_id, saleId: r.sale_id, kassaId: r.kassa_id })),
    repeated: [],
    unknownMachine: [],
  }
  if (outcome.inserted.length === sales.length) return outcome

  // The first copy of each inserted sale is the one stored; any further copy is a repeat.
  const fresh = new Set(outcome.inserted.map((r) => key(r.machineId, r.saleId)))
  const rest = sales.filter((s) => !fresh.delete(key(s.machineId, s.event.saleId)))
  const known = await sql<{ machine_id: string; sale_id: string; state: SaleState }>`
    select s.machine_id, s.sale_id, s.state
    from jsonb_to_recordset(${JSON.stringify(rest.map((s) => ({ m: s.machineId, s: s.event.saleId })))}::jsonb) as v(m text, s text)
    join sales s on s.machine_id = v.m and s.sale_id = v.s`.execute(db)
  const states = new Map(known.rows.map((r) => [key(r.machine_id, r.sale_id), r.state]))
  // One entry per copy received: each repeat of an answered sale is answered again.
  for (const s of rest) {
    const state = states.get(key(s.machineId, s.event.saleId))
    if (state) outcome.repeated.push({ machineId: s.machineId, saleId: s.event.saleId, state })
    else outcome.unknownMachine.push({ machineId: s.machineId, saleId: s.event.saleId })
  }
  return outcome
}

export interface RejectedMessage {
  topic: string
  machineId: string | null
  saleId: string | null
  reason: string
  payload: Uint8Array
}

export async function insertRejected(db: Kysely<Database>, rejected: readonly RejectedMessage[]): Promise<void> {
  // 5 parameters a row: 1,000 rows a statement stays far below PostgreSQL's 65,535.
  for (let i = 0; i < rejected.length; i += 1000) {
    await db
      .insertInto('rejected_messages')
      .values(rejected.slice(i, i + 1000).map((r) => ({
        topic: r.topic,
        machine_id: r.machineId,
        sale_id: r.saleId,
        reason: r.reason,
        payload: r.payload,
      })))
      .execute()
  }
}
