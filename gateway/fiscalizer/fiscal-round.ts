import type { Kysely } from 'kysely'
import type { Database, FiscalDriveRow } from '../db/schema.js'
import { claimKassas, writeBatches, type BatchWrite, type ClaimedBatch } from './batch-commit.repository.js'
import { NOT_CLAIMED, signClaimed, type BatchResult, type EmulatedSignerOptions, type SignedBatch } from './emulated.signer.js'

/**
 * What a round did for a kassa: its batch, or what the kassa's own batch should do instead
 * (emulated.signer.ts): `locked` (a refund, or a sale the FN refuses or defers), `checked` (its
 * claim met a newer FN row, or the round failed as a whole: try alone), `contended` (another
 * signer moved the FN between the round's claim and its write).
 */
export type RoundOutcome = { batch: BatchResult } | { alone: 'locked' | 'checked' | 'contended' }

export interface RoundSignerDeps extends Omit<EmulatedSignerOptions, 'checked'> {
  db: Kysely<Database>
  /** Rounds in flight at once (each one statement at a time on one pooled connection). Default 1. */
  inFlight?: number
}

interface Waiter { resolve: (o: RoundOutcome) => void; reject: (err: unknown) => void }

/**
 * How long the next batch read by a round's write (writeBatches `prefetch`) stands in for a claim
 * (ms). Past it the kassa is claimed afresh: a stale one would not sign anything wrong (its write
 * is checked against the FN version the write returned) but could waste a write.
 */
const PREFETCH_FRESH_MS = 1000

/** The FN row as a batch's write left it: the claim's row with the state it wrote. */
function driveAfter(drive: FiscalDriveRow, write: BatchWrite): FiscalDriveRow {
  const s = write.state
  return {
    ...drive, next_fd: s.nextFd, shift_number: s.shiftNumber, shift_opened_at: s.shiftOpenedAt, receipts_in_shift: s.receiptsInShift,
    unsent_count: s.unsentCount, first_unsent_at: s.firstUnsentAt, blocked_reason: write.blockedReason,
  }
}

/**
 * Checked batches of the emulated FN (emulated.signer.ts), several kassas at a time: the kassas
 * asking while a round is in flight form the next round, whose claim is one statement for all
 * their FNs and pending sales and whose write is one statement for all their batches. A batch
 * of a few sales costs the database about 1 ms whatever its size plus ~0.15 ms a sale
 * (README: Performance), so at 1,000 sales/s over 10 kassas, where each kassa's batch held 2–3
 * sales, the fixed cost was most of it; a round pays it once for all of them. Each FN's batch
 * still commits only if its row is the version its claim read, and each kassa gets its own
 * result: a round is a way of sending statements, not a change of what a batch guarantees.
 *
 * A round's write also reads each kassa's next pending sales (writeBatches `prefetch`): a busy
 * kassa's next batch is signed from those, checked against the FN version that write committed,
 * and its claim statement is saved (one statement a batch instead of two; at one kassa selling
 * 500 sales/s, three batches in four, README: Performance).
 */
export function createRoundSigner(deps: RoundSignerDeps) {
  const maxInFlight = deps.inFlight ?? 1
  let next = new Map<string, Waiter[]>()
  let inFlight = 0
  let scheduled = false
  /**
   * Rounds run, and kassas they signed: their ratio is the kassas a round serves; `prefetched`:
   * kassas whose batch was read by their previous batch's write, with no claim statement.
   */
  const stats = { rounds: 0, kassas: 0, prefetched: 0 }
  /** Each kassa's next batch as its last round's write read it, and when (performance.now()). */
  const prefetched = new Map<string, { claim: ClaimedBatch; at: number }>()

  /** This kassa's checked batch, in the next round. */
  function sign(kassaId: string): Promise<RoundOutcome> {
    return new Promise<RoundOutcome>((resolve, reject) => {
      const list = next.get(kassaId)
      if (list) list.push({ resolve, reject })
      else next.set(kassaId, [{ resolve, reject }])
      pump()
    })
  }

  function pump(): void {
    if (scheduled || inFlight >= maxInFlight || next.size === 0) return
    // Every kassa asking in this turn of the event loop joins the round.
    scheduled = true
    setImmediate(() => {
      scheduled = false
      if (inFlight >= maxInFlight || next.size === 0) return
      const round = next
      next = new Map()
      inFlight++
      void run(round).finally(() => { inFlight--; pump() })
    })
  }

  async function run(round: Map<string, Waiter[]>): Promise<void> {
    let outcomes: Map<string, RoundOutcome>
    try {
      outcomes = await signRound([...round.keys()])
    } catch (err) {
      // A deadlock with another signer's write or a serialization failure is about the round's
      // timing, not its kassas: each tries alone. Anything else is reported to every kassa.
      const code = (err as { code?: string }).code
      if (code !== '40P01' && code !== '40001') { for (const ws of round.values()) ws.forEach((w) => w.reject(err)); return }
      outcomes = new Map([...round.keys()].map((k) => [k, { alone: 'checked' as const }]))
    }
    for (const [kassaId, ws] of round) {
      // A kassa asked twice (never by the fiscalizer, which runs one batch per kassa at a time): the first gets the round's batch.
      ws.forEach((w, i) => w.resolve(i === 0 ? outcomes.get(kassaId)! : { alone: 'checked' }))
    }
  }

  async function signRound(kassaIds: string[]): Promise<Map<string, RoundOutcome>> {
    // A kassa whose last write read sales waiting after its batch signs those; the others, and one
    // whose last write found nothing more (sales may have come since), are claimed.
    const ready = new Map<string, ClaimedBatch>()
    for (const kassaId of kassaIds) {
      const next = prefetched.get(kassaId)
      prefetched.delete(kassaId)
      if (next && next.claim.sales.length > 0 && performance.now() - next.at < PREFETCH_FRESH_MS) ready.set(kassaId, next.claim)
    }
    const toClaim = kassaIds.filter((k) => !ready.has(k))
    const claims: Map<string, ClaimedBatch | 'stale'> = toClaim.length > 0 ? await claimKassas(deps.db, toClaim, deps.batchMax) : new Map()
    for (const [kassaId, claim] of ready) claims.set(kassaId, claim)
    stats.rounds++
    stats.kassas += claims.size
    stats.prefetched += ready.size
    const outcomes = new Map<string, RoundOutcome>()
    const signed: { kassaId: string; claim: ClaimedBatch; batch: SignedBatch }[] = []
    for (const kassaId of kassaIds) {
      const claim = claims.get(kassaId)
      if (claim === undefined) outcomes.set(kassaId, { batch: NOT_CLAIMED })
      else if (claim === 'stale') outcomes.set(kassaId, { alone: 'checked' })
      else if (claim.sales.length === 0) outcomes.set(kassaId, { batch: { ...NOT_CLAIMED, claimed: true } })
      else if (claim.sales.some((s) => s.kind === 'refund')) outcomes.set(kassaId, { alone: 'locked' })
      else {
        const batch = signClaimed(claim, [], deps)
        if (batch.refused.length > 0 || batch.waiting.length > 0) outcomes.set(kassaId, { alone: 'locked' })
        else signed.push({ kassaId, claim, batch })
      }
    }
    if (signed.length === 0) return outcomes
    const writes: BatchWrite[] = signed.map(({ claim, batch }) => ({ ...batch.write, ifVersion: claim.rowVersion }))
    const at = performance.now()
    const written = await writeBatches(deps.db, writes, deps.batchMax)
    for (const { kassaId, claim, batch } of signed) {
      const w = written.get(claim.drive.fn)
      if (w?.next) prefetched.set(kassaId, { at, claim: { drive: driveAfter(claim.drive, batch.write), rowVersion: w.version, kassa: w.next.kassa, sales: w.next.sales } })
      outcomes.set(kassaId, w ? { batch: batch.result(w) } : { alone: 'contended' })
    }
    return outcomes
  }

  return { sign, stats }
}
export type RoundSigner = ReturnType<typeof createRoundSigner>
