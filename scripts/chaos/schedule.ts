import type { CutMode } from './tcp-proxy.js'

// When each fault strikes: pure, so a seed reproduces a run's schedule.

export type ChaosEvent =
  | { atMs: number; kind: 'kill-gateway'; gateway: number }
  | { atMs: number; kind: 'restart-broker' }
  | { atMs: number; kind: 'cut-database'; forMs: number; mode: CutMode }

export interface ScheduleOptions {
  durationS: number
  kills: number
  gateways: number
  brokerRestarts: number
  dbCuts: number
  /** ms each database cut lasts. */
  dbCutMs: number
  random: () => number
}

/**
 * Faults fall in the middle of the sales phase (from 10% to 85% of it), so the run starts clean
 * and has time to settle before the drain. Kills come at random moments; the broker restarts and
 * database cuts are spread evenly with some jitter and kept apart from each other, so each one's
 * effect can be told apart. Cuts alternate reset and blackhole.
 */
export function chaosSchedule(o: ScheduleOptions): ChaosEvent[] {
  const from = o.durationS * 1000 * 0.1
  const span = o.durationS * 1000 * 0.75
  const events: ChaosEvent[] = []
  for (let i = 0; i < o.kills; i++) {
    events.push({ atMs: Math.round(from + o.random() * span), kind: 'kill-gateway', gateway: Math.floor(o.random() * o.gateways) })
  }
  // Broker restarts and cuts share evenly spaced slots, alternating, each jittered within its slot.
  const slots = o.brokerRestarts + o.dbCuts
  let restarts = o.brokerRestarts
  let cuts = o.dbCuts
  for (let i = 0; i < slots; i++) {
    const slot = span / slots
    const atMs = Math.round(from + i * slot + o.random() * slot * 0.4)
    const cutTurn = cuts > 0 && (restarts === 0 || i % 2 === 1)
    if (cutTurn) {
      events.push({ atMs, kind: 'cut-database', forMs: o.dbCutMs, mode: (o.dbCuts - cuts) % 2 === 0 ? 'reset' : 'blackhole' })
      cuts--
    } else {
      events.push({ atMs, kind: 'restart-broker' })
      restarts--
    }
  }
  return events.sort((a, b) => a.atMs - b.atMs)
}
