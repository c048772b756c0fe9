// Builds the body of `POST {group}/sell_correction` (ATOL Online v5): a self-correction of приход for
// vends that got no receipt. The receipt part is built as for a sale (same items, VAT, place, 1036);
// it goes under the key `correction`, with `correction_info` and the audit's cash/electronic split.
import type { SaleItem } from '../../protocol/index.js'
import type { KassaIdentity, MachinePlace } from '../fiscal/fn.types.js'
import { kopecksToRubles } from './amounts.js'
import { AtolCorrectionRequestSchema, type AtolCorrectionRequest } from './atol.types.js'
import { buildReceiptRequest, type ReceiptRequestOptions } from './receipt-request.js'

export interface CorrectionRequestInput {
  kassa: Pick<KassaIdentity, 'inn' | 'sno' | 'timeZone'>
  machine: MachinePlace
  items: readonly SaleItem[]
  /** Kopecks paid in cash (1031, ATOL type 0) and electronically (1081, type 1). */
  cash: number
  ecash: number
  /** FFD 1178, YYYY-MM-DD on the kassa's calendar. */
  baseDate: string
  externalId: string
  now: Date
}

export type CorrectionRequestResult = { ok: true; request: AtolCorrectionRequest } | { ok: false; reason: string }

export function buildCorrectionRequest(input: CorrectionRequestInput, options: ReceiptRequestOptions = {}): CorrectionRequestResult {
  const built = buildReceiptRequest({ ...input, paymentMethod: 'cash', total: input.cash + input.ecash }, options)
  if (!built.ok) return built
  const { receipt, ...envelope } = built.request
  const [y, m, d] = input.baseDate.split('-')
  const payments = [
    ...(input.cash > 0 ? [{ type: 0, sum: kopecksToRubles(input.cash) }] : []),
    ...(input.ecash > 0 ? [{ type: 1, sum: kopecksToRubles(input.ecash) }] : []),
  ]
  const body = {
    ...envelope,
    // 1173 = 0 (self): no order number (1179 is only for corrections by order of the tax authority).
    correction: { ...receipt, payments, correction_info: { type: 'self', base_date: `${d}.${m}.${y}` } },
  }
  const parsed = AtolCorrectionRequestSchema.safeParse(body)
  if (!parsed.success) return { ok: false, reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') }
  return { ok: true, request: parsed.data }
}

/**
 * external_id of an interval's correction: unique forever per group, as ATOL keeps them (failed
 * documents included). A resend of one attempt reuses it; only a confirmed `fail` (nothing signed)
 * moves on to the next attempt, which gets its own: `…/2`, `…/3`.
 */
export function correctionExternalId(machineId: string, intervalId: number, attempt = 1): string {
  const first = `correction/${machineId}/${intervalId}`
  return attempt === 1 ? first : `${first}/${attempt}`
}

/** The attempt an external_id of correctionExternalId names (1 for anything else). */
export function correctionAttempt(externalId: string | null, machineId: string, intervalId: number): number {
  const rest = externalId?.slice(correctionExternalId(machineId, intervalId).length) ?? ''
  return /^\/\d+$/.test(rest) ? Number(rest.slice(1)) : 1
}
