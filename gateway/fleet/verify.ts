import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { baseDateSeconds, verifyDocument, verifyNumbering, type DecodedDocument } from '../fiscal/index.js'
import { verifyAtProvider, type ProviderCheckOptions } from './verify-at-provider.js'
import { verifyProviderCorrections, verifyProviderReceipts } from './verify-provider.js'

export interface VerifyFailure { fn: string; fd: number | null; reason: string }

export interface VerifyReport {
  ok: boolean
  fns: number
  documents: number
  receipts: number
  /** Correction receipts (form 31), each checked against the interval it corrects (a cloud kassa's: against the provider's report). */
  corrections: number
  /** Receipts signed by a cloud kassa's FN (checked without a sign: verify-provider.ts). */
  providerReceipts: number
  /** Provider attempts asked again at the provider (verify-at-provider.ts), and those that could not be. */
  providerChecked: number
  providerUnchecked: number
  failureCount: number
  /** The first 100 failures, each naming its document (a store with millions of documents stays within memory). */
  failures: VerifyFailure[]
}

const PAGE = 5000

interface CorrectionColumns {
  correction_total: number | null
  correction_cash: number | null
  correction_ecash: number | null
  correction_base_date: string | null
}

/**
 * What a correction receipt must say of the interval it corrects (docs/fiscal.md): a self-correction
 * (1173 = 0, no order number 1179) of приход (1054 = 1) for the interval's total, cash and electronic
 * amounts (1031, 1081), dated (1178) as the stored correction.
 */
function correctionProblem(doc: DecodedDocument, c: CorrectionColumns): string | null {
  if (c.correction_total === null) return 'correction receipt corrects no interval'
  if (doc.total !== c.correction_total) return `correction total ${doc.total} differs from its interval's ${c.correction_total}`
  if (doc.operation !== 1) return `correction 1054 = ${doc.operation}, expected 1 (приход)`
  if (doc.correctionType !== 0 || doc.correctionOrder !== null) return `correction 1173 = ${doc.correctionType}${doc.correctionOrder === null ? '' : ` with order ${doc.correctionOrder}`}, expected a self-correction (0)`
  if ((doc.cash ?? 0) !== c.correction_cash || (doc.ecash ?? 0) !== c.correction_ecash) {
    return `correction pays ${doc.cash ?? 0} cash and ${doc.ecash ?? 0} electronically, its interval ${c.correction_cash} and ${c.correction_ecash}`
  }
  const stored = c.correction_base_date !== null && /^\d{4}-\d{2}-\d{2}$/.test(c.correction_base_date) ? baseDateSeconds(c.correction_base_date) : null
  if (stored === null || doc.correctionDate !== stored) {
    return `correction basis date 1178 differs from its interval's ${c.correction_base_date}`
  }
  return null
}

/**
 * What an OFD checks of every stored document: the fiscal sign recomputed from the stored bytes,
 * the stored columns agreeing with the signed bytes, numbering 1…N per FN with no gap or repeat,
 * each receipt's total equal to its sale's stored total (and a refund's to its original's), each
 * fiscalized sale having its receipt, and each provider document belonging to exactly one sale. With a cloud
 * kassa's credentials at hand, every attempt is asked again at the provider (verify-at-provider.ts).
 */
export async function verifyFiscalData(db: Kysely<Database>, provider: ProviderCheckOptions = {}): Promise<VerifyReport> {
  const failures: VerifyFailure[] = []
  let failureCount = 0
  const fail = (f: VerifyFailure) => {
    failureCount++
    if (failures.length < 100) failures.push(f)
  }
  let documents = 0
  let receipts = 0
  let corrections = 0
  const drives = await db.selectFrom('fiscal_drives').select(['fn', 'secret', 'next_fd']).orderBy('fn').execute()
  for (const drive of drives) {
    const fds: number[] = []
    for (let after = 0; ;) {
      const rows = await sql<{ fd: number; fp: string; type: number; total: number; operation: number | null; tlv: Uint8Array; sale_total: number | null; refund_total: number | null; kind: string | null } & CorrectionColumns>`
        select d.fd, d.fp, d.type, d.total, d.operation, d.tlv, s.total as sale_total, o.total as refund_total, s.kind,
          c.total as correction_total, c.cash as correction_cash, c.ecash as correction_ecash, c.base_date as correction_base_date
        from fiscal_documents d
        left join sales s on s.id = d.sale_row_id
        left join sales o on s.kind = 'refund' and o.machine_id = s.machine_id and o.sale_id = s.refund_of
        left join audit_corrections c on d.type = 31 and c.fn = d.fn and c.fd = d.fd
        where d.fn = ${drive.fn} and d.fd > ${after} order by d.fd limit ${PAGE}`.execute(db)
      for (const row of rows.rows) {
        documents++
        fds.push(row.fd)
        const result = verifyDocument(row.tlv, drive.secret)
        if (!result.ok) { fail({ fn: drive.fn, fd: row.fd, reason: result.reason }); continue }
        const doc = result.doc
        if (doc.fn !== drive.fn || doc.fd !== row.fd) fail({ fn: drive.fn, fd: row.fd, reason: `signed bytes say FN ${doc.fn} FD ${doc.fd}` })
        if (doc.fp !== row.fp) fail({ fn: drive.fn, fd: row.fd, reason: `stored fp ${row.fp} differs from the signed ${doc.fp}` })
        if (row.type === 3) {
          receipts++
          if (doc.total !== row.total) fail({ fn: drive.fn, fd: row.fd, reason: `stored total ${row.total} differs from the signed ${doc.total}` })
          // The sale row says what was signed, and a refund is of its original's total.
          if (row.sale_total === null) fail({ fn: drive.fn, fd: row.fd, reason: 'receipt has no sale' })
          else if (row.sale_total !== doc.total) fail({ fn: drive.fn, fd: row.fd, reason: `receipt total ${doc.total} differs from its sale's ${row.sale_total}` })
          if (row.kind === 'refund' && row.refund_total !== doc.total) fail({ fn: drive.fn, fd: row.fd, reason: `refund total ${doc.total} differs from its original's ${row.refund_total}` })
        }
        if (row.type === 31) {
          corrections++
          const problem = correctionProblem(doc, row)
          if (problem) fail({ fn: drive.fn, fd: row.fd, reason: problem })
          if (doc.total !== row.total) fail({ fn: drive.fn, fd: row.fd, reason: `stored total ${row.total} differs from the signed ${doc.total}` })
        }
      }
      if (rows.rows.length < PAGE) break
      after = rows.rows.at(-1)!.fd
    }
    const last = fds.at(-1) ?? 0 // read in FD order
    const numbering = verifyNumbering(fds)
    for (const gap of numbering.gaps) fail({ fn: drive.fn, fd: gap.from, reason: `FD ${gap.from}–${gap.to} missing` })
    for (const fd of numbering.repeats) fail({ fn: drive.fn, fd, reason: `FD ${fd} repeated` })
    if (last !== drive.next_fd - 1) fail({ fn: drive.fn, fd: null, reason: `FN counter says ${drive.next_fd - 1} documents, ${last} stored` })
  }
  const providerReceipts = await verifyProviderReceipts(db, fail)
  const atProvider = await verifyAtProvider(db, fail, provider)
  corrections += await verifyProviderCorrections(db, fail)
  const orphans = await sql<{ machine_id: string; sale_id: string; fn: string | null }>`
    select s.machine_id, s.sale_id, s.fn from sales s
    where s.state = 'done' and s.fn is not null
      and not exists (select 1 from fiscal_documents d where d.sale_row_id = s.id and d.type = 3)
      and not exists (select 1 from provider_receipts p where p.sale_row_id = s.id)`.execute(db)
  for (const o of orphans.rows) fail({ fn: o.fn ?? '', fd: null, reason: `sale ${o.machine_id}/${o.sale_id} is done without a receipt` })
  return {
    ok: failureCount === 0, fns: drives.length, documents, receipts, corrections, providerReceipts,
    providerChecked: atProvider.checked, providerUnchecked: atProvider.unchecked, failureCount, failures,
  }
}
