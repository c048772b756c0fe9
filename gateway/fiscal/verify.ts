// What an OFD or an inspector does with a stored document: read it back, recompute the fiscal
// sign, check the sums add up, and check the FN's numbering has no gap and no repeat.
import { fpFromSign, signMatches } from './fiscal-sign.js'
import type { DocumentType } from './fn.types.js'
import { decodeTlv, TlvError, type FixedPoint, type TlvField, type TlvValue } from './tlv.js'
import { VAT_CODES, vatSumForCode } from './vat.js'

const VAT_CODES_KNOWN: ReadonlySet<number> = new Set(Object.values(VAT_CODES))

export interface DecodedItem {
  name: string
  price: number
  quantity: FixedPoint
  sum: number
  vatCode: number
  vatSum: number | null
  subject: number | null
  paymentMethod: number | null
  measure: number | null
}

export interface DecodedDocument {
  type: DocumentType
  ffdVersion: number
  fd: number
  fn: string
  /** Tag 1012: local wall-clock seconds as if UTC. */
  signedAtLocal: number
  regNumber: string
  inn: string
  userName: string | null
  shift: number
  receiptInShift: number | null
  operation: number | null
  sno: number | null
  machineNumber: string | null
  address: string | null
  place: string | null
  total: number | null
  cash: number | null
  ecash: number | null
  items: DecodedItem[]
  /** Correction receipts (form 31): 1173, and 1178 / 1179 from the basis 1174. */
  correctionType: number | null
  correctionDate: number | null
  correctionOrder: string | null
  /** Receipt-level 1102–1107, by tag. */
  vatTotals: Record<number, number>
  /** Close report counters: 1118, 1111, 1097, 1098 (local seconds). */
  receiptsInShift: number | null
  documentsInShift: number | null
  unsentCount: number | null
  firstUnsentLocal: number | null
  fiscalSign: Uint8Array
  fp: string
}

class Fields {
  constructor(private readonly fields: readonly TlvField[], private readonly where: string) {}
  get(tag: number): TlvValue | undefined {
    return this.fields.find((f) => f.tag === tag)?.value
  }
  all(tag: number): TlvValue[] {
    return this.fields.filter((f) => f.tag === tag).map((f) => f.value)
  }
  num(tag: number): number | null {
    const v = this.get(tag)
    return typeof v === 'number' ? v : null
  }
  str(tag: number): string | null {
    const v = this.get(tag)
    return typeof v === 'string' ? v : null
  }
  need<T>(tag: number, read: (tag: number) => T | null): T {
    const v = read.call(this, tag)
    if (v === null) throw new TlvError(`${this.where}: required tag ${tag} is missing`)
    return v
  }
}

function decodeItem(value: TlvValue): DecodedItem {
  const f = new Fields(value as readonly TlvField[], 'item 1059')
  const quantity = f.get(1023)
  if (typeof quantity !== 'object' || quantity instanceof Uint8Array || Array.isArray(quantity)) {
    throw new TlvError('item 1059: required tag 1023 is missing')
  }
  return {
    name: f.need(1030, f.str), price: f.need(1079, f.num), quantity: quantity as FixedPoint,
    sum: f.need(1043, f.num), vatCode: f.need(1199, f.num), vatSum: f.num(1200),
    subject: f.num(1212), paymentMethod: f.num(1214), measure: f.num(2108),
  }
}

/** Reads a stored document into a typed view. Throws TlvError when it is malformed. */
export function decodeDocument(tlv: Uint8Array): DecodedDocument {
  const outer = decodeTlv(tlv)
  const doc = outer[0]
  if (outer.length !== 1 || doc === undefined || ![2, 3, 5, 31].includes(doc.tag)) {
    throw new TlvError('expected one document: STLV tag 2, 3, 5 or 31')
  }
  const f = new Fields(doc.value as readonly TlvField[], `document ${doc.tag}`)
  const sign = f.get(1077)
  if (!(sign instanceof Uint8Array)) throw new TlvError('required tag 1077 is missing')
  const vatTotals: Record<number, number> = {}
  for (const tag of [1102, 1103, 1104, 1105, 1106, 1107]) {
    const v = f.num(tag)
    if (v !== null) vatTotals[tag] = v
  }
  const type = doc.tag as DocumentType
  const receipt = type === 3 || type === 31
  const basis = f.get(1174)
  const basisFields = Array.isArray(basis) ? new Fields(basis as readonly TlvField[], 'basis 1174') : null
  if (type === 31 && basisFields === null) throw new TlvError('correction receipt: required tag 1174 is missing')
  return {
    type,
    ffdVersion: f.need(1209, f.num), fd: f.need(1040, f.num), fn: f.need(1041, f.str),
    signedAtLocal: f.need(1012, f.num), regNumber: f.need(1037, f.str), inn: f.need(1018, f.str),
    userName: f.str(1048), shift: f.need(1038, f.num),
    receiptInShift: receipt ? f.need(1042, f.num) : null,
    operation: receipt ? f.need(1054, f.num) : null,
    sno: f.num(1055), machineNumber: f.str(1036), address: f.str(1009), place: f.str(1187),
    total: receipt ? f.need(1020, f.num) : null, cash: f.num(1031), ecash: f.num(1081),
    items: f.all(1059).map(decodeItem), vatTotals,
    correctionType: type === 31 ? f.need(1173, f.num) : null,
    correctionDate: basisFields === null ? null : basisFields.need(1178, basisFields.num),
    correctionOrder: basisFields?.str(1179) ?? null,
    receiptsInShift: f.num(1118), documentsInShift: f.num(1111), unsentCount: f.num(1097), firstUnsentLocal: f.num(1098),
    fiscalSign: sign, fp: fpFromSign(sign),
  }
}

export type VerifyResult = { ok: true; doc: DecodedDocument } | { ok: false; reason: string }

/** A receipt's sums: Σ1043 = 1020, each 1043 = 1079 × 1023, each 1200 as vat.ts rounds it, 1031 + 1081 = 1020. */
function receiptSumsProblem(doc: DecodedDocument): string | null {
  if (doc.items.length === 0) return 'a receipt has no items (1059)'
  for (const [i, item] of doc.items.entries()) {
    const { mantissa, scale } = item.quantity
    if (scale === 0 && item.price * mantissa !== item.sum) return `item ${i + 1}: 1079 × 1023 ≠ 1043`
    if (!VAT_CODES_KNOWN.has(item.vatCode)) return `item ${i + 1}: unknown VAT code 1199 = ${item.vatCode}`
    if (item.vatSum !== null && item.vatSum !== vatSumForCode(item.sum, item.vatCode)) return `item ${i + 1}: VAT 1200 is wrong`
  }
  const itemsTotal = doc.items.reduce((n, item) => n + item.sum, 0)
  if (itemsTotal !== doc.total) return `items add up to ${itemsTotal}, but 1020 is ${doc.total}`
  const paid = (doc.cash ?? 0) + (doc.ecash ?? 0)
  if (paid !== doc.total) return `1031 + 1081 = ${paid}, but 1020 is ${doc.total}`
  return null
}

/** Recomputes the fiscal sign with the FN's secret and checks a receipt's sums. */
export function verifyDocument(tlv: Uint8Array, secret: Uint8Array): VerifyResult {
  let doc: DecodedDocument
  try {
    doc = decodeDocument(tlv)
    if (!signMatches(tlv, secret)) return { ok: false, reason: `FD ${doc.fd}: fiscal sign 1077 does not match the document` }
  } catch (err) {
    if (err instanceof TlvError) return { ok: false, reason: `malformed document: ${err.message}` }
    throw err
  }
  const problem = doc.type === 3 || doc.type === 31 ? receiptSumsProblem(doc) : null
  return problem === null ? { ok: true, doc } : { ok: false, reason: `FD ${doc.fd}: ${problem}` }
}

export interface NumberingReport {
  ok: boolean
  /** Missing FD numbers as inclusive ranges, from 1 up to the highest seen. */
  gaps: { from: number; to: number }[]
  /** FD numbers seen more than once, ascending. */
  repeats: number[]
  /** Values that are no FD number at all (not an integer ≥ 1). */
  invalid: number[]
}

/** An FN numbers its documents 1, 2, 3 … with no gap and no repeat (README.md#fiscal-data). */
export function verifyNumbering(fds: readonly number[]): NumberingReport {
  const invalid = fds.filter((fd) => !Number.isSafeInteger(fd) || fd < 1)
  const sorted = fds.filter((fd) => Number.isSafeInteger(fd) && fd >= 1).sort((a, b) => a - b)
  const gaps: { from: number; to: number }[] = []
  const repeats: number[] = []
  let last = 0
  for (const fd of sorted) {
    if (fd === last) {
      if (repeats.at(-1) !== fd) repeats.push(fd)
    } else if (fd > last + 1) gaps.push({ from: last + 1, to: fd - 1 })
    last = fd
  }
  return { ok: gaps.length === 0 && repeats.length === 0 && invalid.length === 0, gaps, repeats, invalid }
}
