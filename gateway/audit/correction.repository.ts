import { sql, type Kysely, type Transaction } from 'kysely'
import type { SaleItem, VatRate } from '../../protocol/index.js'
import type { AuditCorrectionRow, Database } from '../db/schema.js'
import type { ParsedAudit } from './audit.types.js'
import type { SkuFigures } from './correction-items.js'

export async function auditSummary(db: Kysely<Database>, id: number): Promise<ParsedAudit | null> {
  const row = await db.selectFrom('audits').select('summary').where('id', '=', id).executeTakeFirst()
  return (row?.summary as ParsedAudit | null | undefined) ?? null
}

/** Receipted quantity and value per sku of the machine's sales sold in (from, to], refunds subtracted. */
export async function receiptedBySku(db: Kysely<Database>, machineId: string, from: Date, to: Date): Promise<Map<string, SkuFigures>> {
  const { rows } = await sql<{ sku: string; qty: number; value: number }>`
    select i->>'sku' as sku,
           sum(case when s.kind = 'refund' then -1 else 1 end * (i->>'qty')::int)::bigint as qty,
           sum(case when s.kind = 'refund' then -1 else 1 end * (i->>'qty')::bigint * (i->>'price')::bigint)::bigint as value
    from sales s cross join jsonb_array_elements(s.items) i
    where s.machine_id = ${machineId} and s.state = 'done' and s.sold_at > ${from} and s.sold_at <= ${to}
    group by 1`.execute(db)
  return new Map(rows.map((r) => [r.sku, { qty: Number(r.qty), value: Number(r.value) }]))
}

/** The latest name and VAT of each product the machine sold. */
export async function machineCatalogue(db: Kysely<Database>, machineId: string): Promise<Map<string, { name: string; vat: VatRate }>> {
  const { rows } = await sql<{ sku: string; name: string; vat: VatRate }>`
    select distinct on (i->>'sku') i->>'sku' as sku, i->>'name' as name, i->>'vat' as vat
    from (select id, items from sales where machine_id = ${machineId} and kind = 'sale' order by id desc limit 5000) s
    cross join jsonb_array_elements(s.items) i
    order by i->>'sku', s.id desc`.execute(db)
  return new Map(rows.map((r) => [r.sku, { name: r.name, vat: r.vat }]))
}

/** The VAT rate most items of the kassa's recent sales carry; `none` for a kassa with no sales. */
export async function kassaUsualVat(db: Kysely<Database>, kassaId: string): Promise<VatRate> {
  const { rows } = await sql<{ vat: VatRate }>`
    select i->>'vat' as vat from (select items from sales where kassa_id = ${kassaId} order by id desc limit 1000) s
    cross join jsonb_array_elements(s.items) i group by 1 order by count(*) desc, 1 limit 1`.execute(db)
  return rows[0]?.vat ?? 'none'
}

export interface NewCorrection {
  intervalAuditId: number
  machineId: string
  kassaId: string
  provider: string
  status: AuditCorrectionRow['status']
  total: number
  cash: number
  ecash: number
  vends: number
  baseDate: string
  items: readonly SaleItem[]
  externalId?: string
  request?: unknown
}

/**
 * Claims the interval's one correction: inserts its row unless one exists. Inside a transaction the
 * unique key makes a concurrent second claim wait, then find the first; null when it exists.
 */
export async function claimCorrection(tx: Transaction<Database> | Kysely<Database>, c: NewCorrection): Promise<number | null> {
  const row = await tx.insertInto('audit_corrections').values({
    interval_audit_id: c.intervalAuditId, machine_id: c.machineId, kassa_id: c.kassaId, provider: c.provider, status: c.status,
    total: c.total, cash: c.cash, ecash: c.ecash, vends: c.vends, base_date: c.baseDate, items: JSON.stringify(c.items),
    external_id: c.externalId ?? null, request: c.request === undefined ? null : JSON.stringify(c.request),
  }).onConflict((oc) => oc.column('interval_audit_id').doNothing()).returning('id').executeTakeFirst()
  return row?.id ?? null
}

/**
 * Turns a correction the provider refused (`fail`: nothing was signed) into a new attempt of the
 * same interval's one row; false when another process did so first or it is no longer `fail`.
 */
export async function retryCorrection(db: Kysely<Database>, id: number, c: NewCorrection): Promise<boolean> {
  const r = await db.updateTable('audit_corrections').set({
    status: c.status, total: c.total, cash: c.cash, ecash: c.ecash, vends: c.vends, base_date: c.baseDate, items: JSON.stringify(c.items),
    external_id: c.externalId ?? null, request: c.request === undefined ? null : JSON.stringify(c.request),
    uuid: null, report: null, error: null, fn: null, fd: null, fp: null, signed_at: null,
  }).where('id', '=', id).where('status', '=', 'fail').executeTakeFirst()
  return Number(r.numUpdatedRows) === 1
}

export async function findCorrection(db: Kysely<Database>, intervalAuditId: number): Promise<AuditCorrectionRow | undefined> {
  return db.selectFrom('audit_corrections').selectAll().where('interval_audit_id', '=', intervalAuditId).executeTakeFirst()
}

export interface CorrectionResult {
  status: AuditCorrectionRow['status']
  fn?: string
  fd?: number
  fp?: string
  signedAt?: Date
  report?: unknown
  error?: string
}

export async function completeCorrection(db: Kysely<Database> | Transaction<Database>, id: number, signed: CorrectionResult): Promise<void> {
  await db.updateTable('audit_corrections').set({
    status: signed.status, fn: signed.fn ?? null, fd: signed.fd ?? null, fp: signed.fp ?? null, signed_at: signed.signedAt ?? null,
    ...(signed.report !== undefined && { report: JSON.stringify(signed.report) }), error: signed.error ?? null,
  }).where('id', '=', id).execute()
}
