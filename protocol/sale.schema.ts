import { z } from 'zod'
import { MAX_KOPECKS } from './money.js'
import { safeString } from './text.js'

/** Payload limits of a sale (docs/contract.md#saleevent): at most 16 KiB and 50 items. */
export const SALE_MAX_BYTES = 16 * 1024
export const SALE_MAX_ITEMS = 50

export const VAT_RATES = [
  'none', 'vat0', 'vat5', 'vat7', 'vat10', 'vat22',
  'vat5_105', 'vat7_107', 'vat10_110', 'vat22_122',
] as const
export type VatRate = (typeof VAT_RATES)[number]

export const PAYMENT_METHODS = ['card', 'cash', 'sbp'] as const
export type PaymentMethod = (typeof PAYMENT_METHODS)[number]

/** Longest saleId a machine may use; a longer one is still read (up to SALE_ID_ANSWER_MAX) to answer it. */
export const SALE_ID_MAX = 64

/**
 * Sale times the gateway accepts, against its own clock: machines keep sales offline for days
 * (store-and-forward), but not for longer than the OFD's 30 days, and a clock ahead by more than
 * a day is wrong, not early. Outside the window the sale is refused (docs/contract.md).
 */
export const SALE_MAX_AGE_MS = 30 * 24 * 3600_000
export const SALE_MAX_AHEAD_MS = 24 * 3600_000

const kopecks = z.int().min(1).max(MAX_KOPECKS)

/** A string that can be stored, encoded in CP866 and shown as signed (protocol/text.ts). */
const text = (max: number) => safeString(max)

export const SaleItemSchema = z.strictObject({
  sku: text(64),
  // FFD 1.2 tag 1030 holds at most 128 characters.
  name: text(128),
  price: kopecks,
  qty: z.int().min(1).max(99_999),
  vat: z.enum(VAT_RATES),
})
export type SaleItem = z.infer<typeof SaleItemSchema>

export const SaleEventSchema = z
  .strictObject({
    v: z.literal(1),
    saleId: text(SALE_ID_MAX),
    at: z.iso.datetime({ offset: true }),
    kind: z.enum(['sale', 'refund']),
    refundOf: text(SALE_ID_MAX).optional(),
    items: z.array(SaleItemSchema).min(1).max(SALE_MAX_ITEMS),
    payment: z.strictObject({
      method: z.enum(PAYMENT_METHODS),
      amount: kopecks,
    }),
  })
  .superRefine((sale, ctx) => {
    if (sale.kind === 'refund' && sale.refundOf === undefined) {
      ctx.addIssue({ code: 'custom', path: ['refundOf'], message: 'a refund must name the sale it refunds' })
    }
    if (sale.kind === 'sale' && sale.refundOf !== undefined) {
      ctx.addIssue({ code: 'custom', path: ['refundOf'], message: 'only a refund may carry refundOf' })
    }
    const total = saleTotal(sale.items)
    if (total !== sale.payment.amount) {
      ctx.addIssue({
        code: 'custom',
        path: ['payment', 'amount'],
        message: `payment.amount ${sale.payment.amount} does not equal the items' total ${total}`,
      })
    }
  })
export type SaleEvent = z.infer<typeof SaleEventSchema>

/** Σ price × qty in kopecks. Each term is below 2^32 · 10^5, so the sum stays a safe integer. */
export function saleTotal(items: readonly Pick<SaleItem, 'price' | 'qty'>[]): number {
  return items.reduce((sum, item) => sum + item.price * item.qty, 0)
}

/** Widest UTC offset a stored time may carry (PostgreSQL refuses ±16:00 and beyond); real zones are within -12:00..+14:00. */
const OFFSET_MAX_HOURS = 15

/** Why a sale's time is refused against the gateway's clock `now`, or null. */
export function saleTimeProblem(at: string, now: Date): string | null {
  const offset = /([+-])(\d{2}):?\d{2}$/.exec(at)
  if (offset && Number(offset[2]) > OFFSET_MAX_HOURS) return `at: ${at} has a UTC offset beyond ±${OFFSET_MAX_HOURS}:59`
  const ms = Date.parse(at)
  if (ms < now.getTime() - SALE_MAX_AGE_MS) return `at: ${at} is more than ${SALE_MAX_AGE_MS / 86_400_000} days before the gateway's clock`
  if (ms > now.getTime() + SALE_MAX_AHEAD_MS) return `at: ${at} is more than ${SALE_MAX_AHEAD_MS / 3_600_000} hours after the gateway's clock`
  return null
}
