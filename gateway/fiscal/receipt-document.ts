// A vending receipt (FFD form 3, кассовый чек) as canonical FFD 1.2 TLV, signed by the FN.
// Field order is fixed here; the outer STLV tag 3 wraps the whole document (docs/fiscal.md §1.1).
import type { PaymentMethod, SaleItem } from '../../protocol/index.js'
import { fitText, headerFields, type DocumentHeader } from './document-header.js'
import { signDocument, type SignedTlv } from './fiscal-sign.js'
import type { MachinePlace, TaxSystem } from './fn.types.js'
import { toCp866Text } from './cp866.js'
import { tlvField, VLN_MAX, type TlvField } from './tlv.js'
import { receiptVatTotals, vatCode, vatSumForCode, type VatLine } from './vat.js'

/** FFD 1.2 tag 1055: the taxation system as the FFD bitmask (not OrangeData's 0–5). */
export const SNO_BITS: Readonly<Record<TaxSystem, number>> = {
  osn: 1,
  usn_income: 2,
  usn_income_outcome: 4,
  esn: 16,
  patent: 32,
}

/** FFD 1.2 tag 1036 holds at most 20 bytes; a machine number is never cut, it identifies the machine. */
export const MACHINE_NUMBER_MAX = 20

/** FFD 1212 = 1 goods; 1214 = 4 full payment (the vend is paid and done); 2108 = 0 pieces. */
const SUBJECT_GOODS = 1
const PAYMENT_FULL = 4
const MEASURE_PIECES = 0

export interface ReceiptInput extends DocumentHeader {
  /** FFD 1038. */
  shift: number
  /** FFD 1042, restarts at 1 in each shift. */
  receiptInShift: number
  /** FFD 1054: 1 приход, 2 возврат прихода. */
  operation: 1 | 2
  machine: MachinePlace
  items: readonly SaleItem[]
  paymentMethod: PaymentMethod
  /** FFD 1020, kopecks; must equal Σ price × qty. */
  total: number
}

export function itemFields(item: SaleItem, line: VatLine): TlvField {
  return tlvField(1059, [
    tlvField(1030, fitText(item.name, 128)), // item name
    tlvField(1079, item.price), // unit price, kopecks
    tlvField(1023, { mantissa: item.qty, scale: 0 }), // quantity, whole pieces
    tlvField(1043, line.sum), // item total = price × qty
    tlvField(1199, line.code), // VAT rate code
    tlvField(1200, line.vat), // item VAT, kept for every rate (0 for 0% and without VAT)
    tlvField(1212, SUBJECT_GOODS),
    tlvField(1214, PAYMENT_FULL),
    tlvField(2108, MEASURE_PIECES),
  ])
}

/** Each item's sum, VAT code and VAT (tags 1043, 1199, 1200). */
export function vatLines(items: readonly SaleItem[]): VatLine[] {
  return items.map((item) => {
    const code = vatCode(item.vat)
    const sum = item.price * item.qty
    return { code, sum, vat: vatSumForCode(sum, code) }
  })
}

/** The receipt's fields without 1077, in canonical order. */
export function receiptFields(input: ReceiptInput): TlvField[] {
  const lines = vatLines(input.items)
  const itemsTotal = lines.reduce((n, l) => n + l.sum, 0)
  if (itemsTotal !== input.total) {
    throw new RangeError(`receipt total ${input.total} does not equal the items' total ${itemsTotal}`)
  }
  return [
    ...headerFields(input),
    tlvField(1055, SNO_BITS[input.kassa.sno]), // taxation system bitmask
    tlvField(1054, input.operation), // признак расчета
    tlvField(1038, input.shift), // shift number
    tlvField(1042, input.receiptInShift), // receipt number in the shift
    tlvField(1036, input.machine.number), // machine number, required in vending (≤ 20, never cut)
    tlvField(1009, fitText(input.machine.address, 256)), // the machine's address
    tlvField(1187, fitText(input.machine.place, 256)), // the machine's place
    tlvField(1020, input.total), // total, kopecks
    // One payment covers the whole sale: 1031 cash, or 1081 electronic (card, SBP).
    tlvField(input.paymentMethod === 'cash' ? 1031 : 1081, input.total),
    ...input.items.map((item, i) => itemFields(item, lines[i] as VatLine)),
    ...receiptVatTotals(lines).map(({ tag, sum }) => tlvField(tag, sum)),
  ]
}

/**
 * Why a sale can never become a receipt, or null. These are the only ways receiptFields can
 * throw for a schema-valid sale, checked up front so the FN spends no document on it.
 */
export function receiptProblem(sale: Pick<ReceiptInput, 'machine' | 'items' | 'total'>): string | null {
  const number = toCp866Text(sale.machine.number)
  if (number.length === 0 || number.length > MACHINE_NUMBER_MAX) {
    return `machine number "${sale.machine.number}" must be 1–${MACHINE_NUMBER_MAX} characters (FFD tag 1036)`
  }
  if (sale.items.length === 0) return 'a receipt needs at least one item'
  for (const item of sale.items) {
    if (item.price * item.qty > VLN_MAX) return `item ${item.sku}: price × qty is over the 6-byte limit of tag 1043`
  }
  const total = sale.items.reduce((n, i) => n + i.price * i.qty, 0)
  if (total !== sale.total) return `total ${sale.total} does not equal the items' total ${total}`
  if (total > VLN_MAX) return 'the total is over the 6-byte limit of tag 1020'
  return null
}

/** Encodes and signs a receipt: its bytes (1077 last) and `fp`. */
export function buildReceipt(input: ReceiptInput, secret: Uint8Array): SignedTlv {
  return signDocument(3, receiptFields(input), secret)
}
