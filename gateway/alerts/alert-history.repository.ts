import { sql, type Kysely } from 'kysely'
import type { Alert } from './alert.types.js'

// Alert history (0007-accounts): a row per raising, acknowledged and cleared as they happen.
// Every gateway evaluates the same rules; the partial unique index on open keys lets the first
// one record a raising, and only a recorded raising is notified, so each is notified once.
export interface AlertEvent {
  id: number
  key: string
  rule: string
  severity: string
  subject: { kind: string; id: string }
  message: string
  raisedAt: Date
  acknowledgedAt: Date | null
  acknowledgedBy: string | null
  clearedAt: Date | null
}

const COLUMNS = sql`id, key, rule, severity, subject_kind, subject_id, message, raised_at, acknowledged_at, acknowledged_by, cleared_at`
type Row = { id: string | number; key: string; rule: string; severity: string; subject_kind: string; subject_id: string; message: string; raised_at: Date; acknowledged_at: Date | null; acknowledged_by: string | null; cleared_at: Date | null }
const toEvent = (r: Row): AlertEvent => ({
  id: Number(r.id), key: r.key, rule: r.rule, severity: r.severity, subject: { kind: r.subject_kind, id: r.subject_id }, message: r.message,
  raisedAt: r.raised_at, acknowledgedAt: r.acknowledged_at, acknowledgedBy: r.acknowledged_by, clearedAt: r.cleared_at,
})

/**
 * Brings the history in line with the active set: opens a raising for each active alert without
 * one (one statement for all), clears every open raising no longer active (also those that
 * cleared while no gateway ran). Returns the raisings this call opened. Called with the whole
 * set each time, so a failed call is made good by the next.
 */
export async function recordActive(db: Kysely<any>, active: readonly Alert[], now: Date): Promise<AlertEvent[]> {
  const col = (f: (a: Alert) => string) => active.map(f)
  const opened = active.length === 0 ? [] : (await sql<Row>`
    insert into alert_events (key, rule, severity, subject_kind, subject_id, message, raised_at)
    select * from unnest(${col((a) => a.key)}::text[], ${col((a) => a.rule)}::text[], ${col((a) => a.severity)}::text[],
      ${col((a) => a.subject.kind)}::text[], ${col((a) => a.subject.id)}::text[], ${col((a) => a.message)}::text[], ${col((a) => a.since.toISOString())}::timestamptz[])
    on conflict (key) where cleared_at is null do nothing returning ${COLUMNS}`.execute(db)).rows
  await sql`update alert_events set cleared_at = ${now} where cleared_at is null and not (key = any(${active.map((a) => a.key)}::text[]))`.execute(db)
  return opened.map(toEvent)
}

/** The open raising of `key`, acknowledged now by `by`; null when none is open or it already was. */
export async function acknowledgeAlert(db: Kysely<any>, key: string, by: string, now: Date): Promise<AlertEvent | null> {
  const r = await sql<Row>`
    update alert_events set acknowledged_at = ${now}, acknowledged_by = ${by}
    where key = ${key} and cleared_at is null and acknowledged_at is null returning ${COLUMNS}`.execute(db)
  return r.rows[0] ? toEvent(r.rows[0]) : null
}

export async function openAlertEvents(db: Kysely<any>): Promise<AlertEvent[]> {
  return (await sql<Row>`select ${COLUMNS} from alert_events where cleared_at is null order by raised_at`.execute(db)).rows.map(toEvent)
}

/** Newest raisings first, keyset by id. */
export async function alertHistory(db: Kysely<any>, q: { before?: number | undefined; limit: number }): Promise<AlertEvent[]> {
  const r = await sql<Row>`select ${COLUMNS} from alert_events
    where ${q.before === undefined ? sql`true` : sql`id < ${q.before}`} order by id desc limit ${q.limit}`.execute(db)
  return r.rows.map(toEvent)
}
