import type { Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { recentConflictsByMachine } from '../operator/conflict-list.repository.js'
import { listKassaStates } from '../operator/kassa-state.repository.js'
import { listMachineStates, usualHours } from '../operator/machine-state.repository.js'
import type { FleetSnapshot } from './alert.types.js'

/** Pages of this many keep each statement short while covering a fleet of any size. */
const PAGE = 1000
/** Usual hours read a week of sales per machine and change slowly: recomputed this often (ms). */
const USUAL_HOURS_TTL_MS = 10 * 60_000

/** Reads the whole fleet's state as the alert rules see it. */
export function createFleetSnapshotLoader(db: Kysely<Database>) {
  let hours: { at: number; byMachine: Map<string, number[]> } | null = null

  return async function load(now: Date): Promise<FleetSnapshot> {
    const machines = []
    for (let after: string | undefined; ;) {
      const rows = await listMachineStates(db, now, { after, limit: PAGE })
      machines.push(...rows)
      if (rows.length < PAGE) break
      after = rows[rows.length - 1]!.id
    }
    const kassas = await listKassaStates(db, now, { limit: 100_000 })
    // Aged on the evaluation clock, so a clock that jumps (tests, a resumed VM) refreshes it.
    if (!hours || Math.abs(now.getTime() - hours.at) > USUAL_HOURS_TTL_MS) hours = { at: now.getTime(), byMachine: await usualHours(db) }
    const byMachine = hours.byMachine
    const conflicts = await recentConflictsByMachine(db, now)
    return { machines: machines.map((m) => ({ ...m, usualHours: byMachine.get(m.id) ?? [] })), kassas, conflicts }
  }
}
