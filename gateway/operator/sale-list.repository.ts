import { sql, type Kysely } from 'kysely'
import type { SaleItem } from '../../protocol/index.js'
import type { Database, SaleState } from '../db/schema.js'

export interface SaleListItem {
  /** Row id: the keyset of the list, newest first. */
  id: number
  machineId: string
  saleId: string
  kassaId: string
  kind: 'sale' | 'refund'
  refundOf: string | null
  state: SaleState
  /** Kopecks. */
  total: number
  paymentMethod: string
  items: SaleItem[]
  soldAt: Date
  receivedAt: Date
  doneAt: Date | null
  attempts: number
  lastError: string | null
  receipt: { fn: string; fd: number; fp: string } | null
  /** The customer's receipt page, as on the machine's display. */
  receiptUrl: string | null
}

export interface SalePage {
  machine?: string | undefined
  kassa?: string | undefined
  state?: SaleState | undefined
  /** Sold at or after `from` and before `to` (the machine's sale time). */
  from?: Date | undefined
  to?: Date | undefined
  /** Sales with a row id below this one. */
  before?: number | undefined
  limit: number
}

export async function listSales(db: Kysely<Database>, publicUrl: string, q: SalePage): Promise<SaleListItem[]> {
  const rows = await sql<Omit<SaleListItem, 'receipt' | 'receiptUrl'> & { fn: string | null; fd: number | null; fp: string | null; display_url: string | null }>`
    select s.id, s.machine_id as "machineId", s.sale_id as "saleId", s.kassa_id as "kassaId", s.kind,
           s.refund_of as "refundOf", s.state, s.total, s.payment_method as "paymentMethod", s.items,
           s.sold_at as "soldAt", s.received_at as "receivedAt", s.done_at as "doneAt", s.attempts,
           s.last_error as "lastError",
           coalesce(d.fn, o.payload->'fiscal'->>'fn') as fn, coalesce(d.fd, (o.payload->'fiscal'->>'fd')::int) as fd,
           coalesce(d.fp, o.payload->'fiscal'->>'fp') as fp, o.payload->>'url' as display_url
    from sales s
    left join fiscal_documents d on d.fn = s.fn and d.fd = s.fd
    -- A receipt signed elsewhere (a cloud kassa) has no document here: its display names it.
    left join lateral (
      select x.payload from display_outbox x
      where d.fn is null and s.state = 'done' and x.machine_id = s.machine_id and x.sale_id = s.sale_id and x.payload->>'type' = 'receipt'
      order by x.id desc limit 1
    ) o on true
    where ${q.machine === undefined ? sql`true` : sql`s.machine_id = ${q.machine}`}
      and ${q.before === undefined ? sql`true` : sql`s.id < ${q.before}`}
      and ${q.kassa === undefined ? sql`true` : sql`s.kassa_id = ${q.kassa}`}
      and ${q.state === undefined ? sql`true` : sql`s.state = ${q.state}`}
      and ${q.from === undefined ? sql`true` : sql`s.sold_at >= ${q.from}`}
      and ${q.to === undefined ? sql`true` : sql`s.sold_at < ${q.to}`}
    order by ${q.machine === undefined ? sql`s.id desc` : sql`s.machine_id, s.id desc`}
    limit ${q.limit}`.execute(db)
  return rows.rows.map(({ fn, fd, fp, display_url: displayUrl, ...s }) => {
    const receipt = fn !== null && fd !== null && fp !== null ? { fn, fd, fp } : null
    const own = receipt && `${publicUrl}/r/${receipt.fn}/${receipt.fd}?fp=${receipt.fp}`
    return { ...s, receipt, receiptUrl: displayUrl ?? own }
  })
}
