import type { ReceiptDisplay } from '../../protocol/index.js'
import type { AtolOperation } from '../atol/atol.types.js'
import type { AtolReceiptFields } from '../atol/receipt-result.js'
import { fiscalLocalTime } from '../fiscal/index.js'
import { receiptUrl } from './receipt-display.js'

/**
 * The display message for a receipt a cloud kassa signed: the same shape as the emulated FN's, with
 * the provider's FN numbers. The QR is the one built from the provider's report (its `t` copies the
 * kassa's wall-clock text the FN signed), and the URL opens our receipt page for that FN and FD.
 */
export function providerReceiptDisplay(
  saleId: string, r: AtolReceiptFields, operation: AtolOperation, timeZone: string, publicUrl: string,
): ReceiptDisplay {
  return {
    v: 1,
    type: 'receipt',
    saleId,
    qr: r.qr,
    url: receiptUrl(publicUrl, r.fn, r.fd, r.fp),
    fiscal: {
      fn: r.fn,
      fd: r.fd,
      fp: r.fp,
      shift: r.shift,
      receiptInShift: r.receiptInShift,
      at: fiscalLocalTime(r.signedAt, timeZone).iso,
      total: r.total,
      kind: operation === 'sell_refund' ? 'refund' : 'sale',
    },
  }
}
