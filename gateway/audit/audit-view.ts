// The API's view of a stored audit and of the fleet's unreceipted intervals (pure).
import type { UnreceiptedInterval } from '../alerts/alert.types.js'
import type { AuditListRow } from './audit.repository.js'
import type { ElementValue } from './audit.types.js'
import type { IntervalReport } from './reconciliation.repository.js'

/** Elements every audit item names, null when the file has none. */
export const LISTED_ELEMENTS = ['ID101', 'VA101', 'VA102', 'VA103', 'VA104', 'CA201', 'CA202', 'DA201', 'DA202'] as const

export function auditItem(row: AuditListRow) {
  const s = row.summary
  const elements: Record<string, ElementValue> = {}
  for (const name of LISTED_ELEMENTS) elements[name] = s?.elements[name] ?? null
  return {
    id: row.id, receivedAt: row.received_at, hash: row.hash, status: row.status, reason: row.reason,
    crc: s?.crc ?? null, crcVariant: s?.crcVariant ?? null, decimals: s?.decimals ?? null, currency: s?.currency ?? null,
    complete: s?.complete ?? false, elements: { ...elements, ...(s?.elements ?? {}) }, products: s?.products ?? [],
    warnings: s?.warnings ?? [], otherBlocks: s?.otherBlocks ?? [],
  }
}

/** An unreceipted interval as the fleet-wide list shows it, with the cash/cashless split. */
export interface UnreceiptedRow extends UnreceiptedInterval {
  cash: number | null
  cashless: number | null
}

export function unreceiptedRow(r: IntervalReport): UnreceiptedRow {
  const d = r.difference!
  const unreceipted = r.unreceipted!
  return {
    machineId: r.machineId, intervalId: r.id, from: r.from, to: r.to, value: unreceipted.total, count: unreceipted.vends,
    cash: d.cash?.value ?? null, cashless: d.cashless?.value ?? null,
  }
}

const csvCell = (v: string | number | null): string => {
  const s = v === null ? '' : String(v)
  return /[",\n\r]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s
}

/** RFC 4180 CSV, amounts in rubles with two decimals (spreadsheets read them as numbers). */
export function unreceiptedCsv(rows: readonly UnreceiptedRow[]): string {
  const rub = (k: number | null) => (k === null ? null : (k / 100).toFixed(2))
  const lines = [['machine', 'interval', 'from', 'to', 'vends', 'amount_rub', 'cash_rub', 'cashless_rub'].join(',')]
  for (const r of rows) {
    lines.push([r.machineId, r.intervalId, r.from.toISOString(), r.to.toISOString(), r.count, rub(r.value), rub(r.cash), rub(r.cashless)].map(csvCell).join(','))
  }
  return `${lines.join('\r\n')}\r\n`
}
