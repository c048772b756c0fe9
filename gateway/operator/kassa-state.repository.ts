import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { kassaState, type KassaRowInput, type KassaState } from './fleet-state.js'

export interface KassaPage {
  after?: string | undefined
  limit: number
  id?: string | undefined
}

/**
 * Kassas with their active FN's counters and their backlog. The backlog reads only the rows of
 * the partial indexes on pending, submitted and failed sales, which stay small while things work.
 */
export async function listKassaStates(db: Kysely<Database>, now: Date, page: KassaPage): Promise<KassaState[]> {
  const rows = await sql<KassaRowInput>`
    select k.id, k.name, k.inn, k.reg_number, k.sno, k.time_zone, k.provider,
           f.fn, f.model, f.registered_at, f.doc_limit, f.next_fd, f.shift_number, f.shift_opened_at,
           f.receipts_in_shift, f.unsent_count, f.first_unsent_at, f.blocked_reason,
           p.pending, p.oldest_pending_at, fl.failed, ms.machines
    from kassas k
    left join fiscal_drives f on f.kassa_id = k.id and f.active
    cross join lateral (
      select count(*)::int as pending, min(u.received_at) as oldest_pending_at from (
        select s.received_at from sales s where s.kassa_id = k.id and s.state = 'pending'
        union all
        select s.received_at from sales s where s.kassa_id = k.id and s.state = 'submitted'
      ) u
    ) p
    cross join lateral (select count(*)::int as failed from sales s where s.kassa_id = k.id and s.state = 'failed') fl
    cross join lateral (select coalesce(array_agg(m.id order by m.id), '{}') as machines from machines m where m.kassa_id = k.id) ms
    where ${page.id === undefined ? sql`true` : sql`k.id = ${page.id}`}
      and ${page.after === undefined ? sql`true` : sql`k.id > ${page.after}`}
    order by k.id
    limit ${page.limit}`.execute(db)
  return rows.rows.map((r) => kassaState(r, now))
}
