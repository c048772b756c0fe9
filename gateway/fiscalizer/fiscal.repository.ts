import { sql, type Kysely, type Transaction } from 'kysely'
import type { PaymentMethod, SaleItem, StoredSale } from '../../protocol/index.js'
import type { Database, FiscalDriveRow, KassaRow } from '../db/schema.js'
import type { FnModel, FnState, SignedDocument, TaxSystem, KassaIdentity } from '../fiscal/fn.types.js'
import type { RefundAlignment } from './refund-policy.js'

/** `kassas.provider`: which signer serves the kassa ('emulated', 'atol-v5'). */
export async function kassaProvider(db: Kysely<Database>, kassaId: string): Promise<string | undefined> {
  const row = await db.selectFrom('kassas').select('provider').where('id', '=', kassaId).executeTakeFirst()
  return row?.provider
}

/** Kassas with sales waiting to be signed now. */
export async function kassasWithPendingSales(db: Kysely<Database>): Promise<string[]> {
  const rows = await sql<{ kassa_id: string }>`
    select distinct kassa_id from sales where state = 'pending' and run_at <= now()`.execute(db)
  return rows.rows.map((r) => r.kassa_id)
}

/** A kassa with sales to sign now, and how long the longest-waiting of them has been eligible. */
export interface PendingKassa {
  kassaId: string
  /** ms since its oldest pending sale became eligible (stored, or its retry came due). */
  waitedMs: number
}

/**
 * The fiscalizer's poll with ages, so that a gateway takes over another gateway's kassas only when
 * their sales wait longer than that gateway would let them (it died, or its database link did).
 * Reads the pending rows only (the sales_pending partial index), as the plain list does.
 */
export async function pendingKassasWithAge(db: Kysely<Database>): Promise<PendingKassa[]> {
  const rows = await sql<{ kassa_id: string; waited_ms: number | string }>`
    select kassa_id, extract(epoch from now() - min(greatest(received_at, run_at))) * 1000 as waited_ms
    from sales where state = 'pending' and run_at <= now() group by kassa_id`.execute(db)
  return rows.rows.map((r) => ({ kassaId: r.kassa_id, waitedMs: Number(r.waited_ms) }))
}

/**
 * Claims a kassa's FN for this transaction. The row lock is the claim: one signer per FN at a
 * time across every gateway process, and a gateway that dies (even by SIGKILL) loses it when
 * PostgreSQL sees its connection close, so there is no stale claim to expire. SKIP LOCKED makes
 * a second gateway move on to other kassas instead of queueing behind the first. With `wait`, a
 * one-off signer (a correction receipt) queues behind the batch holding the FN instead.
 */
export async function claimFiscalDrive(tx: Transaction<Database>, kassaId: string, opts: { wait?: boolean } = {}): Promise<FiscalDriveRow | null> {
  const q = tx.selectFrom('fiscal_drives').selectAll()
    .where('kassa_id', '=', kassaId).where('active', '=', true)
    .forUpdate()
  const row = await (opts.wait ? q : q.skipLocked()).executeTakeFirst()
  return row ?? null
}

export async function findKassa(db: Kysely<Database> | Transaction<Database>, kassaId: string): Promise<KassaRow | undefined> {
  return db.selectFrom('kassas').selectAll().where('id', '=', kassaId).executeTakeFirst()
}

/** A pending sale as a batch signs it: its row, with its machine's number, address and place. */
export type ClaimedSale = Omit<StoredSale, 'kassa_id'>

/** The oldest pending sales of a kassa, with their machine's place (tags 1036, 1009, 1187). */
export async function pendingSales(tx: Transaction<Database>, kassaId: string, limit: number): Promise<ClaimedSale[]> {
  const rows = await sql<ClaimedSale>`
    select s.id, s.machine_id, s.sale_id, s.kind, s.refund_of, s.items, s.payment_method, s.total,
           m.number, m.address, m.place
    from sales s join machines m on m.id = s.machine_id
    where s.kassa_id = ${kassaId} and s.state = 'pending' and s.run_at <= now()
    order by s.id limit ${limit}`.execute(tx)
  return rows.rows
}

export interface RefundOriginal {
  machine_id: string
  sale_id: string
  kind: 'sale' | 'refund'
  state: string
  items: SaleItem[]
  payment_method: PaymentMethod
  total: number
  refunded: boolean
}

/**
 * The sale each refund of the batch names, looked up on the refund's own machine, with whether a
 * refund of it is signed or submitted to a provider; and, for a name its machine does not have,
 * another machine's sale of that name, so the refusal says which it is (refund-policy.ts). This
 * runs while the batch holds the FN's lock, so the first are key lookups (the unique key and
 * `sales_refunds`, migration 0012); looked up by `sale_id` alone, a sale takes a read of the whole
 * key index, a cost that grows with every sale stored, and only a refund naming a sale its own
 * machine never made pays it.
 */
export async function refundOriginals(tx: Transaction<Database>, refunds: readonly Pick<ClaimedSale, 'machine_id' | 'refund_of'>[]): Promise<RefundOriginal[]> {
  const named = refunds.flatMap((r) => (r.refund_of === null ? [] : [{ machineId: r.machine_id, saleId: r.refund_of }]))
  if (named.length === 0) return []
  const own = (await refundOriginalsQuery(named).execute(tx)).rows
  const pair = (machineId: string, saleId: string) => `${machineId}\u0000${saleId}`
  const found = new Set(own.map((o) => pair(o.machine_id, o.sale_id)))
  const missing = [...new Set(named.filter((n) => !found.has(pair(n.machineId, n.saleId))).map((n) => n.saleId))]
  if (missing.length === 0) return own
  const elsewhere = await sql<RefundOriginal>`
    select distinct on (o.sale_id) o.machine_id, o.sale_id, o.kind, o.state, o.items, o.payment_method, o.total, false as refunded
    from sales o where o.sale_id = any(${missing}::text[])
    order by o.sale_id, o.id`.execute(tx)
  return [...own, ...elsewhere.rows]
}

/** The sales named by (machine, saleId), with whether a refund of each is signed or submitted. */
export function refundOriginalsQuery(named: readonly { machineId: string; saleId: string }[]) {
  return sql<RefundOriginal>`
    select o.machine_id, o.sale_id, o.kind, o.state, o.items, o.payment_method, o.total,
      exists (select 1 from sales r where r.machine_id = o.machine_id and r.refund_of = o.sale_id
              and r.kind = 'refund' and r.state in ('done', 'submitted')) as refunded
    from unnest(${named.map((n) => n.machineId)}::text[], ${named.map((n) => n.saleId)}::text[]) as v(machine_id, sale_id)
    join sales o on o.machine_id = v.machine_id and o.sale_id = v.sale_id`
}

/** Rewrites refund rows to the content their receipt carries, keeping the machine's first claim in `declared`. */
export async function alignRefunds(tx: Transaction<Database>, rows: readonly RefundAlignment[]): Promise<void> {
  if (rows.length === 0) return
  await sql`
    update sales s set items = v.items, payment_method = v.payment_method, total = v.total,
      declared = coalesce(s.declared, v.declared)
    from jsonb_to_recordset(${JSON.stringify(rows.map((r) => ({ id: r.id, items: r.items, payment_method: r.paymentMethod, total: r.total, declared: r.declared })))}::jsonb)
      as v(id bigint, items jsonb, payment_method text, total bigint, declared jsonb)
    where s.id = v.id and s.id = any(${rows.map((r) => r.id)}::bigint[])`.execute(tx)
}

export async function insertDocuments(tx: Transaction<Database>, kassaId: string, fn: string, docs: readonly SignedDocument[]): Promise<void> {
  if (docs.length === 0) return
  await tx.insertInto('fiscal_documents').values(docs.map((d) => ({
    fn, fd: d.fd, kassa_id: kassaId, type: d.type, signed_at: d.signedAt, shift: d.shift,
    receipt_in_shift: d.receiptInShift, sale_row_id: d.saleRowId === null ? null : Number(d.saleRowId),
    operation: d.operation, total: d.total, fp: d.fp, tlv: d.tlv,
  }))).execute()
}

/** One statement completes every signed sale of the batch. */
export async function completeSales(tx: Transaction<Database>, done: readonly { id: number; fn: string; fd: number }[]): Promise<void> {
  if (done.length === 0) return
  await sql`
    update sales s set state = 'done', fn = v.fn, fd = v.fd, done_at = now(), last_error = null
    from jsonb_to_recordset(${JSON.stringify(done)}::jsonb) as v(id bigint, fn text, fd integer)
    where s.id = v.id and s.id = any(${done.map((d) => d.id)}::bigint[])`.execute(tx)
}

export async function failSales(tx: Transaction<Database>, failed: readonly { id: number; reason: string }[]): Promise<void> {
  if (failed.length === 0) return
  await sql`
    update sales s set state = 'failed', last_error = v.reason, attempts = s.attempts + 1, done_at = now()
    from jsonb_to_recordset(${JSON.stringify(failed)}::jsonb) as v(id bigint, reason text)
    where s.id = v.id and s.id = any(${failed.map((f) => f.id)}::bigint[])`.execute(tx)
}

/** Puts sales back with a later run_at (backoff computed in SQL from their attempts). */
export async function deferSales(tx: Transaction<Database>, ids: readonly number[], reason: string): Promise<void> {
  if (ids.length === 0) return
  await sql`
    update sales set attempts = attempts + 1, last_error = ${reason},
      run_at = now() + least(interval '1 second' * power(2, least(attempts, 8)), interval '1 minute')
    where id in (${sql.join(ids)})`.execute(tx)
}

export function kassaIdentity(row: KassaRow): KassaIdentity {
  return { id: row.id, name: row.name, inn: row.inn, regNumber: row.reg_number, sno: row.sno as TaxSystem, timeZone: row.time_zone }
}

export function fnStateFromRow(row: FiscalDriveRow): FnState {
  return {
    fn: row.fn, model: row.model as FnModel, secret: row.secret, registeredAt: row.registered_at,
    docLimit: row.doc_limit, nextFd: row.next_fd, shiftNumber: row.shift_number, shiftOpenedAt: row.shift_opened_at,
    receiptsInShift: row.receipts_in_shift, unsentCount: row.unsent_count, firstUnsentAt: row.first_unsent_at,
  }
}

export async function saveFnState(tx: Transaction<Database>, state: FnState, blockedReason: string | null): Promise<void> {
  await tx.updateTable('fiscal_drives').set({
    next_fd: state.nextFd, shift_number: state.shiftNumber, shift_opened_at: state.shiftOpenedAt,
    receipts_in_shift: state.receiptsInShift, unsent_count: state.unsentCount, first_unsent_at: state.firstUnsentAt,
    blocked_reason: blockedReason,
  }).where('fn', '=', state.fn).execute()
}

/** Kassas whose open shift may need closing by the timer. */
export async function kassasWithOpenShift(db: Kysely<Database>): Promise<string[]> {
  const rows = await db.selectFrom('fiscal_drives').select('kassa_id')
    .where('active', '=', true).where('shift_opened_at', 'is not', null).execute()
  return rows.map((r) => r.kassa_id)
}
