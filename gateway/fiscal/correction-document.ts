// A correction receipt (FFD 1.2 form 31, кассовый чек коррекции) as canonical TLV, signed by the FN:
// a self-correction (1173 = 0) of приход (1054 = 1) for vends made without a receipt. Its basis
// (1174) carries the date of those vends (1178) and no order number (1179 is for corrections by
// order of the tax authority). Items, VAT and the machine's 1036/1009/1187 are as on a receipt.
import { fitText, headerFields, type DocumentHeader } from './document-header.js'
import { signDocument, type SignedTlv } from './fiscal-sign.js'
import type { CorrectionToSign } from './fn.types.js'
import { itemFields, SNO_BITS, vatLines } from './receipt-document.js'
import { tlvField, type TlvField } from './tlv.js'
import { receiptVatTotals, type VatLine } from './vat.js'

export const CORRECTION_RECEIPT = 31
/** FFD 1173: 0 = самостоятельно (self), 1 = по предписанию. */
export const CORRECTION_SELF = 0

export interface CorrectionInput extends DocumentHeader, CorrectionToSign {
  shift: number
  receiptInShift: number
}

/** YYYY-MM-DD → FFD unixtime of that date's midnight, local time written as if UTC (as 1012). */
export function baseDateSeconds(date: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})$/.exec(date)
  if (!m) throw new RangeError(`base date ${date}: expected YYYY-MM-DD`)
  return Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3])) / 1000
}

export function correctionFields(input: CorrectionInput): TlvField[] {
  const lines = vatLines(input.items)
  const total = lines.reduce((n, l) => n + l.sum, 0)
  if (total !== input.cash + input.ecash) throw new RangeError(`correction items add up to ${total}, payments to ${input.cash + input.ecash}`)
  if (total <= 0) throw new RangeError('a correction receipt needs a positive total')
  return [
    ...headerFields(input),
    tlvField(1055, SNO_BITS[input.kassa.sno]),
    tlvField(1054, 1), // приход: the vends were sales
    tlvField(1173, CORRECTION_SELF),
    tlvField(1174, [tlvField(1178, baseDateSeconds(input.baseDate))]),
    tlvField(1038, input.shift),
    tlvField(1042, input.receiptInShift),
    tlvField(1036, input.machine.number),
    tlvField(1009, fitText(input.machine.address, 256)),
    tlvField(1187, fitText(input.machine.place, 256)),
    tlvField(1020, total),
    ...(input.cash > 0 ? [tlvField(1031, input.cash)] : []),
    ...(input.ecash > 0 ? [tlvField(1081, input.ecash)] : []),
    ...input.items.map((item, i) => itemFields(item, lines[i] as VatLine)),
    ...receiptVatTotals(lines).map(({ tag, sum }) => tlvField(tag, sum)),
  ]
}

export function buildCorrection(input: CorrectionInput, secret: Uint8Array): SignedTlv {
  return signDocument(CORRECTION_RECEIPT, correctionFields(input), secret)
}
