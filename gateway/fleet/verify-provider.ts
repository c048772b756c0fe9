import { sql, type Kysely } from 'kysely'
import { parseReceiptQr } from '../../protocol/index.js'
import { receiptFromReport } from '../atol/receipt-result.js'
import type { AtolReportPayload } from '../atol/atol.types.js'
import type { Database } from '../db/schema.js'
import type { VerifyFailure } from './verify.js'

const PAGE = 5000
const MAX_FP = 4_294_967_295

type Row = {
  sale_row_id: number; fn: string; fd: number; fp: string; total: number; operation: number; qr: string
  machine_id: string; sale_id: string; kind: string; state: string; sale_fn: string | null; sale_fd: number | null
  sale_total: number; refund_total: number | null; attempt_id: number; attempt_sale: number | null; attempt_status: string | null
}

/**
 * What can be checked of receipts a cloud kassa's FN signed. Their fiscal sign cannot be recomputed:
 * the key lives in the provider's real FN, and the provider keeps the document. So: one receipt per
 * sale (the primary key), FN, FD and fp well formed, the total equal to the sale's (a refund: the
 * original's), the sale pointing at this FN and FD, the kind agreeing with 1054, the QR agreeing with
 * every stored field. Numbering is not checked for gaps: the FN's other documents (shift reports,
 * other groups' sales) are not ours to see; a repeat is impossible (unique fn, fd). Returns the count.
 */
export async function verifyProviderReceipts(db: Kysely<Database>, fail: (f: VerifyFailure) => void): Promise<number> {
  let count = 0
  for (let after = 0; ;) {
    const rows = await sql<Row>`
      select p.sale_row_id, p.fn, p.fd, p.fp, p.total, p.operation, p.qr, s.machine_id, s.sale_id, s.kind, s.state,
             s.fn as sale_fn, s.fd as sale_fd, s.total as sale_total, o.total as refund_total,
             p.attempt_id, a.sale_row_id as attempt_sale, a.status as attempt_status
      from provider_receipts p join sales s on s.id = p.sale_row_id
      left join atol_attempts a on a.id = p.attempt_id
      left join sales o on s.kind = 'refund' and o.machine_id = s.machine_id and o.sale_id = s.refund_of
      where p.sale_row_id > ${after} order by p.sale_row_id limit ${PAGE}`.execute(db)
    for (const r of rows.rows) {
      count++
      const at = (reason: string) => fail({ fn: r.fn, fd: r.fd, reason: `${reason} (sale ${r.machine_id}/${r.sale_id})` })
      if (!/^\d{16}$/.test(r.fn) || !Number.isSafeInteger(r.fd) || r.fd < 1) at('FN or FD malformed')
      if (!/^\d{1,10}$/.test(r.fp) || Number(r.fp) > MAX_FP) at(`fp ${JSON.stringify(r.fp)} missing or malformed`)
      if (r.sale_total !== r.total) at(`receipt total ${r.total} differs from its sale's ${r.sale_total}`)
      if (r.kind === 'refund' && r.refund_total === null) at('refund receipt has no original sale')
      else if (r.kind === 'refund' && r.refund_total !== r.total) at(`refund total ${r.total} differs from its original's ${r.refund_total}`)
      if (r.attempt_sale !== r.sale_row_id || r.attempt_status !== 'done') at(`its provider document (attempt ${r.attempt_id}) is ${r.attempt_status} for sale row ${r.attempt_sale}`)
      if ((r.kind === 'refund' ? 2 : 1) !== r.operation) at(`operation ${r.operation} does not fit a ${r.kind}`)
      if (r.state !== 'done' || r.sale_fn !== r.fn || r.sale_fd !== r.fd) at(`the sale is ${r.state} with FN ${r.sale_fn} FD ${r.sale_fd}`)
      const qr = parseReceiptQr(r.qr)
      if (!qr || qr.fn !== r.fn || qr.i !== r.fd || qr.fp !== r.fp || qr.s !== r.total || qr.n !== r.operation) at(`QR ${r.qr} disagrees with the receipt`)
    }
    if (rows.rows.length < PAGE) break
    after = rows.rows.at(-1)!.sale_row_id
  }
  // Every document a provider signed (a `done` attempt) is the receipt of exactly one sale: a sale
  // signed twice, or a signed document no sale holds, is money the books cannot account for.
  const stray = await sql<{ sale_row_id: number; uuid: string | null; machine_id: string; sale_id: string; done: number; held: number }>`
    select a.sale_row_id, min(a.uuid) as uuid, s.machine_id, s.sale_id, count(*)::int as done,
           count(p.sale_row_id)::int as held
    from atol_attempts a join sales s on s.id = a.sale_row_id
    left join provider_receipts p on p.attempt_id = a.id and p.sale_row_id = a.sale_row_id
    where a.status = 'done'
    group by a.sale_row_id, s.machine_id, s.sale_id
    having count(*) <> 1 or count(p.sale_row_id) <> 1`.execute(db)
  for (const r of stray.rows) {
    fail({ fn: '', fd: null, reason: `sale ${r.machine_id}/${r.sale_id} has ${r.done} provider documents signed, ${r.held} held as its receipt (uuid ${r.uuid})` })
  }
  return count
}

/**
 * Correction receipts a cloud kassa's FN signed (`done`): the provider's stored report read again
 * must give the stored FN, FD and fp and the interval's total, and the FD must be no sale receipt's.
 * Returns the count.
 */
export async function verifyProviderCorrections(db: Kysely<Database>, fail: (f: VerifyFailure) => void): Promise<number> {
  const { rows } = await sql<{ id: number; interval_audit_id: number; fn: string | null; fd: number | null; fp: string | null; total: number; report: unknown; time_zone: string; clash: boolean }>`
    select c.id, c.interval_audit_id, c.fn, c.fd, c.fp, c.total, c.report, k.time_zone,
           exists (select 1 from provider_receipts p where p.fn = c.fn and p.fd = c.fd) as clash
    from audit_corrections c join kassas k on k.id = c.kassa_id
    where c.provider <> 'emulated' and c.status = 'done' order by c.id`.execute(db)
  for (const r of rows) {
    const at = (reason: string) => fail({ fn: r.fn ?? '', fd: r.fd, reason: `${reason} (correction of interval ${r.interval_audit_id})` })
    const read = r.report === null ? null : receiptFromReport(r.report as AtolReportPayload, { operation: 'sell', timeZone: r.time_zone, expectedTotal: r.total })
    if (read === null) at('correction is done without the provider\'s report')
    else if (!read.ok) at(`the provider's report does not fit: ${read.reason}`)
    else if (read.receipt.fn !== r.fn || read.receipt.fd !== r.fd || read.receipt.fp !== r.fp) {
      at(`stored FN ${r.fn} FD ${r.fd} fp ${r.fp} differ from the provider's FN ${read.receipt.fn} FD ${read.receipt.fd} fp ${read.receipt.fp}`)
    }
    if (r.clash) at(`FD ${r.fd} is also a sale receipt's`)
  }
  return rows.length
}
