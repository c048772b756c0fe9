// The fiscal core's public API: pure, no I/O. The fiscalizer, the receipt page and `fleet verify`
// import from here.
export * from './fn.types.js'
export { cp866Decode, cp866Encode, toCp866Text, CP866_UNKNOWN } from './cp866.js'
export { FFD_TAGS, type TlvType } from './ffd-tags.js'
export { decodeTlv, encodeTlv, tlvField, TlvError, VLN_MAX, type FixedPoint, type TlvField, type TlvValue } from './tlv.js'
export { VAT_CODES, receiptVatTotals, vatCode, vatSum, vatSumForCode, type VatLine } from './vat.js'
export { fiscalLocalTime, type FiscalLocalTime } from './fiscal-time.js'
export { fiscalSign, fpFromSign, signDocument, signingBytesOf, signMatches, type SignedTlv } from './fiscal-sign.js'
export { FFD_VERSION_1_2, fitText, type DocumentHeader } from './document-header.js'
export { MACHINE_NUMBER_MAX, SNO_BITS, buildReceipt, receiptFields, receiptProblem, type ReceiptInput } from './receipt-document.js'
export {
  SHIFT_CLOSE, SHIFT_OPEN, buildShiftClose, buildShiftOpen, shiftCloseFields, shiftOpenFields,
  type ShiftCloseInput, type ShiftOpenInput,
} from './shift-report.js'
export { DEFAULT_MAX_SHIFT_MS, SHIFT_LIMIT_MS, SHIFT_SAFETY_MS, fnExpiresAt } from './fn-limits.js'
export { closeShiftIfDue, newFnState, receiptQr, signCorrection, signSales, type NewFnStateInput } from './fn.js'
export { CORRECTION_RECEIPT, CORRECTION_SELF, baseDateSeconds, buildCorrection, correctionFields, type CorrectionInput } from './correction-document.js'
export { fnHealth, type FnHealth } from './fn-health.js'
export { decodeDocument, verifyDocument, verifyNumbering, type DecodedDocument, type DecodedItem, type NumberingReport, type VerifyResult } from './verify.js'
