import { sql, type Kysely } from 'kysely'
import type { AuditRow, Database } from '../db/schema.js'
import type { ParsedAudit } from './audit.types.js'

export interface NewAudit {
  machineId: string
  hash: string
  raw: Uint8Array
  status: 'stored' | 'rejected'
  reason: string | null
  summary: ParsedAudit | null
}

export type StoreOutcome =
  | { kind: 'stored' | 'repeated'; id: number; status: 'stored' | 'rejected'; reason: string | null }
  | { kind: 'unknown-machine' }

/** Inserts an audit unless the machine already sent the same bytes (then the first one answers). */
export async function storeAudit(db: Kysely<Database>, audit: NewAudit): Promise<StoreOutcome> {
  const inserted = await sql<{ id: number }>`
    insert into audits (machine_id, hash, raw, status, reason, summary)
    select ${audit.machineId}, ${audit.hash}, ${audit.raw}, ${audit.status}, ${audit.reason},
           ${audit.summary === null ? null : JSON.stringify(audit.summary)}::jsonb
    where exists (select 1 from machines where id = ${audit.machineId})
    on conflict (machine_id, hash) do nothing
    returning id`.execute(db)
  const row = inserted.rows[0]
  if (row) return { kind: 'stored', id: row.id, status: audit.status, reason: audit.reason }
  const first = await db.selectFrom('audits').select(['id', 'status', 'reason'])
    .where('machine_id', '=', audit.machineId).where('hash', '=', audit.hash).executeTakeFirst()
  return first ? { kind: 'repeated', ...first } : { kind: 'unknown-machine' }
}

export type AuditListRow = Pick<AuditRow, 'id' | 'received_at' | 'hash' | 'status' | 'reason'> & { summary: ParsedAudit | null }

/** A machine's audits, newest first, from before `beforeId` when given. */
export async function listAudits(db: Kysely<Database>, machineId: string, opts: { beforeId?: number; limit: number }): Promise<AuditListRow[]> {
  let q = db.selectFrom('audits').select(['id', 'received_at', 'hash', 'status', 'reason', 'summary'])
    .where('machine_id', '=', machineId)
  if (opts.beforeId !== undefined) q = q.where('id', '<', opts.beforeId)
  const rows = await q.orderBy('id', 'desc').limit(opts.limit).execute()
  return rows as AuditListRow[]
}

export async function auditRaw(db: Kysely<Database>, id: number): Promise<{ machineId: string; raw: Uint8Array; hash: string } | undefined> {
  const row = await db.selectFrom('audits').select(['machine_id', 'raw', 'hash']).where('id', '=', id).executeTakeFirst()
  return row && { machineId: row.machine_id, raw: row.raw, hash: row.hash }
}

export interface ChainAudit {
  id: number
  receivedAt: Date
  summary: ParsedAudit
}

/**
 * A machine's stored audits with a summary, oldest first, received up to `to`; with `from`, only
 * from the last complete one before it (the audit that opens the first interval closing in range).
 */
export async function storedAudits(db: Kysely<Database>, machineId: string, to: Date, from?: Date): Promise<ChainAudit[]> {
  let q = db.selectFrom('audits').select(['id', 'received_at', 'summary'])
    .where('machine_id', '=', machineId).where('status', '=', 'stored').where('summary', 'is not', null)
    .where('received_at', '<=', to)
  if (from) {
    q = q.where('received_at', '>=', sql<Date>`coalesce((
      select max(received_at) from audits where machine_id = ${machineId} and status = 'stored'
        and (summary->>'complete')::boolean and received_at < ${from}), '-infinity'::timestamptz)`)
  }
  const rows = await q.orderBy('received_at').orderBy('id').execute()
  return rows.map((r) => ({ id: r.id, receivedAt: r.received_at, summary: r.summary as ParsedAudit }))
}
