import { formatReceiptQr, formatRubles } from '../../protocol/index.js'
import { decodeDocument, fiscalLocalTime } from '../fiscal/index.js'
import type { StoredReceipt } from './receipt.repository.js'

const VAT_LABELS: Record<number, string> = {
  1: 'НДС 20%', 2: 'НДС 10%', 3: 'НДС 20/120', 4: 'НДС 10/110', 5: 'НДС 0%', 6: 'Без НДС',
  7: 'НДС 5%', 8: 'НДС 7%', 9: 'НДС 5/105', 10: 'НДС 7/107', 11: 'НДС 22%', 12: 'НДС 22/122',
}
export const SNO_LABELS: Record<string, string> = {
  osn: 'ОСН', usn_income: 'УСН доход', usn_income_outcome: 'УСН доход − расход', esn: 'ЕСХН', patent: 'ПСН',
}
const DOC_TITLES: Record<number, string> = { 2: 'Отчёт об открытии смены', 3: 'Кассовый чек', 5: 'Отчёт о закрытии смены', 31: 'Кассовый чек коррекции' }

/**
 * What the receipt page shows, in JSON too: the document as signed, item names included (their
 * CP866 form: a character CP866 lacks shows as the nearest equivalent the FN signed, not as sent).
 */
export interface ReceiptView {
  title: string
  test: boolean
  operation: 'Приход' | 'Возврат прихода' | null
  seller: { name: string; inn: string; sno: string }
  kassa: { regNumber: string; fn: string }
  machine: { id: string | null; number: string | null; address: string | null; place: string | null }
  items: { name: string; price: string; qty: number; sum: string; vat: string; vatSum: string | null }[]
  total: string
  totalKopecks: number
  cash: string | null
  electronic: string | null
  fiscal: { fd: number; fp: string; shift: number; receiptInShift: number | null; at: string; qr: string | null }
  /** A correction receipt's basis: self-correction (1173 = 0) or by order, the date corrected (1178), the interval. */
  correction: { type: 'самостоятельно' | 'по предписанию'; date: string; order: string | null; interval: number | null } | null
}

export function receiptView(r: StoredReceipt): ReceiptView {
  const doc = decodeDocument(r.tlv)
  const local = fiscalLocalTime(r.signed_at, r.time_zone)
  const isReceipt = r.type === 3 || r.type === 31
  return {
    title: DOC_TITLES[r.type] ?? `Документ ${r.type}`,
    test: r.fn.startsWith('9999'),
    operation: !isReceipt ? null : r.operation === 2 ? 'Возврат прихода' : 'Приход',
    seller: { name: r.kassa_name, inn: r.inn, sno: SNO_LABELS[r.sno] ?? r.sno },
    kassa: { regNumber: r.reg_number, fn: r.fn },
    machine: { id: r.machine_id, number: doc.machineNumber, address: doc.address, place: doc.place },
    items: doc.items.map((item) => ({
      name: item.name,
      price: formatRubles(item.price),
      qty: item.quantity.mantissa / 10 ** item.quantity.scale,
      sum: formatRubles(item.sum),
      vat: VAT_LABELS[item.vatCode] ?? String(item.vatCode),
      vatSum: item.vatSum === null ? null : formatRubles(item.vatSum),
    })),
    total: formatRubles(r.total),
    totalKopecks: r.total,
    cash: doc.cash ? formatRubles(doc.cash) : null,
    electronic: doc.ecash ? formatRubles(doc.ecash) : null,
    fiscal: {
      fd: r.fd, fp: r.fp, shift: r.shift, receiptInShift: r.receipt_in_shift, at: local.iso,
      qr: isReceipt
        ? formatReceiptQr({ t: local.qrT, s: r.total, fn: r.fn, i: r.fd, fp: r.fp, n: r.operation ?? 1 })
        : null,
    },
    correction: r.type !== 31 || doc.correctionDate === null ? null : {
      type: doc.correctionType === 1 ? 'по предписанию' : 'самостоятельно',
      date: new Date(doc.correctionDate * 1000).toISOString().slice(0, 10),
      order: doc.correctionOrder, interval: r.correction_interval,
    },
  }
}
