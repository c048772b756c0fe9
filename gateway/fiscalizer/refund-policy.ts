import { saleContentKey, type SaleContent } from '../../protocol/index.js'
import type { ClaimedSale, RefundOriginal } from './fiscal.repository.js'

export type RefundDecision =
  | { action: 'sign'; original: RefundOriginal }
  | { action: 'wait'; reason: string }
  | { action: 'refuse'; reason: string }

/**
 * What to do with a refund (a failed vend): sign a возврат прихода of the original sale's items,
 * wait while the original is still being fiscalized, or refuse with a reason the machine shows.
 * `refundedInBatch` holds originals already refunded earlier in the same batch.
 */
export function decideRefund(refund: ClaimedSale, originals: readonly RefundOriginal[], refundedInBatch: ReadonlySet<string>): RefundDecision {
  const named = refund.refund_of ?? ''
  const own = originals.find((o) => o.machine_id === refund.machine_id && o.sale_id === named)
  if (!own) {
    return originals.some((o) => o.sale_id === named)
      ? { action: 'refuse', reason: `sale ${named} belongs to another machine` }
      : { action: 'refuse', reason: `sale ${named} is unknown` }
  }
  if (own.kind === 'refund') return { action: 'refuse', reason: `sale ${named} is itself a refund` }
  if (own.state === 'pending' || own.state === 'submitted') return { action: 'wait', reason: `sale ${named} is not fiscalized yet` }
  if (own.state === 'failed') return { action: 'refuse', reason: `sale ${named} has no receipt to refund` }
  if (own.refunded || refundedInBatch.has(named)) return { action: 'refuse', reason: `sale ${named} is already refunded` }
  return { action: 'sign', original: own }
}

/** A refund row to rewrite: the receipt is of the original's items and total, and the row must say what was signed. */
export interface RefundAlignment {
  id: number
  items: RefundOriginal['items']
  paymentMethod: RefundOriginal['payment_method']
  total: number
  /** What the machine sent, kept beside (sales.declared): it still tells a repeat from a conflict. */
  declared: SaleContent
}

/**
 * A refund is signed for its original's items, payment and total whatever the machine sent
 * (docs/contract.md, "Refunds"). When what it sent differs, its row is rewritten to the signed
 * content; null when they agree.
 */
export function refundAlignment(refund: ClaimedSale, original: RefundOriginal): RefundAlignment | null {
  const declared: SaleContent = { kind: 'refund', refundOf: refund.refund_of, items: refund.items, method: refund.payment_method, total: refund.total }
  const signed: SaleContent = { ...declared, items: original.items, method: original.payment_method, total: original.total }
  if (saleContentKey(declared) === saleContentKey(signed)) return null
  return { id: refund.id, items: original.items, paymentMethod: original.payment_method, total: original.total, declared }
}
