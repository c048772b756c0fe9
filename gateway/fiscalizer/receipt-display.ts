import type { ReceiptDisplay } from '../../protocol/index.js'
import type { SignedDocument } from '../fiscal/fn.types.js'
import { fiscalLocalTime, receiptQr } from '../fiscal/index.js'

/** The display message for a signed receipt: the QR the customer scans and the receipt page URL. */
export function receiptDisplay(saleId: string, doc: SignedDocument, fn: string, timeZone: string, publicUrl: string): ReceiptDisplay {
  return {
    v: 1,
    type: 'receipt',
    saleId,
    qr: receiptQr(doc, fn, timeZone),
    url: receiptUrl(publicUrl, fn, doc.fd, doc.fp),
    fiscal: {
      fn,
      fd: doc.fd,
      fp: doc.fp,
      shift: doc.shift,
      receiptInShift: doc.receiptInShift ?? 0,
      at: fiscalLocalTime(doc.signedAt, timeZone).iso,
      total: doc.total,
      kind: doc.operation === 2 ? 'refund' : 'sale',
    },
  }
}

export function receiptUrl(publicUrl: string, fn: string, fd: number, fp: string): string {
  return `${publicUrl}/r/${fn}/${fd}?fp=${fp}`
}
