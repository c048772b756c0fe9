import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { StoredSale } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import type { OutboxEntry } from '../display/outbox.repository.js'
import { isRetryableDbError } from '../errors.js'
import { closeShiftIfDueTx, signPendingBatch, type BatchResult } from './emulated.signer.js'
import { createRoundSigner } from './fiscal-round.js'
import { kassaProvider, kassasWithOpenShift, kassasWithPendingSales, pendingKassasWithAge } from './fiscal.repository.js'

/**
 * Locked batches in a row that signed sales without meeting another signer, after which a kassa is
 * signed with checked batches (emulated.signer.ts). With every gateway kicked for every kassa,
 * checked batches would race and waste a write in each race, while a locked claim just skips a
 * kassa another gateway holds; so a kassa starts locked, and goes back to locked when a claim
 * finds it held or a checked write finds the FN moved.
 */
const UNCONTENDED_BATCHES = 20

/** Takes a batch of a kassa's pending sales with a signer other than the emulated FN. */
export type BatchRunner = (kassaId: string, batchMax: number) => Promise<BatchResult>

export interface FiscalizerDeps {
  db: Kysely<Database>
  logger: Logger
  batchMax: number
  publicUrl: string
  /** Displays committed by a batch; published right after the commit. */
  onCommitted: (displays: OutboxEntry[], batch: BatchResult, kassaId: string) => void
  now?: () => Date
  /** How often to look for pending sales stored by other gateways or waiting for retry (ms). */
  pollMs?: number
  /** How long to leave a kassa alone after its FN refused to sign (ms). */
  blockedBackoffMs?: number
  /** Batch runners by `kassas.provider` (e.g. 'atol-v5'); 'emulated' kassas are signed here. */
  signers?: Readonly<Record<string, BatchRunner>>
  /**
   * Kassas worked at once; others wait their turn, their sales gathering into bigger batches.
   * Default 32.
   */
  concurrency?: number
  /**
   * Batches that each hold a pooled connection at once: locked batches and other providers'.
   * Uncapped, 10 busy kassas took the whole pool from ingest and split 1,000 sales/s into batches
   * of ~25 (4: ~50, fewer statements per sale; scripts/bench). Checked batches of the emulated FN
   * go in rounds instead (fiscal-round.ts), `rounds` at a time. Default 4.
   */
  connections?: number
  /** Rounds of checked batches in flight at once (fiscal-round.ts). Default 1. */
  rounds?: number
  /** Least time between the starts of two rounds (fiscal-round.ts `windowMs`). Default 0. */
  roundWindowMs?: number
  /**
   * The kassas this gateway is woken for (protocol/gateway-ring.ts); default all. Its poll takes
   * another gateway's kassa only once a sale there has waited `takeoverMs` (default 2000): that
   * gateway died or lost its database, and its sales must not stay unfiscalized.
   */
  owns?: (kassaId: string) => boolean
  takeoverMs?: number
}

/**
 * Runs fiscalization batches per kassa. A kassa is worked by one loop at a time in this process
 * (and by one process at a time, through the FN row lock); a loop takes batch after batch while
 * sales keep coming, so a lone sale is signed at once and a burst is signed in batches of up to
 * `batchMax` (adaptive batching without a timer).
 */
export function createFiscalizer(deps: FiscalizerDeps) {
  const log = deps.logger
  const now = deps.now ?? (() => new Date())
  const running = new Map<string, Promise<void>>()
  const again = new Set<string>()
  const blockedUntil = new Map<string, number>()
  let timers: NodeJS.Timeout[] = []
  let stopped = false
  // A kassa's provider is set when it is added and never changes: looked up once per process.
  const providers = new Map<string, string>()
  /** Locked batches in a row that signed without meeting another signer, by kassa (UNCONTENDED_BATCHES). */
  const alone = new Map<string, number>()
  const signing = { batchMax: deps.batchMax, publicUrl: deps.publicUrl, now }
  const rounds = createRoundSigner({
    db: deps.db, ...signing, inFlight: deps.rounds ?? 1, windowMs: deps.roundWindowMs,
    onRoundError: (err, kassaIds) => log.warn({ err, kassaIds }, 'fiscalization round failed; each of its kassas signs alone'),
  })

  /** Batches holding a pooled connection now, and those waiting for one (`connections`). */
  const connections = deps.connections ?? 4
  let holding = 0
  const waitingForConnection: (() => void)[] = []
  async function withConnection<T>(work: () => Promise<T>): Promise<T> {
    if (holding >= connections) await new Promise<void>((resolve) => waitingForConnection.push(resolve))
    else holding++
    try {
      return await work()
    } finally {
      // Handed straight to the next batch waiting, or released.
      const nextBatch = waitingForConnection.shift()
      if (nextBatch) nextBatch()
      else holding--
    }
  }

  async function runBatch(kassaId: string): Promise<BatchResult> {
    let provider = providers.get(kassaId)
    if (provider === undefined) providers.set(kassaId, provider = (await kassaProvider(deps.db, kassaId)) ?? 'emulated')
    if (provider === 'emulated') {
      const streak = alone.get(kassaId) ?? 0
      const batch = await signEmulated(kassaId, streak >= UNCONTENDED_BATCHES)
      if (!batch.claimed || batch.contended) alone.delete(kassaId)
      else if (batch.signed > 0 && streak < UNCONTENDED_BATCHES) alone.set(kassaId, streak + 1)
      return batch
    }
    const runner = deps.signers?.[provider]
    if (runner) return withConnection(() => runner(kassaId, deps.batchMax))
    return { claimed: true, taken: 0, signed: 0, displays: [], blocked: { code: 'no_signer', message: `no signer for provider ${provider}` } }
  }

  /** A checked batch goes in the next round; what the round leaves to the kassa is signed alone. */
  async function signEmulated(kassaId: string, checked: boolean): Promise<BatchResult> {
    // Signed alone, the kassa's FN moves without the round seeing its version: the round forgets it.
    if (!checked) {
      rounds.forget(kassaId)
      return withConnection(() => signPendingBatch(deps.db, kassaId, { ...signing, checked: false }))
    }
    const outcome = await rounds.sign(kassaId)
    if ('batch' in outcome) return outcome.batch
    // The round forgot the kassa already (fiscal-round.ts): whatever it held may be stale.
    const batch = await withConnection(() => signPendingBatch(deps.db, kassaId, { ...signing, checked: outcome.alone === 'checked' }))
    return outcome.alone === 'contended' ? { ...batch, contended: true } : batch
  }

  const concurrency = deps.concurrency ?? 32
  /** Kassas with sales waiting for a free slot, oldest first. */
  const queued = new Set<string>()

  /**
   * Starts a batch for each kassa (or marks it for another when one runs). `stored`: sales just
   * stored for these kassas, as the broker's kick carried them (protocol/stored-kick.ts); an
   * emulated kassa's next batch is signed from them without reading them back (fiscal-round.ts).
   */
  function kick(kassaIds: Iterable<string>, stored: readonly StoredSale[] = []): void {
    const ids = new Set(kassaIds)
    // Only kassas signed in rounds hold kicked sales (their provider is known once they signed a
    // batch), and not while their FN refuses to sign: those sales wait in the table.
    const at = Date.now()
    const offered = stored.filter((s) => ids.has(s.kassa_id) && providers.get(s.kassa_id) === 'emulated' && (blockedUntil.get(s.kassa_id) ?? 0) <= at)
    if (offered.length > 0 && !stopped) rounds.offer(offered)
    for (const id of ids) {
      if (stopped) return
      if ((blockedUntil.get(id) ?? 0) > at) continue
      if (running.has(id)) { again.add(id); continue }
      if (running.size >= concurrency) { queued.add(id); continue }
      startKassa(id)
    }
  }

  function startKassa(id: string): void {
    queued.delete(id)
    running.set(id, runKassa(id).finally(() => {
      running.delete(id)
      // Kicked while it ran: to the back of the queue, so the kassas already waiting go first.
      if (again.delete(id)) queued.add(id)
      for (const next of queued) {
        if (stopped || running.size >= concurrency) break
        queued.delete(next)
        if ((blockedUntil.get(next) ?? 0) <= Date.now()) startKassa(next)
      }
    }))
  }

  async function runKassa(kassaId: string): Promise<void> {
    for (;;) {
      let batch: BatchResult
      try {
        batch = await runBatch(kassaId)
      } catch (err) {
        log.error({ err, kassaId, retryable: isRetryableDbError(err) }, 'fiscalization batch failed; rolled back, will retry')
        return
      }
      if (batch.displays.length > 0 || batch.signed > 0 || batch.range) deps.onCommitted(batch.displays, batch, kassaId)
      if (batch.blocked) {
        log.warn({ kassaId, reason: batch.blocked }, 'the kassa refuses to sign; sales stay pending')
        blockedUntil.set(kassaId, Date.now() + (deps.blockedBackoffMs ?? 5000))
        rounds.forget(kassaId)
        return
      }
      blockedUntil.delete(kassaId)
      if (!batch.claimed || batch.taken < deps.batchMax || stopped) return
      // A full batch and others waiting: yield the slot and queue again (round robin).
      if (queued.size > 0) { again.add(kassaId); return }
    }
  }

  /** Drains every kassa's queue now and returns when nothing is left to take (tests, shutdown). */
  async function runOnce(): Promise<void> {
    kick(await kassasWithPendingSales(deps.db))
    while (running.size > 0) await Promise.all([...running.values()])
  }

  async function closeDueShifts(): Promise<void> {
    for (const kassaId of await kassasWithOpenShift(deps.db)) {
      const closed = await closeShiftIfDueTx(deps.db, kassaId, now())
      if (closed > 0) log.info({ kassaId }, 'closed a shift before it passed 24 hours')
    }
  }

  const takeoverMs = deps.takeoverMs ?? 2000
  /** Pending kassas this gateway should take now: its own, and others' whose sales wait too long. */
  async function due(): Promise<string[]> {
    const owns = deps.owns
    if (!owns) return kassasWithPendingSales(deps.db)
    const pending = await pendingKassasWithAge(deps.db)
    return pending.filter((k) => owns(k.kassaId) || k.waitedMs >= takeoverMs).map((k) => k.kassaId)
  }

  /** Looks for pending sales now (also the timer's job): e.g. when another gateway's kassas became this one's. */
  function poll(): void {
    if (stopped) return
    void due().then(kick).catch((err) => log.warn({ err }, 'pending-sales poll failed'))
  }

  function start(): void {
    timers = [
      setInterval(poll, deps.pollMs ?? 1000),
      setInterval(() => void closeDueShifts().catch((err) => log.warn({ err }, 'shift check failed')), 60_000),
    ]
  }

  /** Finishes the batches in flight, takes no new ones. */
  async function stop(): Promise<void> {
    stopped = true
    timers.forEach(clearInterval)
    while (running.size > 0) await Promise.all([...running.values()])
  }

  return { kick, poll, runOnce, start, stop, closeDueShifts }
}
export type Fiscalizer = ReturnType<typeof createFiscalizer>
