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
