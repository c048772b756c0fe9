import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/schema.js'

// A kassa's page: its shifts with their open and close reports, its documents with links to the
// receipt pages, and how its cloud provider is doing. Read through `fiscal_documents_kassa` and
// the small partial indexes of reports, newest first, bounded by `limit`.

export interface ShiftRow {
  fn: string
  shift: number
  opened: { fd: number; at: Date; fp: string }
  closed: { fd: number; at: Date; fp: string } | null
  /** Receipts in the shift: the FN numbers documents without gaps, so those between the two reports. */
  receipts: number
}

export async function kassaShifts(db: Kysely<Database>, kassaId: string, limit: number): Promise<ShiftRow[]> {
  const r = await sql<{ fn: string; shift: number; open_fd: number; open_at: Date; open_fp: string; close_fd: number | null; close_at: Date | null; close_fp: string | null; next_fd: number | null }>`
    select o.fn, o.shift, o.fd as open_fd, o.signed_at as open_at, o.fp as open_fp,
           c.fd as close_fd, c.signed_at as close_at, c.fp as close_fp, f.next_fd
    from (select * from fiscal_documents where kassa_id = ${kassaId} and type = 2 order by signed_at desc limit ${limit}) o
    left join fiscal_documents c on c.fn = o.fn and c.shift = o.shift and c.type = 5
    left join fiscal_drives f on f.fn = o.fn
    order by o.signed_at desc, o.fd desc`.execute(db)
  return r.rows.map((s) => ({
    fn: s.fn, shift: s.shift,
    opened: { fd: s.open_fd, at: s.open_at, fp: s.open_fp },
    closed: s.close_fd === null ? null : { fd: s.close_fd, at: s.close_at!, fp: s.close_fp! },
    receipts: Math.max(0, (s.close_fd ?? s.next_fd ?? s.open_fd + 1) - s.open_fd - 1),
  }))
}

export interface KassaDocument {
  fn: string
  fd: number
  /** 2 shift open report, 3 receipt, 5 shift close report. */
  type: number
  signedAt: Date
  shift: number
  receiptInShift: number | null
  /** FFD 1054 for receipts: 1 приход, 2 возврат прихода. */
  operation: number | null
  total: number
  fp: string
  /** The customer's receipt page (receipts only). */
  receiptUrl: string | null
}

/** Documents newest first; `before` is the previous page's last `signedAt|fn|fd`. */
export async function kassaDocuments(db: Kysely<Database>, publicUrl: string, kassaId: string, q: { before?: { at: Date; fn: string; fd: number } | undefined; limit: number }): Promise<KassaDocument[]> {
  const b = q.before
  const r = await sql<Omit<KassaDocument, 'receiptUrl'>>`
    select fn, fd, type, signed_at as "signedAt", shift, receipt_in_shift as "receiptInShift", operation, total, fp from (
      select d.fn, d.fd, d.type, d.signed_at, d.shift, d.receipt_in_shift, d.operation, d.total, d.fp
      from fiscal_documents d where d.kassa_id = ${kassaId}
        and ${b === undefined ? sql`true` : sql`(d.signed_at, d.fn, d.fd) < (${b.at}, ${b.fn}, ${b.fd})`}
      union all
      -- A cloud kassa's receipts: the provider's FN signed them; only receipts are known here.
      select p.fn, p.fd, 3, p.signed_at, p.shift, p.receipt_in_shift, p.operation, p.total, p.fp
      from provider_receipts p where p.kassa_id = ${kassaId}
        and ${b === undefined ? sql`true` : sql`(p.signed_at, p.fn, p.fd) < (${b.at}, ${b.fn}, ${b.fd})`}
    ) u order by signed_at desc, fn desc, fd desc limit ${q.limit}`.execute(db)
  return r.rows.map((d) => ({ ...d, total: Number(d.total), receiptUrl: d.type === 3 ? `${publicUrl}/r/${d.fn}/${d.fd}?fp=${d.fp}` : null }))
}

export interface ProviderStatus {
  provider: string
  attempts: Record<string, number>
  lastAcceptedAt: Date | null
  lastFinishedAt: Date | null
  lastError: { at: Date; error: string } | null
}

/** A cloud kassa's attempts by status and its last error; null for an emulated kassa. */
export async function providerStatus(db: Kysely<Database>, kassaId: string): Promise<ProviderStatus | null> {
  const k = await db.selectFrom('kassas').select('provider').where('id', '=', kassaId).executeTakeFirst()
  if (!k || k.provider === 'emulated') return null
  const [counts, times, error] = await Promise.all([
    sql<{ status: string; n: number }>`select status, count(*)::int as n from atol_attempts where kassa_id = ${kassaId} group by status`.execute(db),
    sql<{ accepted: Date | null; finished: Date | null }>`select max(accepted_at) as accepted, max(finished_at) as finished from atol_attempts where kassa_id = ${kassaId}`.execute(db),
    sql<{ at: Date; error: string }>`select updated_at as at, error from atol_attempts where kassa_id = ${kassaId} and error is not null order by updated_at desc limit 1`.execute(db),
  ])
  return {
    provider: k.provider,
    attempts: Object.fromEntries(counts.rows.map((c) => [c.status, c.n])),
    lastAcceptedAt: times.rows[0]?.accepted ?? null,
    lastFinishedAt: times.rows[0]?.finished ?? null,
    lastError: error.rows[0] ?? null,
  }
}
