import { sql, type Kysely, type RawBuilder } from 'kysely'
import type { Database } from '../db/schema.js'
import { machineRollupJoins } from './machine-rollup.sql.js'

// The machines list of the console: search, filters and a sort on any column, paged by keyset
// (sort value, id). It reads a row per machine: the machines table and the per-machine sales
// figures the database keeps as sales are stored (0008: machine_sales_last, machine_sales_days
// and their fixes), joined by hash, never the sales table. At 10,000 machines a page takes tens
// of ms whichever the sort (README, Operator console).
export const MACHINE_SORTS = ['id', 'kassa', 'address', 'place', 'status', 'lastSeenAt', 'lastSaleAt', 'salesToday', 'revenueToday', 'alerts'] as const
export type MachineSort = (typeof MACHINE_SORTS)[number]
export type MachineStatusFilter = 'online' | 'offline' | 'disabled'

export interface MachineSearch {
  /** Part of the id, address or place, any case. */
  q?: string | undefined
  status?: MachineStatusFilter | undefined
  kassa?: string | undefined
  /** Only machines with (`true`) or without (`false`) an active alert, given as their ids. */
  alerted?: { ids: readonly string[]; present: boolean } | undefined
  /** Active alerts per machine id, for sorting by `alerts`. */
  alertCounts: Readonly<Record<string, number>>
  sort: MachineSort
  desc: boolean
  after?: SearchKey | undefined
  limit: number
}

/** The keyset position: the last row's sort value (as text) and id. */
export interface SearchKey { v: string | number; id: string }

/** Each sort's value: never null (so the keyset comparison is total), numbers as numbers. */
function sortValue(sort: MachineSort, counts: Readonly<Record<string, number>>): { expr: RawBuilder<unknown>; numeric: boolean } {
  switch (sort) {
    case 'id': return { expr: sql`m.id`, numeric: false }
    case 'kassa': return { expr: sql`m.kassa_id`, numeric: false }
    case 'address': return { expr: sql`m.address`, numeric: false }
    case 'place': return { expr: sql`m.place`, numeric: false }
    case 'status': return { expr: sql`(case when m.disabled then 0 when not m.online then 1 else 2 end)`, numeric: true }
    case 'lastSeenAt': return { expr: sql`coalesce(extract(epoch from greatest(m.last_seen_at, l.last_received_at)) * 1000, 0)::float8`, numeric: true }
    case 'lastSaleAt': return { expr: sql`coalesce(extract(epoch from l.last_sale_at) * 1000, 0)::float8`, numeric: true }
    case 'salesToday': return { expr: sql`(coalesce(d.sales, 0) + coalesce(x.sales, 0))::float8`, numeric: true }
    case 'revenueToday': return { expr: sql`(coalesce(d.revenue, 0) + coalesce(x.revenue, 0))::float8`, numeric: true }
    case 'alerts': return { expr: sql`coalesce((${JSON.stringify(counts)}::jsonb ->> m.id)::int, 0)::float8`, numeric: true }
  }
}

const likePattern = (q: string) => `%${q.replace(/[\\%_]/g, (c) => `\\${c}`)}%`

/** One page of machine ids in the asked order, with their sort values (the keyset of the next page). */
export async function searchMachines(db: Kysely<Database>, now: Date, s: MachineSearch): Promise<SearchKey[]> {
  const { expr, numeric } = sortValue(s.sort, s.alertCounts)
  const where: RawBuilder<unknown>[] = []
  if (s.q) where.push(sql`(m.id ilike ${likePattern(s.q)} or m.address ilike ${likePattern(s.q)} or m.place ilike ${likePattern(s.q)})`)
  if (s.status === 'disabled') where.push(sql`m.disabled`)
  if (s.status === 'online') where.push(sql`not m.disabled and m.online`)
  if (s.status === 'offline') where.push(sql`not m.disabled and not m.online`)
  if (s.kassa !== undefined) where.push(sql`m.kassa_id = ${s.kassa}`)
  if (s.alerted) where.push(s.alerted.present ? sql`m.id = any(${[...s.alerted.ids]}::text[])` : sql`not (m.id = any(${[...s.alerted.ids]}::text[]))`)
  const cmp = s.desc ? sql`<` : sql`>`
  const dir = s.desc ? sql`desc` : sql`asc`
  const after = s.after === undefined ? sql`true`
    : numeric ? sql`(f.v, f.id) ${cmp} (${Number(s.after.v)}::float8, ${s.after.id})`
    // "C" collation: byte order, the same as the comparison of the keyset, whatever the database's locale.
    : sql`(f.v collate "C", f.id) ${cmp} (${String(s.after.v)}::text collate "C", ${s.after.id})`
  const order = numeric ? sql`f.v ${dir}, f.id ${dir}` : sql`f.v collate "C" ${dir}, f.id ${dir}`
  const rows = await sql<{ id: string; v: string | number }>`
    with f as (
      select m.id, ${expr} as v from machines m join kassas k on k.id = m.kassa_id
      ${machineRollupJoins(now)}
      where ${where.length ? sql.join(where, sql` and `) : sql`true`}
    )
    select f.id, f.v from f where ${after} order by ${order} limit ${s.limit}`.execute(db)
  return rows.rows
}

/** "В сети N из M": enabled machines only; disabled ones are counted apart. */
export async function fleetSummary(db: Kysely<Database>): Promise<{ machines: number; online: number; disabled: number }> {
  const r = await sql<{ machines: number; online: number; disabled: number }>`
    select count(*) filter (where not disabled)::int as machines,
           count(*) filter (where not disabled and online)::int as online,
           count(*) filter (where disabled)::int as disabled
    from machines`.execute(db)
  return r.rows[0]!
}
