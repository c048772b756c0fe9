import type { PaymentMethod, SaleEvent, SaleItem } from './sale.schema.js'

/**
 * What makes a sale the sale it is: a repeat of a (machineId, saleId) is the same sale exactly
 * when this agrees (docs/contract.md, "Conflicts"). The time `at`, key order, spacing and the
 * order of items do not count; everything that reaches the receipt does.
 */
export interface SaleContent {
  kind: 'sale' | 'refund'
  refundOf: string | null
  items: readonly SaleItem[]
  method: PaymentMethod
  total: number
}

export function saleContent(event: SaleEvent): SaleContent {
  return { kind: event.kind, refundOf: event.refundOf ?? null, items: event.items, method: event.payment.method, total: event.payment.amount }
}

/** A canonical string of the content: equal strings, same sale. */
export function saleContentKey(c: SaleContent): string {
  const items = c.items.map((i) => JSON.stringify([i.sku, i.name, i.price, i.qty, i.vat])).sort()
  return JSON.stringify([c.kind, c.refundOf, c.method, c.total, items])
}
