import { sql, type RawBuilder } from 'kysely'

// The per-machine sales figures the database keeps as sales are stored (migration 0008):
// machine_sales_last (last sale, last sale received) and machine_sales_days with its later fixes
// (sales, refunds and revenue per machine and local day; a day's figure is days + fixes). Read a
// row per machine, never the sales table.

/**
 * Today's rows of a per-day rollup: every time zone's today lies within a day of UTC's, so this
 * reads three days of the (day, machine_id) key, whatever the history kept.
 */
const todayRows = (table: 'machine_sales_days' | 'machine_sales_day_fixes', now: Date) => sql`(
  select machine_id, day, sales, refunds, revenue from ${sql.table(table)}
  where day between (${now}::timestamptz at time zone 'UTC')::date - 1 and (${now}::timestamptz at time zone 'UTC')::date + 1)`

/**
 * The rollups joined to machines `m` of kassas `k`: `l` (machine_sales_last), `d` and `x` (today's
 * days and fixes row, today being the kassa's calendar day). Left joins on a unique key: the
 * planner drops those a query does not read.
 */
export function machineRollupJoins(now: Date): RawBuilder<unknown> {
  const today = sql`(${now}::timestamptz at time zone k.time_zone)::date`
  return sql`left join machine_sales_last l on l.machine_id = m.id
    left join ${todayRows('machine_sales_days', now)} d on d.machine_id = m.id and d.day = ${today}
    left join ${todayRows('machine_sales_day_fixes', now)} x on x.machine_id = m.id and x.day = ${today}`
}
