import type { SaleListItem } from './sale-list.repository.js'

// The sales journal as rows for an accountant: one row a sale, in the kassa's local time, amounts
// in rubles with a comma. Pure: the route feeds it pages and writes CSV or XLSX.
export const JOURNAL_COLUMNS = [
  'Дата и время', 'Автомат', 'Касса', 'Продажа', 'Вид', 'Товары', 'Сумма, ₽', 'Оплата', 'Состояние', 'ФН', 'ФД', 'ФП', 'Чек',
] as const

const KIND = { sale: 'приход', refund: 'возврат прихода' } as const
const PAYMENT: Record<string, string> = { card: 'карта', cash: 'наличные', sbp: 'СБП' }
const STATE: Record<string, string> = { pending: 'ждёт чека', submitted: 'в кассе', done: 'чек', failed: 'отказ' }

const formats = new Map<string, Intl.DateTimeFormat>()
/** `02.12.2026 03:34:05` in `timeZone`, as on a printed receipt (with seconds, for a journal). */
export function localDateTime(at: Date, timeZone: string): string {
  let f = formats.get(timeZone)
  if (!f) formats.set(timeZone, (f = new Intl.DateTimeFormat('ru-RU', { timeZone, day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit', hourCycle: 'h23' })))
  return f.format(at).replace(',', '')
}

/** 12050 → "120,50"; a refund is negative. Integer arithmetic only. */
export function rubles(kop: number): string {
  const abs = Math.abs(kop)
  return `${kop < 0 ? '-' : ''}${Math.trunc(abs / 100)},${String(abs % 100).padStart(2, '0')}`
}

export type JournalRow = string[]

export function journalRow(s: SaleListItem, timeZone: string): JournalRow {
  return [
    localDateTime(new Date(s.soldAt), timeZone), s.machineId, s.kassaId, s.saleId, KIND[s.kind],
    s.items.map((i) => `${i.name} × ${i.qty}`).join('; '), rubles(s.kind === 'refund' ? -s.total : s.total),
    PAYMENT[s.paymentMethod] ?? s.paymentMethod, STATE[s.state] ?? s.state,
    s.receipt?.fn ?? '', s.receipt ? String(s.receipt.fd) : '', s.receipt?.fp ?? '', s.receiptUrl ?? '',
  ]
}

/** Text from machines (item names) that a spreadsheet would run as a formula gets a leading `'`. */
export const defuse = (v: string): string => (/^[=+@\t\r]|^-[^\d]/.test(v) ? `'${v}` : v)

/** RFC 4180 CSV with `;` (what Excel expects in a Russian locale) and a BOM, so Excel reads UTF-8. */
export function toCsv(rows: readonly JournalRow[]): string {
  const cell = (raw: string) => {
    const v = defuse(raw)
    return /[";\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v
  }
  return `\uFEFF${[[...JOURNAL_COLUMNS], ...rows].map((r) => r.map(cell).join(';')).join('\r\n')}\r\n`
}
