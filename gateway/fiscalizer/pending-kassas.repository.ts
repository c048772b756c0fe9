import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/schema.js'

/** A kassa with sales to sign now, and how long the longest-waiting of them has been eligible. */
export interface PendingKassa {
  kassaId: string
  /** ms since its oldest pending sale became eligible (stored, or its retry came due). */
  waitedMs: number
}

/**
 * The fiscalizer's poll with ages, so that a gateway takes over another gateway's kassas only when
 * their sales wait longer than that gateway would let them (it died, or its database link did).
 * Reads the pending rows only (the sales_pending partial index), as the plain list does.
 */
export async function pendingKassasWithAge(db: Kysely<Database>): Promise<PendingKassa[]> {
  const rows = await sql<{ kassa_id: string; waited_ms: number | string }>`
    select kassa_id, extract(epoch from now() - min(greatest(received_at, run_at))) * 1000 as waited_ms
    from sales where state = 'pending' and run_at <= now() group by kassa_id`.execute(db)
  return rows.rows.map((r) => ({ kassaId: r.kassa_id, waitedMs: Number(r.waited_ms) }))
}
