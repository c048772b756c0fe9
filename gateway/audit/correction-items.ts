// The items of a correction receipt, from what an interval left unreceipted. Pure.
import type { SaleItem, VatRate } from '../../protocol/index.js'
import type { AuditProduct, ElementValue } from './audit.types.js'
import { counterDelta } from './counter-delta.js'

export interface SkuFigures { qty: number; value: number }

export interface CorrectionItemsInput {
  /** Unreceipted kopecks and vends of the interval. */
  total: number
  vends: number
  before: readonly AuditProduct[]
  after: readonly AuditProduct[]
  /** Raw → kopecks factor of the audit (10^(2 − ID401)). */
  scale: number
  /** Receipted per product id (sku) in the interval, refunds subtracted. */
  receipted: ReadonlyMap<string, SkuFigures>
  /** Name and VAT of each product as the machine's sales carried them. */
  catalogue: ReadonlyMap<string, { name: string; vat: VatRate }>
  /** The VAT of the kassa's sales, for products it never sold with a receipt. */
  defaultVat: VatRate
}

/** Name of the one item a correction carries when the audit cannot say which products were sold. */
export const AGGREGATE_ITEM_NAME = 'Товары автомата, проданные без чека (по аудиту EVA-DTS)'

const num = (v: ElementValue | undefined): number => (typeof v === 'number' ? v : 0)

/**
 * One item per product whose PA2 counters (paid count and value since initialisation) grew by more
 * than its receipts, when those add up to exactly the unreceipted amount and vends and each has a
 * whole price; otherwise one item for the whole amount. Items carry the product's name and VAT as
 * its sales did (the kassa's usual VAT for a product never receipted).
 */
export function correctionItems(input: CorrectionItemsInput): SaleItem[] {
  const before = new Map(input.before.filter((p) => p.id !== null).map((p) => [p.id!, p]))
  const items: SaleItem[] = []
  for (const p of input.after) {
    if (p.id === null) continue
    const prev = before.get(p.id)
    const dCount = counterDelta(num(prev?.pa2[0]), num(p.pa2[0]), 8, Math.max(1000, input.vends * 10))
    const dValue = counterDelta(num(prev?.pa2[1]), num(p.pa2[1]), 8, 10 ** 8)
    if (dCount === null || dValue === null) return [aggregate(input)]
    const r = input.receipted.get(p.id) ?? { qty: 0, value: 0 }
    const qty = dCount.delta - r.qty
    const value = dValue.delta * input.scale - r.value
    if (qty === 0 && value === 0) continue
    if (qty <= 0 || value <= 0 || value % qty !== 0) return [aggregate(input)]
    const known = input.catalogue.get(p.id)
    items.push({ sku: p.id, name: known?.name ?? p.name ?? `Товар ${p.id}`, price: value / qty, qty, vat: known?.vat ?? input.defaultVat })
  }
  const value = items.reduce((n, i) => n + i.price * i.qty, 0)
  const qty = items.reduce((n, i) => n + i.qty, 0)
  return items.length > 0 && value === input.total && qty === input.vends ? items : [aggregate(input)]
}

function aggregate(input: CorrectionItemsInput): SaleItem {
  const perVend = input.vends > 0 && input.total % input.vends === 0
  return {
    sku: 'AUDIT', name: AGGREGATE_ITEM_NAME, price: perVend ? input.total / input.vends : input.total,
    qty: perVend ? input.vends : 1, vat: input.defaultVat,
  }
}
