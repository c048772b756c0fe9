import type { Kysely } from 'kysely'
import { parseAtolConfig } from '../atol/atol-clients.js'
import { atolExternalId, buildReceiptRequest, type ReceiptRequestOptions } from '../atol/receipt-request.js'
import type { Database } from '../db/schema.js'
import { enqueueDisplays } from '../display/outbox.repository.js'
import { alignRefunds, kassaIdentity, deferSales, failSales, pendingSales, refundOriginals, type ClaimedSale } from './fiscal.repository.js'
import { claimAtolKassa, submitSales, type FirstAttempt } from './atol.repository.js'
import type { BatchResult } from './emulated.signer.js'
import { decideRefund, refundAlignment, type RefundAlignment } from './refund-policy.js'

export interface AtolSignerOptions {
  batchMax: number
  now: () => Date
  /** Base of the callback URL (`{base}/atol/callback/{kassaId}`); undefined: results are polled only. */
  callbackUrl: string | undefined
}

const NOT_CLAIMED: BatchResult = { claimed: false, taken: 0, signed: 0, displays: [], blocked: null }

/**
 * The first half of an asynchronous signer: in one short transaction under the kassa's claim, the
 * oldest pending sales get their request built and attempt 1 recorded, and become `submitted`.
 * The HTTP happens after the commit, in the poller (atol.poller.ts), so no transaction stays open
 * across a provider's seconds; a crash after the commit leaves attempts that any gateway resends
 * under the same external_id. Refunds carry the original sale's items (refund-policy.ts).
 */
export async function submitPendingBatch(db: Kysely<Database>, kassaId: string, opts: AtolSignerOptions): Promise<BatchResult> {
  return db.transaction().execute(async (tx) => {
    const kassaRow = await claimAtolKassa(tx, kassaId)
    if (!kassaRow) return NOT_CLAIMED
    const parsed = parseAtolConfig(kassaRow.provider_config)
    // A kassa nobody can submit for keeps its sales pending; the worker backs off and retries.
    if (!parsed.ok) return { ...NOT_CLAIMED, claimed: true, blocked: { code: 'provider_config', message: parsed.reason } }
    const config = parsed.config
    const sales = await pendingSales(tx, kassaId, opts.batchMax)
    if (sales.length === 0) return { ...NOT_CLAIMED, claimed: true }

    const kassa = kassaIdentity(kassaRow)
    const options: ReceiptRequestOptions = {
      ...(config.clientEmail !== undefined && { client: { email: config.clientEmail } }),
      ...(config.clientPhone !== undefined && { client: { phone: config.clientPhone } }),
      ...(config.companyEmail !== undefined && { companyEmail: config.companyEmail }),
      ...(opts.callbackUrl !== undefined && { callbackUrl: `${opts.callbackUrl}/atol/callback/${encodeURIComponent(kassaId)}` }),
    }
    const originals = await refundOriginals(tx, sales.filter((s) => s.kind === 'refund'))
    const attempts: FirstAttempt[] = []
    const refused: { sale: ClaimedSale; reason: string }[] = []
    const waiting: number[] = []
    const refundedInBatch = new Set<string>()
    const aligned: RefundAlignment[] = []
    const now = opts.now()
    for (const sale of sales) {
      let signed = { items: sale.items, paymentMethod: sale.payment_method, total: sale.total }
      if (sale.kind === 'refund') {
        const decision = decideRefund(sale, originals, refundedInBatch)
        if (decision.action === 'refuse') { refused.push({ sale, reason: decision.reason }); continue }
        if (decision.action === 'wait') { waiting.push(sale.id); continue }
        refundedInBatch.add(decision.original.sale_id)
        const alignment = refundAlignment(sale, decision.original)
        if (alignment) aligned.push(alignment)
        signed = { items: decision.original.items, paymentMethod: decision.original.payment_method, total: decision.original.total }
      }
      const externalId = atolExternalId(sale.machine_id, sale.sale_id, 1)
      const built = buildReceiptRequest({
        kassa, machine: { number: sale.number, address: sale.address, place: sale.place }, ...signed, externalId, now,
      }, options)
      if (!built.ok) { refused.push({ sale, reason: built.reason }); continue }
      attempts.push({ saleRowId: sale.id, kassaId, externalId, operation: sale.kind === 'refund' ? 'sell_refund' : 'sell', request: built.request })
    }

    await submitSales(tx, attempts)
    await failSales(tx, refused.map(({ sale, reason }) => ({ id: sale.id, reason })))
    await deferSales(tx, waiting, 'waiting for the refunded sale to be fiscalized')
    const submitted = new Set(attempts.map((a) => a.saleRowId))
    await alignRefunds(tx, aligned.filter((a) => submitted.has(a.id)))
    const displays = await enqueueDisplays(tx, refused.map(({ sale, reason }) => ({
      machineId: sale.machine_id, saleId: sale.sale_id, payload: { v: 1 as const, type: 'rejected' as const, saleId: sale.sale_id, reason },
    })))
    return { claimed: true, taken: attempts.length + refused.length + waiting.length, signed: 0, displays, blocked: null }
  })
}
