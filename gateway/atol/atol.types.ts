// ATOL Online v5 wire bodies (docs/fiscal.md §4.1; Ecom Kassa speaks the same protocol, §4.2).
// What we send is strict: an unknown or malformed field is our bug and must not reach a fiscal
// provider. What providers send is loose (extra fields pass through) so that a provider adding a
// field does not stop fiscalization; only the fields we read are checked.
import { z } from 'zod'
import { MAX_KOPECKS } from '../../protocol/money.js'
import { TAX_SYSTEMS } from '../fiscal/fn.types.js'
import { rublesToKopecks } from './amounts.js'

/** ATOL `vat.type` strings (FFD 1199); vat22/vat122 are the 2026 codes 11/12. */
export const ATOL_VAT_TYPES = [
  'none', 'vat0', 'vat5', 'vat7', 'vat10', 'vat22', 'vat105', 'vat107', 'vat110', 'vat122',
] as const
export type AtolVatType = (typeof ATOL_VAT_TYPES)[number]

/** FFD 1214 as ATOL strings; a vending sale is `full_payment` (4). */
export const ATOL_PAYMENT_METHODS = [
  'full_prepayment', 'prepayment', 'advance', 'full_payment', 'partial_payment', 'credit', 'credit_payment',
] as const

export const ATOL_OPERATIONS = ['sell', 'sell_refund'] as const
export type AtolOperation = (typeof ATOL_OPERATIONS)[number]

/** `dd.mm.yyyy HH:MM:SS`, the kassa's wall-clock time. */
export const ATOL_DATE_TIME_PATTERN = /^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}$/

// Rubles as a JSON number with at most 2 decimals, within ATOL's 42 949 672.95 ₽ limit.
const rubles = z.number().refine((n) => {
  const k = rublesToKopecks(n)
  return k !== null && k <= MAX_KOPECKS
}, 'rubles with at most 2 decimals, 0..42949672.95')

export const AtolGetTokenRequestSchema = z.strictObject({
  login: z.string().min(1).max(100),
  pass: z.string().min(1).max(100),
  source: z.string().max(100).optional(),
})
export type AtolGetTokenRequest = z.infer<typeof AtolGetTokenRequestSchema>

export const AtolItemSchema = z.strictObject({
  name: z.string().min(1).max(128), // 1030
  price: rubles, // 1079
  quantity: z.number().positive().max(99_999.999), // 1023
  sum: rubles, // 1043
  measure: z.int().min(0).max(255), // 2108, 0 = pieces
  payment_method: z.enum(ATOL_PAYMENT_METHODS), // 1214
  payment_object: z.int().min(1).max(33), // 1212, 1 = goods
  vat: z.strictObject({ type: z.enum(ATOL_VAT_TYPES), sum: rubles.optional() }), // 1199
})
export type AtolItem = z.infer<typeof AtolItemSchema>

export const AtolReceiptSchema = z.strictObject({
  // 1008: ATOL requires an e-mail or a phone even though a vending buyer gives none.
  client: z
    .strictObject({ email: z.string().min(3).max(64).optional(), phone: z.string().min(1).max(19).optional() })
    .refine((c) => c.email !== undefined || c.phone !== undefined, 'client needs email or phone')
    .optional(),
  company: z.strictObject({
    email: z.string().min(3).max(64).optional(), // 1117
    sno: z.enum(TAX_SYSTEMS), // 1055
    inn: z.string().regex(/^(\d{10}|\d{12})$/), // 1018, checked by ATOL against the FN
    payment_address: z.string().min(1).max(256), // 1187: the place where the machine stands
    location: z.string().min(1).max(256), // 1009: the machine's address
  }),
  items: z.array(AtolItemSchema).min(1).max(100),
  // 0 cash (1031), 1 electronic (1081).
  payments: z.array(z.strictObject({ type: z.int().min(0).max(9), sum: rubles })).min(1).max(10),
  total: rubles, // 1020
  cashier: z.string().min(1).max(64).optional(), // 1021: none at an unattended machine
  device_number: z.string().min(1).max(20), // 1036: machine number, required in vending
})
export type AtolReceipt = z.infer<typeof AtolReceiptSchema>

export const AtolSellRequestSchema = z.strictObject({
  external_id: z.string().min(1).max(128),
  timestamp: z.string().regex(ATOL_DATE_TIME_PATTERN),
  service: z.strictObject({ callback_url: z.string().min(1).max(256) }).optional(),
  receipt: AtolReceiptSchema,
})
/** The body of `POST {group}/sell` and `{group}/sell_refund` (the same shape for both). */
export type AtolSellRequest = z.infer<typeof AtolSellRequestSchema>

// ---- Provider responses (tolerant) ----

/**
 * A correction receipt (FFD 1.2 form 31) at `POST {group}/sell_correction`: the receipt's fields
 * under the key `correction`, plus `correction_info` (1173 `self` = 0 | `instruction` = 1; 1178
 * `base_date` dd.mm.yyyy; 1179 `base_number` only by order of the tax authority).
 */
export const AtolCorrectionRequestSchema = z.strictObject({
  external_id: z.string().min(1).max(128),
  timestamp: z.string().regex(ATOL_DATE_TIME_PATTERN),
  service: z.strictObject({ callback_url: z.string().min(1).max(256) }).optional(),
  correction: AtolReceiptSchema.extend({
    correction_info: z.strictObject({
      type: z.enum(['self', 'instruction']),
      base_date: z.string().regex(/^\d{2}\.\d{2}\.\d{4}$/),
      base_number: z.string().min(1).max(32).optional(),
    }),
  }),
})
export type AtolCorrectionRequest = z.infer<typeof AtolCorrectionRequestSchema>

/** `{error_id, code, text, type}`; type is `system` | `driver` | `timeout` | … (kept open). */
export const AtolErrorSchema = z.looseObject({
  error_id: z.string().nullish(),
  code: z.union([z.int(), z.string().regex(/^\d+$/).transform(Number)]),
  text: z.string().nullish().transform((t) => t ?? ''),
  type: z.string().nullish().transform((t) => t ?? ''),
})
export type AtolProviderError = z.infer<typeof AtolErrorSchema>

export const AtolGetTokenResponseSchema = z.looseObject({
  token: z.string().min(1).nullish(),
  error: AtolErrorSchema.nullish(),
  timestamp: z.string().nullish(),
})

/** Immediate answer to sell/sell_refund: `{uuid, status: 'wait', error: null, timestamp}`, or an error body. */
export const AtolRegisterResponseSchema = z.looseObject({
  uuid: z.string().min(1).nullish(),
  status: z.string().nullish(),
  error: AtolErrorSchema.nullish(),
  timestamp: z.string().nullish(),
})

export const AtolReportPayloadSchema = z.looseObject({
  total: z.number(),
  fns_site: z.string().nullish(),
  fn_number: z.string(),
  shift_number: z.int(),
  receipt_datetime: z.string(),
  fiscal_receipt_number: z.int(),
  fiscal_document_number: z.int(),
  ecr_registration_number: z.string(),
  // 1077 as a decimal up to 4294967295 (> int32): a number in ATOL's JSON, a string in ours.
  fiscal_document_attribute: z.union([z.int().min(0).max(4_294_967_295), z.string().regex(/^\d{1,10}$/)]),
  ofd_inn: z.string().nullish(),
  ofd_receipt_url: z.string().nullish(),
})
export type AtolReportPayload = z.infer<typeof AtolReportPayloadSchema>

export const AtolReportResponseSchema = z.looseObject({
  uuid: z.string().nullish(),
  status: z.string(), // wait | done | fail; anything else is a protocol fault, not a parse failure
  error: AtolErrorSchema.nullish(),
  payload: AtolReportPayloadSchema.nullish(),
  timestamp: z.string().nullish(),
  group_code: z.string().nullish(),
  daemon_code: z.string().nullish(),
  device_code: z.string().nullish(),
  callback_url: z.string().nullish(),
  external_id: z.string().nullish(),
})
export type AtolReportResponse = z.infer<typeof AtolReportResponseSchema>

/** Any non-200 answer: `{error: {…}}`, sometimes with a uuid (a duplicate external_id). */
export const AtolErrorResponseSchema = z.looseObject({ error: AtolErrorSchema, uuid: z.string().nullish() })
