import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { machineState, type MachineRowInput, type MachineState } from './fleet-state.js'

export interface MachinePage {
  /** Machines with an id after this one (keyset pagination by id). */
  after?: string | undefined
  limit: number
  /** Only this machine. */
  id?: string | undefined
  /** Only these machines (a page of the console's search). */
  ids?: readonly string[] | undefined
}

/**
 * Machines with their presence, today's sales and backlog. Each figure is a lateral lookup on an
 * index (`sales_machine_sold`, `sales_machine_recent`, the partial pending indexes), so a page
 * costs a few index probes per machine however large the sales table grows.
 */
export async function listMachineStates(db: Kysely<Database>, now: Date, page: MachinePage): Promise<MachineState[]> {
  const rows = await sql<MachineRowInput>`
    select m.id, m.kassa_id, m.number, m.address, m.place, m.time_zone, m.disabled, m.created_at,
           m.online, m.online_changed_at, m.telemetry, m.telemetry_at,
           greatest(m.last_seen_at, (select s.received_at from sales s where s.machine_id = m.id order by s.id desc limit 1)) as last_seen_at,
           (select s.sold_at from sales s where s.machine_id = m.id and s.kind = 'sale' order by s.sold_at desc limit 1) as last_sale_at,
           t.sales_today, t.refunds_today, t.revenue_today,
           (select count(*)::int from sales s where s.machine_id = m.id and s.kassa_id = m.kassa_id and s.state = 'pending')
             + (select count(*)::int from sales s where s.machine_id = m.id and s.kassa_id = m.kassa_id and s.state = 'submitted') as pending
    from machines m
    join kassas k on k.id = m.kassa_id
    cross join lateral (
      select count(*) filter (where s.kind = 'sale')::int as sales_today,
             count(*) filter (where s.kind = 'refund')::int as refunds_today,
             coalesce(sum(case when s.kind = 'sale' then s.total else -s.total end), 0)::bigint as revenue_today
      from sales s
      where s.machine_id = m.id and s.state <> 'failed'
        -- The kassa's calendar day: local midnight to local midnight, as the kassa counts it.
        and s.sold_at >= (date_trunc('day', ${now}::timestamptz at time zone k.time_zone) at time zone k.time_zone)
        and s.sold_at < ((date_trunc('day', ${now}::timestamptz at time zone k.time_zone) + interval '1 day') at time zone k.time_zone)
    ) t
    where ${page.id === undefined ? sql`true` : sql`m.id = ${page.id}`}
      and ${page.ids === undefined ? sql`true` : sql`m.id = any(${[...page.ids]}::text[])`}
      and ${page.after === undefined ? sql`true` : sql`m.id > ${page.after}`}
    order by m.id
    limit ${page.limit}`.execute(db)
  return rows.rows.map(machineState)
}

/**
 * "Usual hours": the hours of the local day (0–23) in which a machine sold during the 7 days up
 * to its last sale. Anchored on the last sale rather than on now, so a machine that stopped
 * selling keeps its usual hours and its no-sales alert, instead of losing both after a week.
 */
export async function usualHours(db: Kysely<Database>, machineId?: string): Promise<Map<string, number[]>> {
  const rows = await sql<{ machine_id: string; hours: number[] }>`
    select m.id as machine_id,
           array_agg(distinct extract(hour from s.sold_at at time zone m.time_zone)::int order by extract(hour from s.sold_at at time zone m.time_zone)::int) as hours
    from machines m
    cross join lateral (select max(x.sold_at) as last from sales x where x.machine_id = m.id and x.kind = 'sale') l
    join sales s on s.machine_id = m.id and s.kind = 'sale' and s.sold_at > l.last - interval '7 days' and s.sold_at <= l.last
    where ${machineId === undefined ? sql`true` : sql`m.id = ${machineId}`}
    group by m.id`.execute(db)
  return new Map(rows.rows.map((r) => [r.machine_id, r.hours]))
}
