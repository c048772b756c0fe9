import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Database } from '../db/schema.js'

// Chart series from the database: one grouped range scan on an index of sale time
// (`sales_sold` for the fleet, `sales_kassa_sold` for a kassa, `sales_machine_sold` for a
// machine), so a view reads the sales of its range only, never the table.
export type ChartScope = { kind: 'fleet' } | { kind: 'machine'; id: string } | { kind: 'kassa'; id: string }
export interface ChartRange { from: Date; to: Date; bucket: 'hour' | 'day'; timeZone: string; scope: ChartScope }

export interface SalesPoint {
  /** Start of the bucket, local time in the range's time zone: `2026-12-02T03:00`. */
  t: string
  sales: number
  refunds: number
  /** Kopecks: sales minus refunds. */
  revenue: number
}

export interface LatencyPoint { t: string; receipts: number; p50: number; p95: number; p99: number }

function scopeFilter(scope: ChartScope): RawBuilder<unknown> {
  if (scope.kind === 'machine') return sql`s.machine_id = ${scope.id}`
  if (scope.kind === 'kassa') return sql`s.kassa_id = ${scope.id}`
  return sql`true`
}

const bucketOf = (r: ChartRange) => sql`to_char(date_trunc(${r.bucket}, s.sold_at at time zone ${r.timeZone}), 'YYYY-MM-DD"T"HH24:MI')`

/** Sales, refunds and revenue per bucket (failed sales excluded: they have no receipt). */
export async function salesSeries(db: Kysely<Database>, r: ChartRange): Promise<SalesPoint[]> {
  const rows = await sql<{ t: string; sales: number; refunds: number; revenue: string }>`
    select ${bucketOf(r)} as t,
           count(*) filter (where s.kind = 'sale')::int as sales,
           count(*) filter (where s.kind = 'refund')::int as refunds,
           coalesce(sum(case when s.kind = 'sale' then s.total else -s.total end), 0)::bigint as revenue
    from sales s
    where s.sold_at >= ${r.from} and s.sold_at < ${r.to} and s.state <> 'failed' and ${scopeFilter(r.scope)}
    group by 1 order by 1`.execute(db)
  return rows.rows.map((p) => ({ ...p, revenue: Number(p.revenue) }))
}

/** Receipt latency (received by the gateway → receipt committed), ms percentiles per bucket. */
export async function latencySeries(db: Kysely<Database>, r: ChartRange): Promise<LatencyPoint[]> {
  const rows = await sql<{ t: string; receipts: number; p: number[] }>`
    select ${bucketOf(r)} as t, count(*)::int as receipts,
           percentile_cont(array[0.5, 0.95, 0.99]) within group (order by extract(epoch from s.done_at - s.received_at) * 1000) as p
    from sales s
    where s.sold_at >= ${r.from} and s.sold_at < ${r.to} and s.state = 'done' and s.done_at is not null and ${scopeFilter(r.scope)}
    group by 1 order by 1`.execute(db)
  const ms = (x: number | undefined) => Math.round((x ?? 0) * 10) / 10
  return rows.rows.map((p) => ({ t: p.t, receipts: p.receipts, p50: ms(p.p[0]), p95: ms(p.p[1]), p99: ms(p.p[2]) }))
}
