import type { Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
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
 * Checked batches of the emulated FN (emulated.signer.ts), several kassas at a time: the kassas
 * asking while a round is in flight form the next round, whose claim is one statement for all
 * their FNs and pending sales and whose write is one statement for all their batches. A batch
 * of a few sales costs the database about 1 ms whatever its size plus ~0.15 ms a sale
 * (README: Performance), so at 1,000 sales/s over 10 kassas, where each kassa's batch held 2–3
 * sales, the fixed cost was most of it; a round pays it once for all of them. Each FN's batch
 * still commits only if its row is the version its claim read, and each kassa gets its own
 * result: a round is a way of sending statements, not a change of what a batch guarantees.
 */
export function createRoundSigner(deps: RoundSignerDeps) {
  const maxInFlight = deps.inFlight ?? 1
  let next = new Map<string, Waiter[]>()
  let inFlight = 0
  let scheduled = false
  /** Rounds run, and kassas they claimed: their ratio is the kassas a round serves. */
  const stats = { rounds: 0, kassas: 0 }

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
    const claims = await claimKassas(deps.db, kassaIds, deps.batchMax)
    stats.rounds++
    stats.kassas += claims.size
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
    const written = await writeBatches(deps.db, writes)
    for (const { kassaId, claim, batch } of signed) {
      const w = written.get(claim.drive.fn)
      outcomes.set(kassaId, w ? { batch: batch.result(w) } : { alone: 'contended' })
    }
    return outcomes
  }

  return { sign, stats }
}
export type RoundSigner = ReturnType<typeof createRoundSigner>
