import { sql, type Kysely } from 'kysely'
import type { SaleContent } from '../../protocol/index.js'
import type { MachineConflicts } from '../alerts/alert.types.js'
import type { Database } from '../db/schema.js'

/** A conflict keeps its machine alerted this long after it was refused (ms). */
export const CONFLICT_WINDOW_MS = 24 * 3600_000

export interface ConflictListItem {
  /** Row id: the keyset of the list, newest first. */
  id: number
  receivedAt: Date
  machineId: string
  saleId: string
  /** The stored sale's state when the conflicting copy came. */
  storedState: string
  /** The stored sale as its machine first sent it. */
  stored: SaleContent
  /** The refused copy's content, and its bytes (base64) as they came. */
  incoming: SaleContent & { at: string }
  payloadBase64: string
}

export async function listConflicts(db: Kysely<Database>, q: { machine?: string | undefined; before?: number | undefined; limit: number }): Promise<ConflictListItem[]> {
  const rows = await sql<Omit<ConflictListItem, 'payloadBase64'> & { payload: Uint8Array }>`
    select c.id, c.received_at as "receivedAt", c.machine_id as "machineId", c.sale_id as "saleId",
           c.stored_state as "storedState", c.stored, c.incoming, c.payload
    from sale_conflicts c
    where ${q.machine === undefined ? sql`true` : sql`c.machine_id = ${q.machine}`}
      and ${q.before === undefined ? sql`true` : sql`c.id < ${q.before}`}
    order by c.id desc limit ${q.limit}`.execute(db)
  return rows.rows.map(({ payload, ...c }) => ({ ...c, payloadBase64: Buffer.from(payload).toString('base64') }))
}

/** Conflicts of the last CONFLICT_WINDOW_MS, per machine: what the alert rule reads. */
export async function recentConflictsByMachine(db: Kysely<Database>, now: Date): Promise<MachineConflicts[]> {
  const rows = await sql<MachineConflicts>`
    select machine_id as "machineId", count(*)::int as count, min(received_at) as "firstAt", max(received_at) as "lastAt",
           (array_agg(sale_id order by id desc))[1] as "lastSaleId"
    from sale_conflicts where received_at > ${new Date(now.getTime() - CONFLICT_WINDOW_MS)}
    group by machine_id`.execute(db)
  return rows.rows
}
