import type { FleetOptions } from './fleet.js'
import type { SimMachine } from './machine.client.js'

export interface OfflinePlan {
  /** Whether the run's k-th sale (0-based) is an offline vend. */
  due(k: number): boolean
  /** The machine the next offline vend goes to, in turn. */
  next(): SimMachine
}

/**
 * Which sales of a run are "offline" vends (`options.offline`): evenly spread over the run's
 * rate × duration sales (every 10th until done in an endless run), on the given machines in turn.
 */
export function offlinePlan(options: Pick<FleetOptions, 'offline' | 'rate' | 'durationS'>, fleet: readonly SimMachine[]): OfflinePlan {
  const o = options.offline
  if (!o || o.vends <= 0 || o.machines.length === 0) return { due: () => false, next: () => { throw new Error('no offline machines') } }
  const machines = o.machines.map((id) => {
    const m = fleet.find((x) => x.id === id)
    if (!m) throw new Error(`offline machine ${id} is not in the fleet`)
    return m
  })
  const total = Number.isFinite(options.durationS) ? Math.floor(options.rate * options.durationS) : o.vends * 10
  const step = Math.max(1, Math.floor(total / o.vends))
  let done = 0
  return {
    due: (k) => done < o.vends && k % step === 0,
    next: () => machines[done++ % machines.length]!,
  }
}
