// Shift open (FFD form 2) and shift close (FFD form 5) reports. They are fiscal documents: they
// take the next FD number and are signed like receipts (docs/fiscal.md §3.2).
import { headerFields, type DocumentHeader } from './document-header.js'
import { fiscalLocalTime } from './fiscal-time.js'
import { signDocument, type SignedTlv } from './fiscal-sign.js'
import { tlvField, type TlvField } from './tlv.js'

export const SHIFT_OPEN = 2
export const SHIFT_CLOSE = 5

export interface ShiftOpenInput extends DocumentHeader {
  /** FFD 1038 of the shift being opened. */
  shift: number
}

export interface ShiftCloseInput extends ShiftOpenInput {
  /** FFD 1118: receipts signed in this shift. */
  receiptsInShift: number
  /** FFD 1111: fiscal documents of this shift, its open report and this close report included. */
  documentsInShift: number
  /** FFD 1097: documents the OFD has not confirmed, this report included. */
  unsentCount: number
  /** FFD 1098: when the first of them was signed. */
  firstUnsentAt: Date
}

export function shiftOpenFields(input: ShiftOpenInput): TlvField[] {
  return [...headerFields(input), tlvField(1038, input.shift)]
}

export function shiftCloseFields(input: ShiftCloseInput): TlvField[] {
  return [
    ...headerFields(input),
    tlvField(1038, input.shift),
    tlvField(1118, input.receiptsInShift),
    tlvField(1111, input.documentsInShift),
    tlvField(1097, input.unsentCount),
    // Local wall clock as if UTC, like 1012.
    tlvField(1098, fiscalLocalTime(input.firstUnsentAt, input.kassa.timeZone).unixLocal),
  ]
}

export function buildShiftOpen(input: ShiftOpenInput, secret: Uint8Array): SignedTlv {
  return signDocument(SHIFT_OPEN, shiftOpenFields(input), secret)
}

export function buildShiftClose(input: ShiftCloseInput, secret: Uint8Array): SignedTlv {
  return signDocument(SHIFT_CLOSE, shiftCloseFields(input), secret)
}
