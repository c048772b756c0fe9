import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { AtolReportResult, AtolSellResult } from '../atol/atol.client.js'
import { ATOL_PROVIDER, type AtolClientRegistry } from '../atol/atol-clients.js'
import { callbackDisagreement, type CallbackOutcome } from '../atol/callback-check.js'
import type { Database } from '../db/schema.js'
import type { OutboxEntry } from '../display/outbox.repository.js'
import { afterReport, afterSend, notAsked, type OutcomeContext } from './atol-outcome.js'
import { createAtolRecorder } from './atol-recorder.js'
import { claimDueAttempts, findWaitingAttempt, recordSteps, releaseLeases, type ClaimedAttempt } from './atol.repository.js'
import { submitPendingBatch } from './atol.signer.js'
import type { BatchResult } from './emulated.signer.js'

export interface AtolPollerDeps {
  db: Kysely<Database>
  logger: Logger
  clients: AtolClientRegistry
  publicUrl: string
  /** HTTP requests in flight per kassa. */
  concurrency: number
  /** How often to look for due sales, and the base of every backoff, ms. */
  pollMs: number
  /** How long claimed sales stay this gateway's, ms; must exceed 4 request timeouts (see perKassa). */
  leaseMs: number
  callbackUrl: string | undefined
  /** Displays committed with outcomes; published right after the commit. */
  onCommitted: (displays: OutboxEntry[]) => void
  now?: () => Date
  /** Most sales this gateway holds claimed at once, all kassas together. */
  holdMax?: number
  /** external_ids one sale may spend on retryable `fail`s. */
  maxAttempts?: number
}

/** One kassa's sales claimed by this gateway: queued for a request slot, or in flight. */
interface Lane { queue: ClaimedAttempt[]; active: number; held: number; busyUntil: number; busyReason: string; warnedAt: number }

const busy = (r: AtolSellResult | AtolReportResult): boolean => r.kind === 'error' && r.status !== null && (r.status >= 500 || r.status === 429)
const refusedCredentials = (r: AtolSellResult | AtolReportResult): boolean => r.kind === 'error' && (r.status === 401 || r.status === 403)

/**
 * The asynchronous half of the ATOL signer, on every gateway. It claims submitted sales whose next
 * step (send, or poll the result) is due into one lane per kassa, and each lane keeps at most
 * `concurrency` requests in flight, taking the next sale as soon as one answers: a slow or hung
 * request holds one slot, never the other kassas or the next claim. Answers are committed in
 * batches (atol-recorder.ts). Everything lives in the database, so a restarted or another gateway
 * carries on where a killed one stopped once its leases run out.
 * Measured on 2 cores with the protocol double in the same process (test/integration/atol-flow):
 * a claim of 64 takes 7–20 ms, 64 calls at concurrency 16 take 70–130 ms, and 500 sales (1,000
 * calls) go from ingest to receipt display in about 3 s; the double's HTTP, not SQL, is the limit.
 */
export function createAtolPoller(deps: AtolPollerDeps) {
  const log = deps.logger
  const now = deps.now ?? (() => new Date())
  const holdMax = deps.holdMax ?? 256
  // A lane holds at most 4 rounds of its requests, so a claimed sale waits ≤ 4 request timeouts.
  const perKassa = deps.concurrency * 4
  const ctx = (): OutcomeContext => ({ now: now(), pollMs: deps.pollMs, publicUrl: deps.publicUrl, maxAttempts: deps.maxAttempts ?? 5 })
  const recorder = createAtolRecorder({ db: deps.db, logger: log, onCommitted: deps.onCommitted })
  const lanes = new Map<string, Lane>()
  /** Sale rows claimed by this gateway and not finished: never claimed twice by it. */
  const held = new Set<number>()
  const tasks = new Set<Promise<void>>()
  let claiming: Promise<void> | null = null
  let again = false
  // The last claim left due sales behind for lack of room: a finished request claims again.
  let saturated = false
  let stopped = false
  let timer: NodeJS.Timeout | null = null
  const askingProvider = new Map<string, Promise<AtolReportResult>>()

  function track(task: Promise<void>): void {
    tasks.add(task)
    void task.finally(() => tasks.delete(task))
  }

  function laneOf(kassaId: string): Lane {
    let lane = lanes.get(kassaId)
    if (!lane) lanes.set(kassaId, lane = { queue: [], active: 0, held: 0, busyUntil: 0, busyReason: '', warnedAt: 0 })
    return lane
  }

  async function claim(): Promise<void> {
    for (const [id, lane] of lanes) if (lane.held === 0 && lane.busyUntil < Date.now()) lanes.delete(id)
    const free = holdMax - [...lanes.values()].reduce((n, l) => n + l.held, 0)
    if (free <= 0) { saturated = true; return }
    const room = Object.fromEntries([...lanes].map(([id, l]) => [id, perKassa - l.held]))
    let claimed: ClaimedAttempt[]
    try {
      claimed = await claimDueAttempts(deps.db, { limit: free, perKassa, room, held: [...held], leaseMs: deps.leaseMs })
    } catch (err) {
      log.warn({ err }, 'could not claim submitted sales; trying again in ATOL_POLL_MS')
      return
    }
    for (const c of claimed) {
      const lane = laneOf(c.row.kassaId)
      lane.queue.push(c)
      lane.held++
      held.add(c.row.saleRowId)
    }
    saturated = claimed.length === free || [...lanes.values()].some((l) => l.held >= perKassa)
    for (const [kassaId, lane] of lanes) {
      // Each worker takes its first sale synchronously, so this starts no more workers than sales.
      while (!stopped && lane.active < deps.concurrency && lane.queue.length > 0) track(work(kassaId, lane))
    }
  }

  async function work(kassaId: string, lane: Lane): Promise<void> {
    lane.active++
    try {
      while (!stopped) {
        const next = lane.queue.shift()
        if (!next) return
        try {
          await step(kassaId, lane, next)
        } catch (err) {
          log.error({ err, kassaId, saleId: next.row.saleId }, 'provider call failed unexpectedly; the sale is taken again after its lease')
        }
        lane.held--
        held.delete(next.row.saleRowId)
        if (saturated) pump()
      }
    } finally {
      lane.active--
    }
  }

  async function step(kassaId: string, lane: Lane, { row, providerConfig }: ClaimedAttempt): Promise<void> {
    // Rate limit or 5xx: the lane's next sales wait for their backoff instead of piling on.
    if (lane.busyUntil > Date.now()) return recorder.push(row, notAsked(row, lane.busyReason, ctx(), false))
    const found = await deps.clients.forKassa(kassaId, providerConfig)
    if (!found.ok) {
      if (Date.now() - lane.warnedAt > 60_000) log.error({ kassaId, reason: found.reason }, 'cannot call the provider for this kassa; its submitted sales wait')
      lane.warnedAt = Date.now()
      return recorder.push(row, notAsked(row, found.reason, ctx(), true))
    }
    const { client } = found.kassa
    if (row.status === 'sending') {
      const result = await (row.operation === 'sell' ? client.sell(row.request) : client.sellRefund(row.request))
      noteTrouble(kassaId, lane, result)
      recorder.push(row, afterSend(row, result, ctx()))
    } else {
      const result = await client.report(row.uuid!)
      noteTrouble(kassaId, lane, result)
      recorder.push(row, afterReport(row, result, ctx()))
    }
  }

  function noteTrouble(kassaId: string, lane: Lane, result: AtolSellResult | AtolReportResult): void {
    if (busy(result)) {
      lane.busyUntil = Date.now() + deps.pollMs
      lane.busyReason = `provider busy (HTTP ${(result as { status: number }).status}); deferred`
    }
    // The password may have been rotated since it was read: read it again next time.
    if (refusedCredentials(result)) deps.clients.forget(kassaId)
  }

  /** Claims what is due, as far as there is room (one claim at a time; a kick during one claims again after). */
  function pump(): void {
    if (stopped) return
    if (claiming) { again = true; return }
    claiming = claim().finally(() => {
      claiming = null
      if (again) { again = false; pump() }
    })
    track(claiming)
  }

  /**
   * Takes the kassa's pending sales to `submitted` (under its PostgreSQL claim) and sends them at once.
   * The fiscalizer worker calls it for kassas whose provider is atol-v5.
   */
  async function runBatch(kassaId: string, batchMax: number): Promise<BatchResult> {
    const batch = await submitPendingBatch(deps.db, kassaId, { batchMax, now, callbackUrl: deps.callbackUrl })
    if (batch.taken > 0) pump()
    return batch
  }

  /**
   * A provider's callback: a hint that the report for `uuid` is ready, never the truth (the body is
   * unauthenticated). For a uuid that is the open attempt of a submitted sale of that kassa, the
   * report is fetched from the provider with the kassa's credentials and acted on as a poll's would
   * be; a body that disagrees with it is logged and counted as a forgery, and nothing of it is used.
   */
  async function acceptReport(kassaId: string, uuid: string, claimed: AtolReportResult): Promise<CallbackOutcome> {
    const found = await findWaitingAttempt(deps.db, kassaId, uuid)
    if (!found) return 'unknown'
    const kassa = await deps.clients.forKassa(kassaId, found.providerConfig)
    if (!kassa.ok) return 'unverified'
    // Repeated callbacks for one uuid (a provider's retries, or someone who learned it) share one
    // request to the provider.
    let asking = askingProvider.get(uuid)
    if (!asking) {
      asking = kassa.kassa.client.report(uuid).finally(() => askingProvider.delete(uuid))
      askingProvider.set(uuid, asking)
    }
    const report = await asking
    if (report.kind === 'error' || report.kind === 'timeout') {
      log.info({ kassaId, uuid, saleId: found.row.saleId }, 'callback received, but the provider could not be asked for the report; the poller will')
      return 'unverified'
    }
    const disagreement = callbackDisagreement(claimed, report)
    if (disagreement) {
      log.warn({ kassaId, uuid, machineId: found.row.machineId, saleId: found.row.saleId, reason: disagreement }, 'forged provider callback: its body disagrees with the provider\'s report; acting on the provider\'s')
    }
    if (report.kind !== 'wait') {
      const { displays } = await recordSteps(deps.db, ATOL_PROVIDER, [{ row: found.row, step: afterReport(found.row, report, ctx()) }])
      if (displays.length > 0) deps.onCommitted(displays)
    }
    return disagreement ? 'forged' : 'confirmed'
  }

  async function settled(): Promise<void> {
    while (tasks.size > 0) await Promise.all([...tasks])
    await recorder.idle()
  }

  return {
    runBatch,
    acceptReport,
    kick: pump,
    /** Claims and works until nothing due now is left, then returns (tests). */
    async runOnce(): Promise<void> {
      pump()
      await settled()
    },
    start(): void {
      pump() // resume what a previous gateway left submitted
      timer = setInterval(pump, deps.pollMs)
    },
    /**
     * Starts no request; waits for those in flight (bounded by the request timeout) and their commit,
     * and hands the claimed sales it will not send back to the other gateways at once.
     */
    async stop(): Promise<void> {
      stopped = true
      if (timer) clearInterval(timer)
      await settled()
      const unsent = [...lanes.values()].flatMap((l) => l.queue.splice(0)).map((c) => c.row.saleRowId)
      await releaseLeases(deps.db, unsent).catch((err: unknown) => log.warn({ err }, 'could not release claimed sales; they return after their lease'))
    },
  }
}
export type AtolPoller = ReturnType<typeof createAtolPoller>
