import type { Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { recentConflictsByMachine } from '../operator/conflict-list.repository.js'
import { listKassaStates } from '../operator/kassa-state.repository.js'
import { listMachineStates, usualHours } from '../operator/machine-state.repository.js'
import { unreceiptedRow } from '../audit/audit-view.js'
import { fleetUnreceipted, reconciliationVersion } from '../audit/fleet-reconciliation.js'
import type { FleetSnapshot, UnreceiptedInterval } from './alert.types.js'

/**
 * Pages of this many, with a pause between them, keep each statement short while covering a fleet
 * of any size. The rules read every machine every ALERT_INTERVAL_S on the cores the sales need: a
 * page of 1,000 took ~60 ms of the database's CPU in one burst, and in `npm run bench` the
 * receipts of every machine waited for it (the one-kassa step's p99 set by that moment). At 250
 * a page and 20 ms apart, 10,000 machines take about 1.4 s of the 15 in small pieces.
 */
const PAGE = 250
const PAGE_PAUSE_MS = 20
/** Usual hours read a week of sales per machine and change slowly: recomputed this often (ms). */
const USUAL_HOURS_TTL_MS = 10 * 60_000

/** Reconciling every machine with audits costs queries per interval: the unreceipted list is refreshed this often (ms). */
const UNRECEIPTED_TTL_MS = 60_000

/** Reads the whole fleet's state as the alert rules see it; `auditSettleMs` is the gateway's AUDIT_SETTLE_S. */
export function createFleetSnapshotLoader(db: Kysely<Database>, options: { auditSettleMs?: number } = {}) {
  let hours: { at: number; byMachine: Map<string, number[]> } | null = null
  let unreceipted: { at: number; key: string; list: UnreceiptedInterval[] } | null = null

  return async function load(now: Date): Promise<FleetSnapshot> {
    const machines = []
    for (let after: string | undefined; ;) {
      const rows = await listMachineStates(db, now, { after, limit: PAGE })
      machines.push(...rows)
      if (rows.length < PAGE) break
      after = rows[rows.length - 1]!.id
      await new Promise((resolve) => setTimeout(resolve, PAGE_PAUSE_MS))
    }
    const kassas = await listKassaStates(db, now, { limit: 100_000 })
    // Aged on the evaluation clock, so a clock that jumps (tests, a resumed VM) refreshes it.
    if (!hours || Math.abs(now.getTime() - hours.at) > USUAL_HOURS_TTL_MS) hours = { at: now.getTime(), byMachine: await usualHours(db) }
    const byMachine = hours.byMachine
    // Recomputed at once when an audit or a correction arrived, else when the TTL passed (settling).
    const key = await reconciliationVersion(db)
    if (!unreceipted || unreceipted.key !== key || Math.abs(now.getTime() - unreceipted.at) > UNRECEIPTED_TTL_MS) {
      const reports = await fleetUnreceipted(db, now, options.auditSettleMs ?? 300_000)
      unreceipted = { at: now.getTime(), key, list: reports.map(unreceiptedRow) }
    }
    const conflicts = await recentConflictsByMachine(db, now)
    return { machines: machines.map((m) => ({ ...m, usualHours: byMachine.get(m.id) ?? [] })), kassas, unreceipted: unreceipted.list, conflicts }
  }
}
