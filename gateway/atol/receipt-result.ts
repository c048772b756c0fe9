// Turns ATOL's `done` report payload into our receipt fields. Pure: no I/O.
import { formatReceiptQr } from '../../protocol/qr.js'
import { rublesToKopecks } from './amounts.js'
import { parseAtolDateTime, qrTimeFromAtol } from './atol-time.js'
import type { AtolOperation, AtolReportPayload } from './atol.types.js'

export interface AtolReceiptFields {
  /** FFD 1041. */
  fn: string
  /** FFD 1040. */
  fd: number
  /** The fiscal sign as shown to people and in the QR: up to 4294967295, so a string. */
  fp: string
  /** FFD 1038. */
  shift: number
  /** FFD 1042. */
  receiptInShift: number
  /** FFD 1012 as an instant (ATOL gives the kassa's wall-clock time). */
  signedAt: Date
  /** FFD 1020, kopecks. */
  total: number
  /** The FNS receipt string (tag 1196) for the machine's display. */
  qr: string
  /** Only some OFDs fill it (docs/fiscal.md §2). */
  ofdReceiptUrl?: string
  /** FFD 1037. */
  regNumber: string
}

export interface ReceiptResultContext {
  operation: AtolOperation
  /** The kassa's IANA zone: `receipt_datetime` is wall-clock time there. */
  timeZone: string
  /** When given, a payload whose total differs is refused: the provider signed something else. */
  expectedTotal?: number
}

export type ReceiptResult = { ok: true; receipt: AtolReceiptFields } | { ok: false; reason: string }

const MAX_FP = 4_294_967_295n

export function receiptFromReport(payload: AtolReportPayload, context: ReceiptResultContext): ReceiptResult {
  const fail = (reason: string): ReceiptResult => ({ ok: false, reason })

  if (!/^\d{16}$/.test(payload.fn_number)) return fail(`fn_number ${JSON.stringify(payload.fn_number)} is not 16 digits`)
  const fd = payload.fiscal_document_number
  if (!Number.isSafeInteger(fd) || fd < 1) return fail(`fiscal_document_number ${fd} is not a positive integer`)
  const fpValue = BigInt(payload.fiscal_document_attribute)
  if (fpValue > MAX_FP) return fail(`fiscal_document_attribute ${fpValue} exceeds 4294967295`)
  // BigInt → string drops leading zeros a string form may carry: the QR wants the plain decimal.
  const fp = fpValue.toString()

  const total = rublesToKopecks(payload.total)
  if (total === null) return fail(`total ${payload.total} is not a ruble amount with at most 2 decimals`)
  if (context.expectedTotal !== undefined && total !== context.expectedTotal) {
    return fail(`total ${total} differs from the sale's ${context.expectedTotal}`)
  }
  const signedAt = parseAtolDateTime(payload.receipt_datetime, context.timeZone)
  const t = qrTimeFromAtol(payload.receipt_datetime)
  if (signedAt === null || t === null) return fail(`receipt_datetime ${JSON.stringify(payload.receipt_datetime)} is not dd.mm.yyyy HH:MM:SS`)
  if (payload.shift_number < 1 || payload.fiscal_receipt_number < 1) {
    return fail(`shift_number ${payload.shift_number} / fiscal_receipt_number ${payload.fiscal_receipt_number} must be ≥ 1`)
  }

  const fn = payload.fn_number
  const receipt: AtolReceiptFields = {
    fn,
    fd,
    fp,
    shift: payload.shift_number,
    receiptInShift: payload.fiscal_receipt_number,
    signedAt,
    total,
    // t is copied from the kassa's own wall-clock text, not recomputed: it is what the FN signed.
    qr: formatReceiptQr({ t, s: total, fn, i: fd, fp, n: context.operation === 'sell' ? 1 : 2 }),
    regNumber: payload.ecr_registration_number.trim(),
  }
  if (payload.ofd_receipt_url) receipt.ofdReceiptUrl = payload.ofd_receipt_url
  return { ok: true, receipt }
}
