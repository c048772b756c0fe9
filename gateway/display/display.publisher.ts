import type { Kysely } from 'kysely'
import type { MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { machineTopic, type DisplayMessage } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import { claimDueDisplays, markSent, type OutboxEntry } from './outbox.repository.js'

export interface DisplayPublisherDeps {
  db: Kysely<Database>
  client: MqttClient
  topicPrefix: string
  logger: Logger
  /** How often to look for displays whose PUBACK never came (ms). */
  sweepIntervalMs?: number
  onSent?: (entry: OutboxEntry) => void
}

/**
 * Publishes display messages QoS 1. Outbox rows are marked sent after the broker's PUBACK, in
 * batches; rows left unsent (crash, broker away) are taken again by the sweeper of any gateway.
 */
export function createDisplayPublisher(deps: DisplayPublisherDeps) {
  const log = deps.logger
  let acked: number[] = []
  let flushing: Promise<void> | null = null
  let sweepTimer: NodeJS.Timeout | null = null
  let sweeping = false
  let inflight = 0

  async function flushAcked(): Promise<void> {
    while (acked.length > 0) {
      const ids = acked
      acked = []
      try {
        await markSent(deps.db, ids)
      } catch (err) {
        // Not marked means sent again later: harmless, the machine keeps the first.
        log.warn({ err, count: ids.length }, 'could not mark displays as sent; they will be resent')
        return
      }
    }
  }

  function scheduleFlush(): void {
    flushing ??= flushAcked().finally(() => {
      flushing = null
      if (acked.length > 0) scheduleFlush()
    })
  }

  /** Sends without waiting; the PUBACK marks the outbox row. Entries with id < 0 have no row. */
  function publish(entry: OutboxEntry): void {
    const topic = machineTopic(deps.topicPrefix, entry.machineId, 'display')
    inflight++
    deps.client.publish(topic, JSON.stringify(entry.payload), { qos: 1 }, (err) => {
      inflight--
      if (err) {
        log.warn({ err, machineId: entry.machineId, saleId: entry.saleId }, 'display publish failed; the sweeper will resend')
        return
      }
      deps.onSent?.(entry)
      if (entry.id >= 0) {
        acked.push(entry.id)
        scheduleFlush()
      }
    })
  }

  /** A display that has no outbox row of its own (an answer to a rejected or repeated sale). */
  function publishDirect(machineId: string, saleId: string, payload: DisplayMessage): void {
    publish({ id: -1, machineId, saleId, payload })
  }

  async function sweepOnce(): Promise<number> {
    const due = await claimDueDisplays(deps.db, 500)
    for (const entry of due) publish(entry)
    return due.length
  }

  function start(): void {
    sweepTimer = setInterval(() => {
      if (sweeping || !deps.client.connected) return
      sweeping = true
      sweepOnce()
        .then((n) => { if (n > 0) log.info({ count: n }, 'resent unconfirmed displays') })
        .catch((err) => log.warn({ err }, 'display sweep failed'))
        .finally(() => { sweeping = false })
    }, deps.sweepIntervalMs ?? 1000)
  }

  /** Waits (at most `boundMs`) for the PUBACKs of displays in flight, then marks them sent. */
  async function stop(boundMs = 5000): Promise<void> {
    if (sweepTimer) clearInterval(sweepTimer)
    const deadline = Date.now() + boundMs
    while (inflight > 0 && deps.client.connected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10))
    while (flushing) await flushing
    if (inflight > 0) log.warn({ inflight }, 'stopped with displays unconfirmed; the sweeper resends them')
  }

  return { publish, publishDirect, sweepOnce, start, stop, inflight: () => inflight }
}
export type DisplayPublisher = ReturnType<typeof createDisplayPublisher>
