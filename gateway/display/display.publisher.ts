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

/** ms a direct answer in flight suppresses further ones for the same sale (a lost callback cannot silence a sale for longer). */
const DIRECT_DEDUP_MS = 10_000
/**
 * Displays awaiting PUBACK beyond which repeat answers and sweeps wait: the broker is behind, and
 * more would only grow this process's memory. Fresh receipts are still published (their rows are
 * durable either way); a machine whose repeat went unanswered republishes.
 */
const MAX_INFLIGHT = 5_000
/**
 * ms PUBACKs gather before one UPDATE marks their rows sent. Nothing waits on the mark (a row is
 * resent only after next_at, 5 s), and without the pause a busy gateway ran about one UPDATE per
 * display, a statement per sale on the pool the sales need (scripts/bench).
 */
const MARK_SENT_DELAY_MS = 50
/** Receipts remembered (about 0.6 KB each) so that a machine's repeat is answered without the database. */
const RECENT_RECEIPTS = 20_000

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
  /** `machineId/saleId` → ms when its direct answer was published, until the broker's PUBACK. */
  const directInFlight = new Map<string, number>()
  /** `machineId/saleId` → its receipt display, oldest first. */
  const recentReceipts = new Map<string, DisplayMessage>()

  function remember(entry: OutboxEntry): void {
    if (entry.payload.type !== 'receipt') return
    const key = `${entry.machineId}/${entry.saleId}`
    recentReceipts.delete(key)
    recentReceipts.set(key, entry.payload)
    if (recentReceipts.size > RECENT_RECEIPTS) recentReceipts.delete(recentReceipts.keys().next().value!)
  }

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
    flushing ??= new Promise((resolve) => setTimeout(resolve, MARK_SENT_DELAY_MS)).then(flushAcked).finally(() => {
      flushing = null
      if (acked.length > 0) scheduleFlush()
    })
  }

  /** Sends without waiting; the PUBACK marks the outbox row. Entries with id < 0 have no row. */
  function publish(entry: OutboxEntry, settled?: () => void): void {
    const topic = machineTopic(deps.topicPrefix, entry.machineId, 'display')
    remember(entry) // committed before it is published, so safe to repeat from memory
    inflight++
    deps.client.publish(topic, entry.text ?? JSON.stringify(entry.payload), { qos: 1 }, (err) => {
      inflight--
      settled?.()
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

  /**
   * A display that has no outbox row of its own (an answer to a rejected or repeated sale). While
   * the answer to a sale is still on its way (no PUBACK yet, for at most DIRECT_DEDUP_MS), another
   * copy of that sale gets no second one: after an outage every republished copy would otherwise
   * add a publish to a broker already behind (the outage test saw 50,000 displays in flight, the
   * gateway's memory growing and receipts starved while the machines kept republishing).
   */
  function publishDirect(machineId: string, saleId: string, payload: DisplayMessage): void {
    if (inflight >= MAX_INFLIGHT) return
    // By type too: a `conflict` refusal must not be silenced by the receipt of the sale it conflicts with.
    const key = `${machineId}/${saleId}/${payload.type}`
    const since = directInFlight.get(key)
    if (since !== undefined && Date.now() - since < DIRECT_DEDUP_MS) return
    directInFlight.set(key, Date.now())
    publish({ id: -1, machineId, saleId, payload }, () => directInFlight.delete(key))
  }

  /** Publishes the receipt this gateway published lately for the sale, if any: true when it did (or one is on its way). */
  function answerRepeat(machineId: string, saleId: string): boolean {
    const receipt = recentReceipts.get(`${machineId}/${saleId}`)
    if (!receipt) return false
    publishDirect(machineId, saleId, receipt)
    return true
  }

  async function sweepOnce(): Promise<number> {
    const due = await claimDueDisplays(deps.db, 500)
    for (const entry of due) publish(entry)
    return due.length
  }

  function start(): void {
    sweepTimer = setInterval(() => {
      if (sweeping || !deps.client.connected || inflight >= MAX_INFLIGHT) return
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

  // One argument only: callers pass it to forEach, whose index must not land in `settled`.
  return { publish: (entry: OutboxEntry) => publish(entry), publishDirect, answerRepeat, sweepOnce, start, stop, inflight: () => inflight }
}
export type DisplayPublisher = ReturnType<typeof createDisplayPublisher>
