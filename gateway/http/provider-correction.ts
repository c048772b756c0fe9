import type { Kysely } from 'kysely'
import { receiptFromReport } from '../atol/receipt-result.js'
import type { AtolCorrectionRequest, AtolReportPayload } from '../atol/atol.types.js'
import type { Database } from '../db/schema.js'
import { providerReceiptView } from './provider-receipt-view.js'
import type { ReceiptView } from './receipt-view.js'

/**
 * The page of a correction receipt a cloud kassa's FN signed: the body sent (`correction`) and the
 * provider's report, shown as a sale receipt's page is, titled and with its basis.
 */
export async function findProviderCorrectionView(db: Kysely<Database>, fn: string, fd: number): Promise<{ fp: string; view: ReceiptView } | null> {
  const row = await db.selectFrom('audit_corrections as c').innerJoin('kassas as k', 'k.id', 'c.kassa_id')
    .select(['c.fp', 'c.total', 'c.request', 'c.report', 'c.machine_id', 'c.interval_audit_id', 'c.base_date', 'k.name', 'k.inn', 'k.sno', 'k.time_zone'])
    .where('c.fn', '=', fn).where('c.fd', '=', fd).where('c.status', '=', 'done').where('c.provider', '<>', 'emulated').executeTakeFirst()
  if (!row || row.fp === null || row.report === null) return null
  const r = receiptFromReport(row.report as AtolReportPayload, { operation: 'sell', timeZone: row.time_zone })
  if (!r.ok) return null
  const { correction } = row.request as AtolCorrectionRequest
  const { correction_info: info, ...receipt } = correction
  const view = providerReceiptView({
    fn, fd, fp: row.fp, operation: 1, signed_at: r.receipt.signedAt, shift: r.receipt.shift, receipt_in_shift: r.receipt.receiptInShift,
    total: row.total, reg_number: r.receipt.regNumber, qr: r.receipt.qr, ofd_receipt_url: r.receipt.ofdReceiptUrl ?? null,
    kassa_name: row.name, inn: row.inn, sno: row.sno, time_zone: row.time_zone, machine_id: row.machine_id,
    request: { ...(row.request as AtolCorrectionRequest), receipt },
  })
  return {
    fp: row.fp,
    view: {
      ...view, title: 'Кассовый чек коррекции',
      correction: { type: info.type === 'self' ? 'самостоятельно' : 'по предписанию', date: row.base_date, order: info.base_number ?? null, interval: row.interval_audit_id },
    },
  }
}
