import { sql, type Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { machinesWithAuditsSince, reconcileMachine, type IntervalReport } from './reconciliation.repository.js'

/** How far back the fleet-wide list and the alert look for unreceipted intervals (days). */
export const FLEET_LOOKBACK_DAYS = 30

/**
 * Every machine's unreceipted intervals closed in the last FLEET_LOOKBACK_DAYS: one reconciliation
 * per machine that uploaded an audit in that window (machines without audits have nothing to say).
 */
export async function fleetUnreceipted(db: Kysely<Database>, now: Date, settleMs: number): Promise<IntervalReport[]> {
  const from = new Date(now.getTime() - FLEET_LOOKBACK_DAYS * 86_400_000)
  const out: IntervalReport[] = []
  for (const machineId of await machinesWithAuditsSince(db, from)) {
    const reports = await reconcileMachine(db, machineId, { from, now, settleMs })
    out.push(...reports.filter((r) => r.verdict === 'unreceipted'))
  }
  return out.sort((a, b) => b.to.getTime() - a.to.getTime())
}

/** Changes whenever an audit is stored or a correction issued: what the fleet's reconciliation depends on besides time. */
export async function reconciliationVersion(db: Kysely<Database>): Promise<string> {
  const { rows } = await sql<{ a: number | null; c: number | null }>`
    select (select max(id) from audits) as a, (select max(id) from audit_corrections) as c`.execute(db)
  return `${rows[0]?.a ?? 0}/${rows[0]?.c ?? 0}`
}
