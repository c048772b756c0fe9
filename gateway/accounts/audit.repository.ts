import { sql, type Kysely } from 'kysely'

// The audit log: every change anyone made (provisioning, accounts, acknowledgements, corrections).
export interface AuditEntry { id: number; at: Date; actor: string; action: string; subject: string | null; detail: Record<string, unknown> }

export async function recordAudit(db: Kysely<any>, e: { actor: string; action: string; subject?: string | null; detail?: Record<string, unknown> }): Promise<void> {
  await sql`insert into audit_log (actor, action, subject, detail) values (${e.actor}, ${e.action}, ${e.subject ?? null}, ${JSON.stringify(e.detail ?? {})}::jsonb)`.execute(db)
}

/** Newest first, keyset by id. */
export async function listAudit(db: Kysely<any>, q: { before?: number | undefined; limit: number }): Promise<AuditEntry[]> {
  const r = await sql<AuditEntry & { id: string | number }>`
    select id, at, actor, action, subject, detail from audit_log
    where ${q.before === undefined ? sql`true` : sql`id < ${q.before}`}
    order by id desc limit ${q.limit}`.execute(db)
  return r.rows.map((e) => ({ ...e, id: Number(e.id) }))
}
