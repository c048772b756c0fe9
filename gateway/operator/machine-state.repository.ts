import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { machineRollupJoins } from './machine-rollup.sql.js'
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
 * Machines with their presence, today's sales and backlog. Last contact, last sale and today's
 * figures are the rollup rows the database keeps as sales are stored (migration 0008: one row per
 * machine, and one per machine and day, read by key); the backlog is a lookup on the partial
 * pending indexes. The alert rules read every machine this way every ALERT_INTERVAL_S: before,
 * each machine's last sale and today's sales were probes and range scans of `sales`, some
 * 55,000 buffer reads a page of 1,000 machines (pg_stat_statements during `npm run bench`).
 */
export async function listMachineStates(db: Kysely<Database>, now: Date, page: MachinePage): Promise<MachineState[]> {
  const rows = await sql<MachineRowInput>`
    select m.id, m.kassa_id, m.number, m.address, m.place, m.time_zone, m.disabled, m.created_at,
           m.online, m.online_changed_at, m.telemetry, m.telemetry_at,
           greatest(m.last_seen_at, l.last_received_at) as last_seen_at,
           l.last_sale_at,
           (coalesce(d.sales, 0) + coalesce(x.sales, 0))::int as sales_today,
           (coalesce(d.refunds, 0) + coalesce(x.refunds, 0))::int as refunds_today,
           (coalesce(d.revenue, 0) + coalesce(x.revenue, 0))::bigint as revenue_today,
           (select count(*)::int from sales s where s.machine_id = m.id and s.kassa_id = m.kassa_id and s.state = 'pending')
             + (select count(*)::int from sales s where s.machine_id = m.id and s.kassa_id = m.kassa_id and s.state = 'submitted') as pending
    from machines m
    join kassas k on k.id = m.kassa_id
    ${machineRollupJoins(now)}
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
