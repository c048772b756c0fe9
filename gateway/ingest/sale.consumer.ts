import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { decodeSale, saleContent, saleContentKey, type DecodedSale, type SaleEvent, type StoredSale } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import type { DisplayPublisher } from '../display/display.publisher.js'
import { latestDisplays } from '../display/outbox.repository.js'
import { isRetryableDbError } from '../errors.js'
import { PartialWriteError, writeContained } from './contained-write.js'
import { compareWithStored, insertConflicts, insertRejected, insertSales, type IncomingSale, type RejectedMessage } from './sale.repository.js'

/** The answers ingest gives: wherever ingest runs, something that can publish a display message. */
export type IngestPublisher = Pick<DisplayPublisher, 'publishDirect' | 'answerRepeat'>

export interface SaleConsumerDeps {
  db: Kysely<Database>
  publisher: IngestPublisher
  /** The gateway's clock: sale times are checked against it (protocol saleTimeProblem). */
  now?: () => Date
  logger: Logger
  /** Most sales written by one statement. */
  chunkMax: number
  /** Extra wait (ms) for a batch to fill when a write is already in flight; 0 writes as soon as possible. */
  windowMs: number
  /** Sales held in memory before MQTT acknowledgements are withheld (backpressure). */
  highWater: number
  /**
   * Acknowledge each sale only once it is stored (the broker that ingests holds the machine's
   * PUBACK until then: PUBACK means stored). Default: acknowledged on reading.
   */
  ackWhenStored?: boolean
  /**
   * Content keys kept to tell a repeat from a conflict without the database, for a publisher that
   * answers repeats from memory (`answerRepeat`); 0 keeps none. Default KNOWN_CONTENT.
   */
  knownContent?: number
  /** New sales were stored, each with its kassa (in the order stored). */
  onStored: (sales: StoredSale[]) => void
  onHealth?: (healthy: boolean) => void
  /** A chunk was written: what became of its sales (metrics). */
  onWritten?: (outcome: { stored: number; repeated: number; rejected: readonly RejectedMessage[]; conflicts?: number }) => void
}

interface Entry {
  topic: string
  machineId: string | null
  payload: Uint8Array
  decoded: DecodedSale
  /** The sale of a refusal for its time alone (DecodedSale `late`): a copy of a stored sale is still a repeat. */
  late: SaleEvent | null
  /** `machineId/saleId` when both are known. */
  key: string | null
  /** saleContentKey of a decoded sale. */
  content: string | null
  /** Acknowledgements waiting for this sale to be stored (ackWhenStored). */
  acks: (() => void)[]
}

/** Content keys of sales stored or seen lately (~200 B each), so a repeat is told from a conflict without the database. */
const KNOWN_CONTENT = 20_000

/**
 * Ingest of sales. MQTT delivery is acknowledged as soon as a sale is read (docs/contract.md#delivery-guarantees:
 * the machine republishes until its display arrives), so sales are written in
 * batches. When the database falls behind or is away, acknowledgements are withheld once
 * `highWater` sales wait: the broker stops sending, memory stays bounded.
 */
export function createSaleConsumer(deps: SaleConsumerDeps) {
  const log = deps.logger
  let buffer: Entry[] = []
  const held: (() => void)[] = []
  let running: Promise<void> | null = null
  let timer: NodeJS.Timeout | null = null
  let stopped = false
  const stats = { received: 0, stored: 0, repeated: 0, rejected: 0, conflicts: 0, quarantined: 0 }
  const now = deps.now ?? (() => new Date())

  /** Sales waiting in `buffer`: key → the first entry with that key. */
  const waiting = new Map<string, Entry>()
  /** key → content key of sales stored lately, oldest first. */
  const known = new Map<string, string>()
  const knownMax = deps.knownContent ?? KNOWN_CONTENT
  function remember(key: string, content: string): void {
    if (knownMax === 0) return
    known.delete(key)
    known.set(key, content)
    if (known.size > knownMax) known.delete(known.keys().next().value!)
  }

  function accept(topic: string, machineId: string | null, payload: Uint8Array, done: () => void): void {
    stats.received++
    const decoded = decodeSale(payload, now())
    const late = !decoded.ok && 'late' in decoded ? decoded.late : null
    const event = decoded.ok ? decoded.value : late
    const saleId = event !== null ? event.saleId : null
    const key = machineId !== null && saleId !== null ? `${machineId}/${saleId}` : null
    const content = event !== null ? saleContentKey(saleContent(event)) : null
    // After an outage the machines' republished copies outnumber new sales many times over; each
    // costing queries is what let the broker's queue grow faster than it drained (the chaos run).
    // So a copy of a sale still waiting here is acknowledged and dropped (one answer serves both),
    // and a copy of a sale this gateway receipted lately is answered from memory. Only a copy
    // with the same content: one with other content goes to the database, which refuses it as a
    // conflict.
    const first = key !== null ? waiting.get(key) : undefined
    const sameAsWaiting = first !== undefined && first.content === content
    if (key !== null && (sameAsWaiting || (known.get(key) === content && deps.publisher.answerRepeat(machineId!, saleId!)))) {
      stats.repeated++
      deps.onWritten?.({ stored: 0, repeated: 1, rejected: [] })
      // Held by the broker that ingests until the first copy is stored: PUBACK means stored.
      if (sameAsWaiting && deps.ackWhenStored) first.acks.push(done)
      else done()
      return
    }
    const entry: Entry = { topic, machineId, payload, decoded, late, key, content, acks: [] }
    // A copy refused for its time stands for no other: it is stored by no one, so a copy within
    // the bounds (the same sale dated again) must not be dropped as answered by it.
    if (key !== null && late === null && !waiting.has(key)) waiting.set(key, entry)
    buffer.push(entry)
    if (deps.ackWhenStored) entry.acks.push(done)
    else if (buffer.length >= deps.highWater) held.push(done)
    else done()
    schedule()
  }

  let scheduled = false
  /** ms (performance.now) the last write ended: within windowMs of it, sales are still coming in a burst. */
  let lastWriteEnd = -Infinity
  function schedule(): void {
    if (running || scheduled || stopped) return
    scheduled = true
    const go = () => {
      scheduled = false
      timer = null
      // stop() may have come first and drained (or be draining) the buffer itself.
      if (!stopped && !running) startDrain()
    }
    // Adaptive: a lone sale is written at once (setImmediate still gathers every sale read in the
    // same tick into one statement); during a burst a sale waits windowMs to be joined by others.
    const burst = performance.now() - lastWriteEnd < deps.windowMs
    if (burst && buffer.length < deps.chunkMax) timer = setTimeout(go, deps.windowMs)
    else setImmediate(go)
  }

  /** Every drain, whoever starts it, clears `running` when it ends: stop() waits for exactly that. */
  function startDrain(): void {
    running = drain().finally(() => { running = null; lastWriteEnd = performance.now(); if (buffer.length > 0) schedule() })
  }

  async function drain(): Promise<void> {
    let backoff = 100
    while (buffer.length > 0) {
      const chunk = buffer.slice(0, deps.chunkMax)
      // A write that neither answers nor fails (a network partition, no error for minutes) makes
      // the gateway not ready too, as a failed one does.
      const hung = setTimeout(() => deps.onHealth?.(false), 5000)
      try {
        const { quarantined } = await writeContained(chunk, write, quarantine)
        stats.quarantined += quarantined
        advance(chunk.length)
        backoff = 100
        deps.onHealth?.(true)
      } catch (err) {
        // Not about any one sale (writeContained split off those): keep what was stored, retry the rest.
        const written = err instanceof PartialWriteError ? err.written : 0
        const cause = err instanceof PartialWriteError ? err.cause : err
        advance(written)
        // Only a failure to reach the database makes it "down" for /readyz; an error it answers with is logged.
        const retryable = isRetryableDbError(cause)
        if (retryable) deps.onHealth?.(false)
        log.error({ err: cause, retryable, count: chunk.length - written }, 'could not store sales; retrying')
        if (stopped) return
        await new Promise((r) => setTimeout(r, backoff))
        backoff = Math.min(backoff * 2, 5000)
      } finally {
        clearTimeout(hung)
      }
    }
  }

  /** The first `count` sales of the buffer are stored: release them. */
  function advance(count: number): void {
    if (count === 0) return
    for (const e of buffer.slice(0, count)) {
      if (e.key !== null && waiting.get(e.key) === e) waiting.delete(e.key)
      e.acks.splice(0).forEach((ack) => ack())
    }
    buffer = buffer.slice(count)
    if (buffer.length < deps.highWater / 2) held.splice(0).forEach((done) => done())
  }

  /** A sale PostgreSQL refused for its content, alone: stored as rejected with the database's reason. */
  async function quarantine(e: Entry, err: unknown): Promise<void> {
    const code = (err as { code?: string }).code ?? 'unknown'
    const saleId = e.decoded.ok ? e.decoded.value.saleId : e.decoded.saleId ?? null
    const reason = `could not be stored: ${(err as Error).message} (SQLSTATE ${code})`
    await insertRejected(deps.db, [{ topic: e.topic, machineId: e.machineId, saleId, reason, payload: e.payload }])
    answerRejected(e.machineId, saleId, reason)
    log.warn({ machineId: e.machineId, saleId, reason, topic: e.topic }, 'sale rejected by the database')
    stats.rejected++
  }

  function answerRejected(machineId: string | null, saleId: string | null, reason: string): void {
    if (machineId !== null && saleId !== null) deps.publisher.publishDirect(machineId, saleId, { v: 1, type: 'rejected', saleId, reason })
  }

  async function write(chunk: readonly Entry[]): Promise<void> {
    const valid: IncomingSale[] = []
    const rejected: RejectedMessage[] = []
    const late: Entry[] = []
    for (const e of chunk) {
      if (e.decoded.ok && e.machineId !== null) valid.push({ machineId: e.machineId, event: e.decoded.value, payload: e.payload })
      else if (e.late !== null && e.machineId !== null) late.push(e)
      else rejected.push({
        topic: e.topic,
        machineId: e.machineId,
        saleId: e.decoded.ok ? e.decoded.value.saleId : e.decoded.saleId ?? null,
        reason: e.decoded.ok ? 'topic does not name a machine' : e.decoded.reason,
        payload: e.payload,
      })
    }
    const outcome = valid.length > 0 ? await insertSales(deps.db, valid) : { inserted: [], repeated: [], conflicts: [], unknownMachine: [] }
    for (const u of outcome.unknownMachine) {
      const e = chunk.find((c) => c.machineId === u.machineId && c.decoded.ok && c.decoded.value.saleId === u.saleId)!
      rejected.push({ topic: e.topic, machineId: u.machineId, saleId: u.saleId, reason: `unknown machine ${u.machineId}`, payload: e.payload })
    }
    // A sale out of time bounds is refused, unless it is a copy of one stored while it was not.
    // Copy by copy: two copies of one saleId in a chunk may differ in content, and only one that
    // has the stored content is a repeat.
    const lateRepeats = await compareWithStored(deps.db, late.map((e) => ({ machineId: e.machineId!, event: e.late!, payload: e.payload })))
    const repeatedLate = new Set(lateRepeats.repeated.map((r) => `${r.machineId}/${r.saleId}\u0000${r.contentKey}`))
    for (const e of late) {
      // (A late copy's decoding is a refusal: `ok` is false, and its reason is the time's.)
      if (!e.decoded.ok && !repeatedLate.has(`${e.key!}\u0000${e.content!}`)) {
        rejected.push({ topic: e.topic, machineId: e.machineId, saleId: e.late!.saleId, reason: e.decoded.reason, payload: e.payload })
      }
    }
    outcome.repeated.push(...lateRepeats.repeated)
    await insertRejected(deps.db, rejected)
    await insertConflicts(deps.db, outcome.conflicts)
    for (const c of outcome.conflicts) {
      answerRejected(c.sale.machineId, c.sale.event.saleId, 'conflict')
      log.warn({ machineId: c.sale.machineId, saleId: c.sale.event.saleId, state: c.state }, 'sale conflicts with a stored sale of the same saleId')
    }
    // The first copy of a sale in the chunk is the one stored (insertSales).
    const contents = new Map<string | null, string | null>()
    for (const c of chunk) if (!contents.has(c.key)) contents.set(c.key, c.content)
    for (const s of outcome.inserted) {
      const key = `${s.machine_id}/${s.sale_id}`
      const content = contents.get(key)
      if (content) remember(key, content)
    }
    for (const r of outcome.repeated) remember(`${r.machineId}/${r.saleId}`, r.contentKey)

    // A repeat of a sale already answered gets the same display again; a pending one gets nothing extra.
    const answered = outcome.repeated.filter((r) => r.state === 'done' || r.state === 'failed')
    if (answered.length > 0) {
      const stored = new Map((await latestDisplays(deps.db, answered)).map((d) => [`${d.machineId}/${d.saleId}`, d]))
      for (const r of answered) {
        const d = stored.get(`${r.machineId}/${r.saleId}`)
        if (d) deps.publisher.publishDirect(d.machineId, d.saleId, d.payload)
      }
    }
    for (const r of rejected) {
      answerRejected(r.machineId, r.saleId, r.reason)
      log.warn({ machineId: r.machineId, saleId: r.saleId, reason: r.reason, topic: r.topic }, 'sale rejected')
    }
    stats.stored += outcome.inserted.length
    stats.repeated += outcome.repeated.length
    stats.rejected += rejected.length
    stats.conflicts += outcome.conflicts.length
    deps.onWritten?.({ stored: outcome.inserted.length, repeated: outcome.repeated.length, rejected, conflicts: outcome.conflicts.length })
    if (outcome.inserted.length > 0) deps.onStored(outcome.inserted)
  }

  /** Stops taking sales and writes what was read (unless the database is away). */
  async function stop(): Promise<void> {
    stopped = true
    if (timer) { clearTimeout(timer); timer = null; scheduled = false }
    if (buffer.length > 0 && !running) startDrain()
    while (running) await running
    // Held acknowledgements stay unsent: the persistent session redelivers those sales, and
    // machines republish anything else that was read but not stored.
    held.length = 0
  }

  return { accept, stop, stats, buffered: () => buffer.length }
}
export type SaleConsumer = ReturnType<typeof createSaleConsumer>
