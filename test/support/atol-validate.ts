// How the ATOL Online v5 double (atol-server.ts) checks a sell body on its own, not with the
// gateway's zod schemas, so that a bug there is not mirrored here.

const SNO = ['osn', 'usn_income', 'usn_income_outcome', 'envd', 'esn', 'patent']
const VAT = ['none', 'vat0', 'vat5', 'vat7', 'vat10', 'vat20', 'vat22', 'vat105', 'vat107', 'vat110', 'vat120', 'vat122']
const PAYMENT_METHODS = ['full_prepayment', 'prepayment', 'advance', 'full_payment', 'partial_payment', 'credit', 'credit_payment']
const MAX_KOPECKS = 4_294_967_295n

export const isObject = (v: unknown): v is Record<string, any> => typeof v === 'object' && v !== null && !Array.isArray(v)
const isText = (v: unknown, max: number): v is string => typeof v === 'string' && v.length >= 1 && v.length <= max

/** A JSON money number → kopecks, only when it has at most 2 decimals and is within ATOL's limit. */
function kopecks(v: unknown): bigint | null {
  if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) return null
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(String(v))
  if (!m) return null
  const k = BigInt(m[1]!) * 100n + BigInt((m[2] ?? '').padEnd(2, '0'))
  return k <= MAX_KOPECKS ? k : null
}

/** Why the double refuses a sell body, or null when it passes. */
export function invalidReason(body: unknown, requireClient: boolean, inn: string | undefined): string | null {
  if (!isObject(body)) return 'body is not a JSON object'
  if (!isText(body.external_id, 128)) return 'external_id: 1..128 characters'
  if (typeof body.timestamp !== 'string' || !/^\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}:\d{2}$/.test(body.timestamp)) return 'timestamp: dd.mm.yyyy HH:MM:SS'
  const r = body.receipt
  if (!isObject(r)) return 'receipt is missing'
  if (requireClient && !(isObject(r.client) && (isText(r.client.email, 64) || isText(r.client.phone, 19)))) return 'receipt.client: email or phone is required'
  const c = r.company
  if (!isObject(c)) return 'receipt.company is missing'
  if (!SNO.includes(c.sno)) return `company.sno ${JSON.stringify(c.sno)} is unknown`
  if (typeof c.inn !== 'string' || !/^(\d{10}|\d{12})$/.test(c.inn)) return 'company.inn: 10 or 12 digits'
  if (inn !== undefined && c.inn !== inn) return `company.inn ${c.inn} differs from the FN's INN`
  // A vending group needs the machine's place (1187), address (1009) and number (1036) on every receipt.
  if (!isText(c.payment_address, 256) || !isText(c.location, 256)) return 'company.payment_address and location: 1..256 characters'
  if (!isText(r.device_number, 20)) return 'device_number: 1..20 characters'
  if (!Array.isArray(r.items) || r.items.length < 1 || r.items.length > 100) return 'items: 1..100'
  let itemsTotal = 0n
  for (const [i, item] of r.items.entries()) {
    if (!isObject(item) || !isText(item.name, 128)) return `items[${i}].name: 1..128 characters`
    const price = kopecks(item.price)
    const sum = kopecks(item.sum)
    if (price === null || sum === null) return `items[${i}]: price and sum must be rubles with at most 2 decimals`
    const q = typeof item.quantity === 'number' ? /^(\d+)(?:\.(\d{1,3}))?$/.exec(String(item.quantity)) : null
    if (!q || item.quantity <= 0 || item.quantity > 99_999.999) return `items[${i}].quantity: up to 99999.999 with 3 decimals`
    const milli = BigInt(q[1]!) * 1000n + BigInt((q[2] ?? '').padEnd(3, '0'))
    if (price * milli !== sum * 1000n) return `items[${i}].sum must equal price × quantity`
    if (!Number.isInteger(item.measure) || item.measure < 0 || item.measure > 255) return `items[${i}].measure: 0..255`
    if (!PAYMENT_METHODS.includes(item.payment_method)) return `items[${i}].payment_method is unknown`
    if (!Number.isInteger(item.payment_object) || item.payment_object < 1 || item.payment_object > 33) return `items[${i}].payment_object: 1..33`
    if (!isObject(item.vat) || !VAT.includes(item.vat.type)) return `items[${i}].vat.type is unknown`
    itemsTotal += sum
  }
  const total = kopecks(r.total)
  if (total === null || total !== itemsTotal) return 'total must equal the sum of items'
  if (!Array.isArray(r.payments) || r.payments.length < 1 || r.payments.length > 10) return 'payments: 1..10'
  let paid = 0n
  for (const p of r.payments) {
    const s = isObject(p) && Number.isInteger(p.type) && p.type >= 0 && p.type <= 9 ? kopecks(p.sum) : null
    if (s === null) return 'payments: {type 0..9, sum}'
    paid += s
  }
  return paid === total ? null : 'payments must add up to total'
}

/**
 * Why the double refuses a sell_correction body (a correction receipt, FFD 1.2 form 31), or null:
 * the document goes under `correction` (not `receipt`) with `correction_info` {type: self |
 * instruction, base_date dd.mm.yyyy, base_number only by instruction}; the rest is checked as a
 * sell receipt is.
 */
export function invalidCorrectionReason(body: unknown, requireClient: boolean, inn: string | undefined): string | null {
  if (!isObject(body)) return 'body is not a JSON object'
  if (body.receipt !== undefined) return 'sell_correction carries its document under `correction`, not `receipt`'
  const c = body.correction
  if (!isObject(c)) return 'correction is missing'
  const info = c.correction_info
  if (!isObject(info)) return 'correction.correction_info is missing'
  if (info.type !== 'self' && info.type !== 'instruction') return 'correction_info.type: self or instruction'
  if (typeof info.base_date !== 'string' || !/^\d{2}\.\d{2}\.\d{4}$/.test(info.base_date)) return 'correction_info.base_date: dd.mm.yyyy'
  if (info.type === 'instruction' ? !isText(info.base_number, 32) : info.base_number !== undefined) {
    return 'correction_info.base_number: the order number, given only for type instruction'
  }
  const { correction_info: _info, ...receipt } = c
  const { correction: _correction, ...envelope } = body
  const reason = invalidReason({ ...envelope, receipt }, requireClient, inn)
  return reason === null ? null : `correction: ${reason}`
}
