import type { CutMode } from './tcp-proxy.js'

// When each fault strikes: pure, so a seed reproduces a run's schedule.

export type ChaosEvent =
  | { atMs: number; kind: 'kill-gateway'; gateway: number }
  | { atMs: number; kind: 'restart-broker'; broker: number }
  | { atMs: number; kind: 'cut-database'; forMs: number; mode: CutMode }
  | { atMs: number; kind: 'stop-redis'; forMs: number }

export interface ScheduleOptions {
  durationS: number
  kills: number
  gateways: number
  brokerRestarts: number
  dbCuts: number
  /** ms each database cut lasts. */
  dbCutMs: number
  /** Brokers to choose from for each restart; default 1. */
  brokers?: number
  /** Stops of the Redis between brokers, each `redisStopMs` long; default none. */
  redisStops?: number
  redisStopMs?: number
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
  // Broker restarts, cuts and Redis stops share evenly spaced slots, taking turns, each jittered
  // within its slot.
  const left = { restart: o.brokerRestarts, cut: o.dbCuts, redis: o.redisStops ?? 0 }
  const slots = left.restart + left.cut + left.redis
  const turns = ['restart', 'cut', 'redis'] as const
  let turn = 0
  for (let i = 0; i < slots; i++) {
    while (left[turns[turn % 3]!] === 0) turn++
    const kind = turns[turn++ % 3]!
    const slot = span / slots
    const atMs = Math.round(from + i * slot + o.random() * slot * 0.4)
    if (kind === 'cut') {
      events.push({ atMs, kind: 'cut-database', forMs: o.dbCutMs, mode: (o.dbCuts - left.cut) % 2 === 0 ? 'reset' : 'blackhole' })
    } else if (kind === 'redis') {
      events.push({ atMs, kind: 'stop-redis', forMs: o.redisStopMs ?? 5000 })
    } else {
      events.push({ atMs, kind: 'restart-broker', broker: Math.floor(o.random() * (o.brokers ?? 1)) })
    }
    left[kind]--
  }
  return events.sort((a, b) => a.atMs - b.atMs)
}
