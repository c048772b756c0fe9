// Builds the body of `POST {group}/sell` or `{group}/sell_refund` from a sale. Pure: no I/O, no clock.
import { createHash } from 'node:crypto'
import { MAX_KOPECKS, type PaymentMethod, type SaleItem, type VatRate } from '../../protocol/index.js'
import type { KassaIdentity, MachinePlace } from '../fiscal/fn.types.js'
import { kopecksToRubles } from './amounts.js'
import { formatAtolDateTime } from './atol-time.js'
import { AtolSellRequestSchema, type AtolSellRequest, type AtolVatType } from './atol.types.js'

/** Our VAT enum → ATOL `vat.type`. A Record, so a new rate fails to compile until it is mapped. */
export const ATOL_VAT: Readonly<Record<VatRate, AtolVatType>> = {
  none: 'none', vat0: 'vat0', vat5: 'vat5', vat7: 'vat7', vat10: 'vat10', vat22: 'vat22',
  vat5_105: 'vat105', vat7_107: 'vat107', vat10_110: 'vat110', vat22_122: 'vat122',
}

/** ATOL payment `type`: 0 cash (1031), 1 electronic (1081); a card and SBP are both electronic. */
export const ATOL_PAYMENT_TYPE: Readonly<Record<PaymentMethod, 0 | 1>> = { cash: 0, card: 1, sbp: 1 }

export interface ReceiptRequestOptions {
  /**
   * Tag 1008. ATOL's API demands a buyer e-mail or phone; a vending buyer gives none, so a kassa
   * configures a fixed contact (usually the seller's own mailbox, which then receives a copy of every
   * receipt). Omitted when not configured, for providers or groups that do not require it.
   */
  client?: { email: string } | { phone: string }
  /** Tag 1117, the seller's e-mail. */
  companyEmail?: string
  /** Where ATOL POSTs the final result; we poll reports, so normally unset. */
  callbackUrl?: string
}

export interface ReceiptRequestInput {
  /** inn and sno go to `company`; timeZone makes `timestamp` the kassa's wall-clock time. */
  kassa: Pick<KassaIdentity, 'inn' | 'sno' | 'timeZone'>
  machine: MachinePlace
  items: readonly SaleItem[]
  paymentMethod: PaymentMethod
  /** Σ price × qty, kopecks; checked against the items. */
  total: number
  externalId: string
  now: Date
}

export type ReceiptRequestResult = { ok: true; request: AtolSellRequest } | { ok: false; reason: string }

/** The same body serves a sale (`sell`) and its refund (`sell_refund`): the endpoint sets tag 1054. */
export function buildReceiptRequest(input: ReceiptRequestInput, options: ReceiptRequestOptions = {}): ReceiptRequestResult {
  let sum = 0
  for (const item of input.items) {
    const itemSum = item.price * item.qty
    // ATOL caps price and sum at 42 949 672.95 ₽; our sale schema caps only the price.
    if (itemSum > MAX_KOPECKS) return { ok: false, reason: `item ${item.sku} sum ${itemSum} exceeds ATOL's limit ${MAX_KOPECKS}` }
    sum += itemSum
  }
  if (sum !== input.total) return { ok: false, reason: `total ${input.total} does not equal the items' sum ${sum}` }
  if (input.total > MAX_KOPECKS) return { ok: false, reason: `total ${input.total} exceeds ATOL's limit ${MAX_KOPECKS}` }

  const body = {
    external_id: input.externalId,
    timestamp: formatAtolDateTime(input.now, input.kassa.timeZone),
    ...(options.callbackUrl !== undefined && { service: { callback_url: options.callbackUrl } }),
    receipt: {
      ...(options.client !== undefined && { client: { ...options.client } }),
      company: {
        ...(options.companyEmail !== undefined && { email: options.companyEmail }),
        sno: input.kassa.sno,
        inn: input.kassa.inn,
        payment_address: input.machine.place, // 1187
        location: input.machine.address, // 1009
      },
      items: input.items.map((item) => ({
        name: item.name,
        price: kopecksToRubles(item.price),
        quantity: item.qty,
        sum: kopecksToRubles(item.price * item.qty),
        measure: 0, // 2108: pieces
        payment_method: 'full_payment' as const, // 1214 = 4: paid in full at the vend
        payment_object: 1, // 1212 = 1: goods
        vat: { type: ATOL_VAT[item.vat] },
      })),
      payments: [{ type: ATOL_PAYMENT_TYPE[input.paymentMethod], sum: kopecksToRubles(input.total) }],
      total: kopecksToRubles(input.total),
      device_number: input.machine.number, // 1036
    },
  }
  // The strict schema catches lengths and formats (INN, 1036 ≤ 20, 1187/1009 ≤ 256) before ATOL does.
  const parsed = AtolSellRequestSchema.safeParse(body)
  if (!parsed.success) {
    return { ok: false, reason: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') }
  }
  return { ok: true, request: parsed.data }
}

/**
 * external_id of one attempt to fiscalize one sale: `{machineId}/{saleId}/{attempt}`.
 * ATOL keeps external_ids unique forever per group, failed ones too, so:
 *  - it derives from the sale's permanent identity, (machineId, saleId), not a database row id,
 *    which restarts when a database is recreated and would then collide with old documents
 *    (a collision answers "duplicate" with someone else's receipt);
 *  - a timeout resends the same attempt; only a `fail` moves to attempt + 1.
 * Machine ids hold no `/`, so the first `/` ends the machine id. When the text would pass ATOL's
 * 128 characters, the sale id is replaced by its SHA-256 (base64url, 43 characters).
 */
export function atolExternalId(machineId: string, saleId: string, attempt: number): string {
  if (!Number.isSafeInteger(attempt) || attempt < 1) throw new RangeError(`attempt must be ≥ 1, got ${attempt}`)
  const plain = `${machineId}/${saleId}/${attempt}`
  if (plain.length <= 128) return plain
  const hashed = createHash('sha256').update(saleId).digest('base64url')
  return `${machineId}/#${hashed}/${attempt}`
}
