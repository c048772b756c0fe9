import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Telemetry } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import { insertTelemetrySamples, pruneTelemetryHistory } from './telemetry-history.repository.js'

export interface TelemetryHistoryDeps {
  db: Kysely<Database>
  logger: Logger
  /** Samples received within this many days are kept… */
  days: number
  /** …and at most this many per machine. */
  rowsPerMachine: number
  /** ms between writes; a machine's samples within one interval are coalesced to its newest. */
  flushMs?: number
  /** ms between prunes. */
  pruneMs?: number
  now?: () => Date
}

/**
 * Keeps telemetry samples for the machine detail view. History is a convenience, not a record:
 * samples are coalesced per machine per flush (memory stays bounded by the fleet size), and a
 * failed write is logged and dropped rather than retried.
 */
export function createTelemetryHistory(deps: TelemetryHistoryDeps) {
  const now = deps.now ?? (() => new Date())
  let pending = new Map<string, Telemetry>()
  let timers: NodeJS.Timeout[] = []
  let flushing: Promise<void> | null = null
  let pruning: Promise<void> | null = null

  function record(machineId: string, telemetry: Telemetry): void {
    pending.set(machineId, telemetry)
  }

  async function flush(): Promise<void> {
    if (pending.size === 0) return
    const samples = [...pending].map(([machineId, telemetry]) => ({ machineId, telemetry }))
    pending = new Map()
    try {
      await insertTelemetrySamples(deps.db, samples)
    } catch (err) {
      deps.logger.warn({ err, count: samples.length }, 'could not store telemetry history; samples dropped')
    }
  }

  async function prune(): Promise<void> {
    try {
      const removed = await pruneTelemetryHistory(deps.db, now(), deps.days, deps.rowsPerMachine)
      if (removed > 0) deps.logger.debug({ removed }, 'pruned telemetry history')
    } catch (err) {
      deps.logger.warn({ err }, 'could not prune telemetry history')
    }
  }

  function start(): void {
    const tick = (busy: () => Promise<void> | null, run: () => Promise<void>, set: (p: Promise<void> | null) => void) => () => {
      if (!busy()) set(run().finally(() => set(null)))
    }
    timers = [
      setInterval(tick(() => flushing, flush, (p) => { flushing = p }), deps.flushMs ?? 1000),
      setInterval(tick(() => pruning, prune, (p) => { pruning = p }), deps.pruneMs ?? 10 * 60_000),
    ]
    pruning = prune().finally(() => { pruning = null })
  }

  async function stop(): Promise<void> {
    timers.forEach(clearInterval)
    timers = []
    await flushing
    await pruning
    await flush()
  }

  return { record, flush, prune, start, stop }
}
export type TelemetryHistory = ReturnType<typeof createTelemetryHistory>
