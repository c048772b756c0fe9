import { sql, type Kysely } from 'kysely'

// Each send to each channel (0007-accounts): what the dispatcher decides from, and what the
// console shows of a channel's failures.
export interface Delivery {
  id: number
  alertEventId: number | null
  channel: string
  reason: string
  /** 1 for the first try of a send, 2… for retries after failures. */
  attempt: number
  status: 'sent' | 'failed'
  error: string | null
  at: Date
}

type Row = { id: string | number; alert_event_id: string | number | null; channel: string; reason: string; attempt: number; status: 'sent' | 'failed'; error: string | null; at: Date }
const toDelivery = (r: Row): Delivery => ({
  id: Number(r.id), alertEventId: r.alert_event_id === null ? null : Number(r.alert_event_id), channel: r.channel, reason: r.reason,
  attempt: r.attempt, status: r.status, error: r.error, at: r.at,
})

export async function recordDelivery(db: Kysely<any>, d: Omit<Delivery, 'id'>): Promise<void> {
  await sql`insert into notification_deliveries (alert_event_id, channel, reason, attempt, status, error, at)
    values (${d.alertEventId}, ${d.channel}, ${d.reason}, ${d.attempt}, ${d.status}, ${d.error}, ${d.at})`.execute(db)
}

/** Per open alert and channel: the last delivery and how many were sent. */
export async function deliveryState(db: Kysely<any>, eventIds: readonly number[]): Promise<Map<string, { last: Delivery; sent: number }>> {
  if (eventIds.length === 0) return new Map()
  const r = await sql<Row & { sent: number }>`
    select d.*, (select count(*)::int from notification_deliveries x where x.alert_event_id = d.alert_event_id and x.channel = d.channel and x.status = 'sent') as sent
    from (select distinct on (alert_event_id, channel) * from notification_deliveries
          where alert_event_id = any(${eventIds.map(String)}::bigint[]) order by alert_event_id, channel, id desc) d`.execute(db)
  return new Map(r.rows.map((row) => [`${row.alert_event_id}:${row.channel}`, { last: toDelivery(row), sent: row.sent }]))
}

export async function recentDeliveries(db: Kysely<any>, limit: number): Promise<Delivery[]> {
  return (await sql<Row>`select * from notification_deliveries order by id desc limit ${limit}`.execute(db)).rows.map(toDelivery)
}
