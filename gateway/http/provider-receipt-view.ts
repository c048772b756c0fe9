import { formatRubles } from '../../protocol/index.js'
import { rublesToKopecks } from '../atol/amounts.js'
import type { AtolVatType } from '../atol/atol.types.js'
import { fiscalLocalTime } from '../fiscal/index.js'
import type { StoredProviderReceipt } from './provider-receipt.repository.js'
import { SNO_LABELS, type ReceiptView } from './receipt-view.js'

const VAT_LABELS: Record<AtolVatType, string> = {
  none: 'Без НДС', vat0: 'НДС 0%', vat5: 'НДС 5%', vat7: 'НДС 7%', vat10: 'НДС 10%', vat22: 'НДС 22%',
  vat105: 'НДС 5/105', vat107: 'НДС 7/107', vat110: 'НДС 10/110', vat122: 'НДС 22/122',
}

const rubles = (n: number): string => formatRubles(rublesToKopecks(n) ?? 0)

/**
 * The receipt page of a receipt a cloud kassa's FN signed: items, place and payments from the request
 * the provider signed, fiscal data from its report. The item VAT is the provider's to compute and is
 * not in its report, so it is not shown.
 */
export function providerReceiptView(r: StoredProviderReceipt): ReceiptView {
  const receipt = r.request.receipt
  const paid = (type: number) => receipt.payments.filter((p) => p.type === type).reduce((s, p) => s + (rublesToKopecks(p.sum) ?? 0), 0)
  const cash = paid(0)
  const electronic = paid(1)
  return {
    title: 'Кассовый чек',
    test: r.fn.startsWith('9999'),
    operation: r.operation === 2 ? 'Возврат прихода' : 'Приход',
    seller: { name: r.kassa_name, inn: r.inn, sno: SNO_LABELS[r.sno] ?? r.sno },
    kassa: { regNumber: r.reg_number, fn: r.fn },
    machine: { id: r.machine_id, number: receipt.device_number, address: receipt.company.location, place: receipt.company.payment_address },
    items: receipt.items.map((i) => ({
      name: i.name, price: rubles(i.price), qty: i.quantity, sum: rubles(i.sum), vat: VAT_LABELS[i.vat.type], vatSum: null,
    })),
    total: formatRubles(r.total),
    totalKopecks: r.total,
    cash: cash > 0 ? formatRubles(cash) : null,
    electronic: electronic > 0 ? formatRubles(electronic) : null,
    fiscal: {
      fd: r.fd, fp: r.fp, shift: r.shift, receiptInShift: r.receipt_in_shift,
      at: fiscalLocalTime(r.signed_at, r.time_zone).iso, qr: r.qr,
    },
    correction: null,
  }
}
