import { z } from 'zod'
import { MAX_KOPECKS } from './money.js'

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

const kopecks = z.int().min(1).max(MAX_KOPECKS)

export const SaleItemSchema = z.strictObject({
  sku: z.string().min(1).max(64),
  // FFD 1.2 tag 1030 holds at most 128 characters.
  name: z.string().min(1).max(128),
  price: kopecks,
  qty: z.int().min(1).max(99_999),
  vat: z.enum(VAT_RATES),
})
export type SaleItem = z.infer<typeof SaleItemSchema>

export const SaleEventSchema = z
  .strictObject({
    v: z.literal(1),
    saleId: z.string().min(1).max(64),
    at: z.iso.datetime({ offset: true }),
    kind: z.enum(['sale', 'refund']),
    refundOf: z.string().min(1).max(64).optional(),
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
