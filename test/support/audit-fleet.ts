import type { Kysely } from 'kysely'
import { expect } from 'vitest'
import { runFleet } from '../../device-sim/fleet.js'
import type { FleetReport } from '../../device-sim/fleet-report.js'
import { runFleetCommand, type FleetOptions } from '../../gateway/fleet/fleet.commands.js'
import type { Credentials } from './system.js'

// The audit reconciliation scenario both signers run: 500 sales of a 10-machine fleet, 37 of them
// offline cash vends on 3 machines, an audit from every machine before and after.
export const OFFLINE_MACHINES = ['VM-002', 'VM-005', 'VM-009'] as const
export const SALES = 500
export const OFFLINE_VENDS = 37

export async function sellWithOfflineVends(url: string, machines: readonly Credentials[]): Promise<FleetReport> {
  return runFleet({
    url, machines, rate: 100, durationS: SALES / 100, seed: 15, telemetryIntervalS: 0, drainTimeoutS: 60,
    audits: { intervalS: 0 }, offline: { machines: OFFLINE_MACHINES, vends: OFFLINE_VENDS },
  })
}

/** Every reconciliation interval as the API gives it, by machine. */
export async function reconciliations(get: (path: string) => Promise<{ status: number; body: any }>, machines: readonly Credentials[]): Promise<Map<string, any[]>> {
  const out = new Map<string, any[]>()
  for (const m of machines) {
    const answer = await get(`/api/machines/${m.id}/reconciliation`)
    expect(answer.status).toBe(200)
    out.set(m.id, answer.body.items)
  }
  return out
}

/** Expects exactly the offline vends unreceipted, on exactly their machines, and `ok` on every other. */
export function expectOnlyOfflineVendsUnreceipted(report: FleetReport, byMachine: Map<string, any[]>): void {
  for (const [machineId, intervals] of byMachine) {
    expect(intervals, machineId).toHaveLength(1)
    const [interval] = intervals
    const offline = report.offline.byMachine[machineId]
    if (offline === undefined) {
      expect(interval, machineId).toMatchObject({ status: 'reconciled', verdict: 'ok', difference: { total: { value: 0, count: 0 } } })
      continue
    }
    expect(interval, machineId).toMatchObject({
      status: 'reconciled', verdict: 'unreceipted', profile: 'sim',
      difference: { total: { value: offline.value, count: offline.vends }, cash: { value: offline.value, count: offline.vends }, cashless: { value: 0, count: 0 } },
    })
  }
}

/** `fleet correct` for every unreceipted interval: the command's outputs. */
export async function correctAll(db: Kysely<any>, byMachine: Map<string, any[]>, context?: FleetOptions): Promise<any[]> {
  const outputs = []
  for (const [machine, intervals] of byMachine) {
    for (const interval of intervals.filter((i: any) => i.verdict === 'unreceipted' || i.verdict === 'corrected')) {
      const { output } = await runFleetCommand(db, 'correct', { machine, interval: interval.id, 'settle-s': 0 }, new Date(), context)
      outputs.push(output)
    }
  }
  return outputs
}
