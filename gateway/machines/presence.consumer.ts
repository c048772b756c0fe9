import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import { decodeStatus, decodeTelemetry, type Telemetry } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import { insertRejected, type RejectedMessage } from '../ingest/sale.repository.js'

export interface PresenceConsumerDeps {
  db: Kysely<Database>
  logger: Logger
  /** How often coalesced presence and telemetry are written (ms). */
  flushMs?: number
  now?: () => Date
  /** Every valid telemetry message, before coalescing (the telemetry history). */
  onTelemetry?: (machineId: string, telemetry: Telemetry) => void
}

interface MachineUpdate {
  id: string
  seen_at: string
  online: boolean | null
  telemetry: unknown
}

/** Bad status and telemetry messages held in memory while the database is away: count and payload bytes. */
const REJECTED_HELD = 10_000
const REJECTED_HELD_BYTES = 16 * 2 ** 20

/**
 * Status (retained, will = offline) and telemetry. Both are last-value-wins, so updates are
 * coalesced per machine and written in one statement every `flushMs`.
 */
export function createPresenceConsumer(deps: PresenceConsumerDeps) {
  const now = deps.now ?? (() => new Date())
  let pending = new Map<string, MachineUpdate>()
  let rejected: RejectedMessage[] = []
  let timer: NodeJS.Timeout | null = null
  let flushing: Promise<void> | null = null
  let rejectedBytes = 0
  /** Bad messages not held since the last successful flush (the first one is logged). */
  let dropped = 0

  function update(id: string, change: Partial<Pick<MachineUpdate, 'online' | 'telemetry'>>): void {
    const prev = pending.get(id)
    pending.set(id, {
      id,
      seen_at: now().toISOString(),
      online: change.online ?? prev?.online ?? null,
      telemetry: change.telemetry ?? prev?.telemetry ?? null,
    })
  }

  /**
   * Bad status and telemetry wait here for the next flush. While the database is away they are
   * held up to REJECTED_HELD messages and REJECTED_HELD_BYTES (telemetry is QoS 0 and acknowledged at once, so nothing else bounds
   * it); beyond that they are counted in the log instead of stored.
   */
  function keepRejected(messages: readonly RejectedMessage[]): void {
    for (const m of messages) {
      if (rejected.length < REJECTED_HELD && rejectedBytes + m.payload.byteLength <= REJECTED_HELD_BYTES) {
        rejected.push(m)
        rejectedBytes += m.payload.byteLength
        continue
      }
      if (dropped++ === 0) {
        deps.logger.warn({ held: rejected.length, bytes: rejectedBytes }, 'bad status/telemetry messages are not being stored: the database is away and the buffer is full; counting them')
      }
    }
  }

  function accept(topic: string, machineId: string, channel: 'status' | 'telemetry', payload: Uint8Array): void {
    if (channel === 'status') {
      // A retained status cleared by an empty payload is not a message from the machine.
      if (payload.byteLength === 0) return
      const d = decodeStatus(payload)
      if (d.ok) update(machineId, { online: d.value.state === 'online' })
      else keepRejected([{ topic, machineId, saleId: null, reason: d.reason, payload }])
    } else {
      const d = decodeTelemetry(payload)
      if (d.ok) {
        update(machineId, { telemetry: d.value })
        deps.onTelemetry?.(machineId, d.value)
      } else keepRejected([{ topic, machineId, saleId: null, reason: d.reason, payload }])
    }
  }

  async function flush(): Promise<void> {
    const updates = [...pending.values()]
    const bad = rejected
    pending = new Map()
    rejected = []
    rejectedBytes = 0
    try {
      if (updates.length > 0) {
        // `m.id = any(…)` lets the planner see how few machines change: joined to the recordset
        // alone (estimated at 100 rows) it scanned the whole machines table on every flush.
        await sql`
          update machines m set
            last_seen_at = greatest(m.last_seen_at, v.seen_at),
            online_changed_at = case when v.online is not null and v.online <> m.online then v.seen_at else m.online_changed_at end,
            online = coalesce(v.online, m.online),
            telemetry = coalesce(v.telemetry, m.telemetry),
            telemetry_at = case when v.telemetry is not null then v.seen_at else m.telemetry_at end
          from jsonb_to_recordset(${JSON.stringify(updates)}::jsonb)
            as v(id text, seen_at timestamptz, online boolean, telemetry jsonb)
          where m.id = v.id and m.id = any(${updates.map((u) => u.id)}::text[])`.execute(deps.db)
      }
      await insertRejected(deps.db, bad)
      if (dropped > 0) {
        deps.logger.warn({ count: dropped }, 'bad status/telemetry messages went unstored while the database was away')
        dropped = 0
      }
    } catch (err) {
      // Presence is last-value-wins: keep the newest values for the next flush, older ones lose nothing.
      for (const u of updates) if (!pending.has(u.id)) pending.set(u.id, u)
      keepRejected(bad)
      deps.logger.warn({ err }, 'could not store presence and telemetry; will retry')
    }
  }

  function start(): void {
    timer = setInterval(() => {
      if (!flushing && (pending.size > 0 || rejected.length > 0)) flushing = flush().finally(() => { flushing = null })
    }, deps.flushMs ?? 250)
  }

  async function stop(): Promise<void> {
    if (timer) clearInterval(timer)
    if (flushing) await flushing
    await flush()
  }

  return { accept, start, stop, flush }
}
export type PresenceConsumer = ReturnType<typeof createPresenceConsumer>
