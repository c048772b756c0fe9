import { sql, type Kysely } from 'kysely'
import type { FleetReport } from '../../device-sim/fleet.js'
import type { Database } from '../../gateway/db/schema.js'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'

// What a chaos run proves, read from both ends: what the machines saw (the fleet report and every
// receipt they received) and what the database holds (documents, numbering, signs).

/** A receipt a machine accepted as the answer to its sale. */
export interface SeenReceipt { machineId: string; saleId: string; fn: string; fd: number; fp: string }

export interface DatabaseFindings {
  /** Receipt documents (type 3) stored. */
  receipts: number
  /** Sales with more than one receipt document, or whose receipt differs from what the machine showed. */
  duplicateReceipts: number
  /** Sales stored but not done (pending, submitted or failed). */
  notDone: number
  fdGaps: number
  signFailures: number
  /** Every failure `fleet verify` reports (gaps and signs included). */
  verifyFailures: number
  verifyExamples: string[]
}

export async function inspectDatabase(db: Kysely<Database>, seen: readonly SeenReceipt[]): Promise<DatabaseFindings> {
  const receipts = await sql<{ n: number }>`select count(*)::int as n from fiscal_documents where type = 3`.execute(db)
  const twice = await sql<{ n: number }>`
    select count(*)::int as n from (select sale_row_id from fiscal_documents where sale_row_id is not null
      group by sale_row_id having count(*) > 1) t`.execute(db)
  const notDone = await sql<{ n: number }>`select count(*)::int as n from sales where state <> 'done'`.execute(db)
  // A machine showing a receipt other than the one stored for its sale is a second receipt too.
  let differing = 0
  for (let i = 0; i < seen.length; i += 10_000) {
    const chunk = seen.slice(i, i + 10_000).map((r) => ({ m: r.machineId, s: r.saleId, fn: r.fn, fd: r.fd, fp: r.fp }))
    const rows = await sql<{ n: number }>`
      select count(*)::int as n
      from jsonb_to_recordset(${JSON.stringify(chunk)}::jsonb) as v(m text, s text, fn text, fd int, fp text)
      left join sales s on s.machine_id = v.m and s.sale_id = v.s
      left join fiscal_documents d on d.sale_row_id = s.id and d.type = 3
      where d.fn is distinct from v.fn or d.fd is distinct from v.fd or d.fp is distinct from v.fp`.execute(db)
    differing += rows.rows[0]!.n
  }
  const report = await verifyFiscalData(db)
  const reasons = report.failures.map((f) => f.reason)
  // The report lists at most 100 failures; counts beyond that are attributed by the same mix.
  const scale = reasons.length === 0 ? 0 : report.failureCount / reasons.length
  const count = (pattern: RegExp) => Math.round(reasons.filter((r) => pattern.test(r)).length * scale)
  return {
    receipts: receipts.rows[0]!.n,
    duplicateReceipts: twice.rows[0]!.n + differing,
    notDone: notDone.rows[0]!.n,
    fdGaps: count(/missing|repeated|counter says/),
    signFailures: count(/fiscal sign|fp .* differs|malformed document/),
    verifyFailures: report.failureCount,
    verifyExamples: reasons.slice(0, 5),
  }
}

export interface ChaosCounts {
  gatewayKills: number
  brokerRestarts: number
  dbCuts: number
  /** Whether some gateway answered /readyz with 503 during a database cut. */
  notReadyDuringCut: boolean | null
  maxGatewayRssMb: number
  gatewayCrashes: number
}

export interface ChaosVerdict extends ChaosCounts {
  ok: boolean
  sent: number
  receipted: number
  /** Sales the fleet never got a receipt for. */
  lost: number
  rejected: number
  duplicateReceipts: number
  fdGaps: number
  signFailures: number
  verifyFailures: number
  receiptsInDatabase: number
  notDoneInDatabase: number
  republished: number
  latencyMs: { p50: number; p99: number; max: number }
  problems: string[]
}

export function chaosVerdict(fleet: FleetReport, db: DatabaseFindings, counts: ChaosCounts): ChaosVerdict {
  const lost = fleet.unanswered + Math.max(0, fleet.sent - fleet.receipted - fleet.rejected - fleet.unanswered)
  const duplicateReceipts = fleet.duplicates + fleet.conflicts + db.duplicateReceipts
  const problems: string[] = []
  if (lost > 0) problems.push(`${lost} sales never got a receipt`)
  if (fleet.rejected > 0) problems.push(`${fleet.rejected} valid sales were rejected`)
  if (duplicateReceipts > 0) problems.push(`${duplicateReceipts} duplicate or conflicting receipts`)
  if (db.receipts !== fleet.sent) problems.push(`${db.receipts} receipt documents for ${fleet.sent} sales`)
  if (db.notDone > 0) problems.push(`${db.notDone} stored sales are not done`)
  if (db.verifyFailures > 0) problems.push(`verify: ${db.verifyFailures} failures, e.g. ${db.verifyExamples.join('; ')}`)
  if (counts.gatewayCrashes > 0) problems.push(`${counts.gatewayCrashes} gateway exits nobody caused`)
  return {
    ok: problems.length === 0,
    sent: fleet.sent,
    receipted: fleet.receipted,
    lost,
    rejected: fleet.rejected,
    duplicateReceipts,
    fdGaps: db.fdGaps,
    signFailures: db.signFailures,
    verifyFailures: db.verifyFailures,
    receiptsInDatabase: db.receipts,
    notDoneInDatabase: db.notDone,
    republished: fleet.republished,
    latencyMs: { p50: fleet.latencyMs.p50, p99: fleet.latencyMs.p99, max: fleet.latencyMs.max },
    ...counts,
    problems,
  }
}
