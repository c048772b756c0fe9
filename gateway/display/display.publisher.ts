import type { Kysely } from 'kysely'
import type { MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { machineTopic, type DisplayMessage } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import { advanceMarks, claimDueDocuments, type DisplayRange } from './display-marks.repository.js'
import { claimDueDisplays, markSent, type OutboxEntry } from './outbox.repository.js'

export interface DisplayPublisherDeps {
  db: Kysely<Database>
  client: MqttClient
  topicPrefix: string
  logger: Logger
  /** How often to look for displays whose PUBACK never came (ms). */
  sweepIntervalMs?: number
  /** How old a receipt's unacknowledged document must be before a sweeper publishes it again (ms, default 5000). */
  resendAfterMs?: number
  onSent?: (entry: OutboxEntry) => void
  /** Displays a sweep published again (their acknowledgement was not recorded in time). */
  onResent?: (count: number) => void
  /**
   * Receipts remembered to answer a machine's repeated sale without the database (`answerRepeat`),
   * for a gateway that stores sales itself; 0 remembers none. Default RECENT_RECEIPTS.
   */
  recentReceipts?: number
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
/**
 * Receipts remembered so that a machine's repeat is answered without the database: each as the
 * text published (about 0.6 KB), one string rather than the message's objects. Every receipt
 * lives this long, so each is copied out of the young generation and later collected by a full
 * GC; kept as objects, they made the gateway's full GCs longer (CHANGELOG: figures).
 */
const RECENT_RECEIPTS = 20_000
/**
 * Acknowledged runs of documents kept per FN while its mark waits for earlier ones (displays in
 * flight elsewhere, or lost with a gateway until a sweeper sends them again). Beyond it the newest
 * are forgotten (the lowest is the one that can move the mark next): their displays are published
 * again by the sweeper, which machines ignore.
 */
const MAX_RUNS_PER_FN = 1_000

/**
 * Publishes display messages QoS 1. After the broker's PUBACK, outbox rows are marked sent and
 * each FN's display mark moved over the batches whose receipts were all acknowledged
 * (display-marks.repository.ts), both in a statement every MARK_SENT_DELAY_MS; what is left
 * unacknowledged (crash, broker away) is taken again by the sweeper of any gateway.
 */
export function createDisplayPublisher(deps: DisplayPublisherDeps) {
  const log = deps.logger
  let acked: number[] = []
  /** Per FN: runs of documents whose displays are all acknowledged, ascending, not touching each other. */
  const runs = new Map<string, { from: number; to: number }[]>()
  /** A run was added since the last flush of the marks. */
  let runsAdded = false
  let flushing: Promise<void> | null = null
  let sweepTimer: NodeJS.Timeout | null = null
  let sweeping = false
  let inflight = 0
  /** `machineId/saleId` → ms when its direct answer was published, until the broker's PUBACK. */
  const directInFlight = new Map<string, number>()
  /** `machineId/saleId` → its receipt display as published, oldest first. */
  const recentReceipts = new Map<string, string>()
  const recentMax = deps.recentReceipts ?? RECENT_RECEIPTS

  function remember(entry: OutboxEntry, text: string): void {
    if (recentMax === 0 || entry.payload.type !== 'receipt') return
    const key = `${entry.machineId}/${entry.saleId}`
    recentReceipts.delete(key)
    recentReceipts.set(key, text)
    if (recentReceipts.size > recentMax) recentReceipts.delete(recentReceipts.keys().next().value!)
  }

  /**
   * One statement for the outbox rows acknowledged so far, then one for the marks: the marks wait
   * neither for a stream of outbox acknowledgements (those arriving meanwhile go in the next
   * flush) nor on the outbox's failure.
   */
  async function flushAcked(): Promise<void> {
    const ids = acked
    acked = []
    if (ids.length > 0) {
      try {
        await markSent(deps.db, ids)
      } catch (err) {
        // Not marked means sent again later: harmless, the machine keeps the first.
        log.warn({ err, count: ids.length }, 'could not mark displays as sent; they will be resent')
      }
    }
    await flushRuns()
  }

  /** A batch's documents whose displays are all acknowledged: joined to the runs of its FN. */
  function acknowledged(range: DisplayRange): void {
    const list = runs.get(range.fn) ?? []
    list.push({ from: range.from, to: range.to })
    list.sort((a, b) => a.from - b.from)
    const merged: { from: number; to: number }[] = []
    for (const r of list) {
      const last = merged[merged.length - 1]
      if (last && r.from <= last.to + 1) last.to = Math.max(last.to, r.to)
      else merged.push({ ...r })
    }
    runs.set(range.fn, merged.slice(0, MAX_RUNS_PER_FN))
    runsAdded = true
    scheduleFlush()
  }

  /** Moves each FN's mark over its first run; runs the mark has passed are dropped. */
  async function flushRuns(): Promise<void> {
    runsAdded = false
    if (runs.size === 0) return
    const first = [...runs].map(([fn, list]) => ({ fn, ...list[0]! }))
    let marks: Map<string, number>
    try {
      marks = await advanceMarks(deps.db, first)
    } catch (err) {
      log.warn({ err, fns: first.length }, 'could not move display marks; kept for the next try')
      return
    }
    for (const { fn } of first) {
      const list = runs.get(fn)
      if (!list) continue
      const mark = marks.get(fn)
      // An FN with no mark (removed meanwhile) has nothing to move. FNs whose first runs were
      // acknowledged while the statement ran were not in it: theirs wait for the next flush.
      const left = mark === undefined ? [] : list.filter((r) => r.to > mark)
      if (left.length === 0) runs.delete(fn)
      else runs.set(fn, left)
    }
  }

  function scheduleFlush(): void {
    flushing ??= new Promise((resolve) => setTimeout(resolve, MARK_SENT_DELAY_MS)).then(flushAcked).finally(() => {
      flushing = null
      if (acked.length > 0 || runsAdded) scheduleFlush()
    })
  }

  /** Sends without waiting; the PUBACK marks the outbox row. Entries with id < 0 have no row. */
  function publish(entry: OutboxEntry, settled?: () => void): void {
    const topic = machineTopic(deps.topicPrefix, entry.machineId, 'display')
    const text = entry.text ?? JSON.stringify(entry.payload)
    remember(entry, text) // committed before it is published, so safe to repeat from memory
    inflight++
    deps.client.publish(topic, text, { qos: 1 }, (err) => {
      inflight--
      settled?.()
      if (err) {
        log.warn({ err, machineId: entry.machineId, saleId: entry.saleId }, 'display publish failed; the sweeper will resend')
        return
      }
      deps.onSent?.(entry)
      if (entry.range) {
        if (--entry.range.left === 0) acknowledged(entry.range)
      } else if (entry.id >= 0) {
        acked.push(entry.id)
        scheduleFlush()
      }
    })
  }

  /** A batch's displays, just committed; its documents are acknowledged when all its receipts are. */
  function publishCommitted(displays: readonly OutboxEntry[], range: DisplayRange | null | undefined): void {
    for (const entry of displays) publish(entry)
    if (range && range.left === 0) acknowledged(range)
  }

  /**
   * A display that has no outbox row of its own (an answer to a rejected or repeated sale). While
   * the answer to a sale is still on its way (no PUBACK yet, for at most DIRECT_DEDUP_MS), another
   * copy of that sale gets no second one: after an outage every republished copy would otherwise
   * add a publish to a broker already behind (the outage test saw 50,000 displays in flight, the
   * gateway's memory growing and receipts starved while the machines kept republishing).
   */
  function publishDirect(machineId: string, saleId: string, payload: DisplayMessage, text?: string): void {
    if (inflight >= MAX_INFLIGHT) return
    // By type too: a `conflict` refusal must not be silenced by the receipt of the sale it conflicts with.
    const key = `${machineId}/${saleId}/${payload.type}`
    const since = directInFlight.get(key)
    if (since !== undefined && Date.now() - since < DIRECT_DEDUP_MS) return
    directInFlight.set(key, Date.now())
    publish({ id: -1, machineId, saleId, payload, ...(text === undefined ? {} : { text }) }, () => directInFlight.delete(key))
  }

  /** Publishes the receipt this gateway published lately for the sale, if any: true when it did (or one is on its way). */
  function answerRepeat(machineId: string, saleId: string): boolean {
    const text = recentReceipts.get(`${machineId}/${saleId}`)
    if (text === undefined) return false
    // The same bytes as the first time; the message itself is read back only for its type.
    publishDirect(machineId, saleId, JSON.parse(text) as DisplayMessage, text)
    return true
  }

  async function sweepOnce(): Promise<number> {
    const due = await claimDueDisplays(deps.db, 500)
    for (const entry of due) publish(entry)
    const count = due.length + await sweepDocuments()
    if (count > 0) deps.onResent?.(count)
    return count
  }

  /** Receipts of the emulated FN above their mark for resendAfterMs: published again, per FN's run. */
  async function sweepDocuments(): Promise<number> {
    const docs = await claimDueDocuments(deps.db, deps.resendAfterMs ?? 5000, 500)
    const byFn = new Map<string, typeof docs>()
    for (const d of docs) {
      const list = byFn.get(d.fn)
      if (list) list.push(d)
      else byFn.set(d.fn, [d])
    }
    let published = 0
    for (const [fn, list] of byFn) {
      const withDisplay = list.filter((d) => d.display !== null && d.machineId !== null && d.saleId !== null)
      const range: DisplayRange = { fn, from: list[0]!.fd, to: list[list.length - 1]!.fd, left: withDisplay.length }
      publishCommitted(withDisplay.map((d) => ({ id: -1, machineId: d.machineId!, saleId: d.saleId!, payload: d.display!, text: d.text!, range })), range)
      published += withDisplay.length
    }
    return published
  }

  function start(): void {
    sweepTimer = setInterval(() => {
      // Runs waiting for another gateway's documents are tried again here too.
      if (runs.size > 0) scheduleFlush()
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
  return { publish: (entry: OutboxEntry) => publish(entry), publishCommitted, publishDirect, answerRepeat, sweepOnce, start, stop, inflight: () => inflight }
}
export type DisplayPublisher = ReturnType<typeof createDisplayPublisher>
