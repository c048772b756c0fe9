import type { Kysely } from 'kysely'
import type { StoredSale } from '../../protocol/index.js'
import type { Database, FiscalDriveRow } from '../db/schema.js'
import type { KassaIdentity } from '../fiscal/fn.types.js'
import { checkedWrite, claimKassas, writeBatches, type BatchWrite, type ClaimedBatch } from './batch-commit.repository.js'
import type { ClaimedSale } from './fiscal.repository.js'
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
  /**
   * Least time between the starts of two rounds (ms): a round due sooner waits, and the kassas
   * asking meanwhile join it; a round after a quiet spell starts at once. Default 0 (never waits).
   */
  windowMs?: number
  /**
   * Kicked sales held per kassa, and in all, waiting to be signed; beyond these the claim reads
   * them. Default 10,000 and 100,000 (a sale held is about half a kilobyte).
   */
  heldMax?: number
  heldTotalMax?: number
  /** How long a kassa is signed from kicked sales before a claim reads its pending sales again (ms). Default 1,000. */
  claimEveryMs?: number
  clock?: () => number
  /** A round failed as a whole (its kassas then sign alone): for the log. */
  onRoundError?: (err: unknown, kassaIds: readonly string[]) => void
}

/** Resolves a kassa's request with what the round did for it. */
type Waiter = (o: RoundOutcome) => void

/** A kassa's FN as this process last wrote it: enough to sign its next batch without a claim. */
interface Written {
  drive: FiscalDriveRow
  /** The FN row's version that write made (its xmin). */
  rowVersion: string
  kassa: KassaIdentity
  /** When a claim last read the kassa's pending sales (clock ms). */
  claimedAt: number
  /** The kassa's next batch, signed from this state while the write that made it was in flight. */
  ahead?: Ahead
}

/** A kassa's batch of a round, signed and about to be written; `fromKick`: from the sales its kicks brought. */
interface SignedKassa { kassaId: string; claim: ClaimedBatch; batch: SignedBatch; fromKick: boolean }

/** A batch signed ahead: its sales (the kassa's oldest held after the batch in flight) and when (clock ms). */
interface Ahead { sales: ClaimedSale[]; batch: SignedBatch; at: number }

/**
 * How long a batch signed ahead stays usable (ms): its documents carry the time it was signed, so
 * one whose kassa asks again later than this is signed again.
 */
const AHEAD_MAX_AGE_MS = 1000

/**
 * Checked batches of the emulated FN (emulated.signer.ts), several kassas at a time: the kassas
 * asking while a round is in flight form the next round, whose claim is one statement for all
 * their FNs and pending sales and whose write is one statement for all their batches. A batch
 * of a few sales costs the database about 1 ms whatever its size plus ~0.15 ms a sale
 * (docs/performance.md), so at 1,000 sales/s over 10 kassas, where each kassa's batch held 2–3
 * sales, the fixed cost was most of it; a round pays it once for all of them. Each FN's batch
 * still commits only if its row is the version its claim read, and each kassa gets its own
 * result: a round is a way of sending statements, not a change of what a batch guarantees. Under
 * load a round also waits until `windowMs` after the start of the one before, so each statement
 * carries more sales (BATCH_WINDOW_MS; docs/performance.md).
 *
 * A kassa this process wrote last needs no claim at all while the brokers' kicks bring its sales
 * (`offer`, protocol/stored-kick.ts): its FN is as that write left it, and the next batch is
 * signed from the FN's state and the version that write returned and from the kicked sales, and
 * written with the same check. The write also checks each sale against the table (still this
 * kassa's pending sale, with the saleId and total signed: batch-commit.repository.ts), so a kicked
 * copy is only ever a hint. When that write finds anything moved, the kassa forgets what it held
 * and its next batch is claimed. A claim still reads the kassa's pending sales every
 * `claimEveryMs`, for sales no kick brought (a lost kick, a retry come due).
 *
 * With a backlog of kicked sales (a burst through one kassa), the next batch is signed while the
 * write is in flight (`signAhead`), so that a kassa's batches follow each other at the pace of the
 * writes rather than of signing and writing in turn (docs/performance.md).
 */
export function createRoundSigner(deps: RoundSignerDeps) {
  const maxInFlight = deps.inFlight ?? 1
  const heldMax = deps.heldMax ?? 10_000
  const heldTotalMax = deps.heldTotalMax ?? 100_000
  const claimEveryMs = deps.claimEveryMs ?? 1000
  const clock = deps.clock ?? Date.now
  const windowMs = deps.windowMs ?? 0
  let next = new Map<string, Waiter[]>()
  let inFlight = 0
  let scheduled = false
  /** When the last round started (clock ms). */
  let lastRoundAt = -Infinity
  /**
   * Rounds run; kassas they signed or claimed; and of those, the batches signed from kicked
   * sales without a claim, and the batches written as signed ahead (`signAhead`). kassas /
   * rounds is the kassas a round serves.
   */
  const stats = { rounds: 0, kassas: 0, unclaimed: 0, ahead: 0 }
  const written = new Map<string, Written>()
  /** Kicked sales not yet signed, by kassa, oldest first; `heldTotal` of them in all. */
  const held = new Map<string, Map<number, ClaimedSale>>()
  let heldTotal = 0

  /** Sales just stored for these kassas, as the kick carried them. */
  function offer(sales: readonly StoredSale[]): void {
    for (const { kassa_id: kassaId, ...sale } of sales) {
      let list = held.get(kassaId)
      if (!list) held.set(kassaId, list = new Map())
      if (list.size >= heldMax || heldTotal >= heldTotalMax || list.has(sale.id)) continue
      list.set(sale.id, sale)
      heldTotal++
    }
  }

  function release(list: Map<number, ClaimedSale>, id: number): void {
    if (list.delete(id)) heldTotal--
  }

  /** Drops what this process held of a kassa: another signer moved its FN, or may have. */
  function forget(kassaId: string): void {
    written.delete(kassaId)
    heldTotal -= held.get(kassaId)?.size ?? 0
    held.delete(kassaId)
  }

  /** This kassa's checked batch, in the next round. */
  function sign(kassaId: string): Promise<RoundOutcome> {
    return new Promise<RoundOutcome>((resolve) => {
      const list = next.get(kassaId)
      if (list) list.push(resolve)
      else next.set(kassaId, [resolve])
      pump()
    })
  }

  function pump(): void {
    if (scheduled || inFlight >= maxInFlight || next.size === 0) return
    // Every kassa asking in this turn of the event loop joins the round, and under load (the last
    // round started less than windowMs ago) every kassa asking until windowMs after it.
    scheduled = true
    const wait = lastRoundAt + windowMs - clock()
    const start = () => {
      scheduled = false
      if (inFlight >= maxInFlight || next.size === 0) return
      lastRoundAt = clock()
      const round = next
      next = new Map()
      inFlight++
      void run(round).finally(() => { inFlight--; pump() })
    }
    if (wait > 0) setTimeout(start, wait)
    else setImmediate(start)
  }

  async function run(round: Map<string, Waiter[]>): Promise<void> {
    let outcomes: Map<string, RoundOutcome>
    try {
      outcomes = await signRound([...round.keys()])
    } catch (err) {
      try {
        deps.onRoundError?.(err, [...round.keys()])
      } catch {
        // A report that fails must not leave the round's kassas waiting.
      }
      // A round's statements carry every kassa in it, so one kassa's error (a deadlock with
      // another signer's write, or a row the database refuses) would fail them all, and every
      // round after it under load, when all the kassas ask together. Each tries alone instead,
      // checked against its FN as it is now (the write may or may not have committed): the kassa
      // at fault fails on its own, and an error of the database itself fails each of them.
      for (const kassaId of round.keys()) forget(kassaId)
      outcomes = new Map([...round.keys()].map((k) => [k, { alone: 'checked' as const }]))
    }
    for (const [kassaId, ws] of round) {
      // A kassa asked twice (never by the fiscalizer, which runs one batch per kassa at a time): the first gets the round's batch.
      ws.forEach((w, i) => w(i === 0 ? outcomes.get(kassaId)! : { alone: 'checked' }))
    }
  }

  /** The kassa's next batch from its kicked sales, when this process wrote its FN last and a claim read it lately. */
  function unclaimedBatch(kassaId: string): ClaimedBatch | null {
    const last = written.get(kassaId)
    const list = held.get(kassaId)
    if (!last || !list || list.size === 0 || clock() - last.claimedAt >= claimEveryMs) return null
    return { drive: last.drive, rowVersion: last.rowVersion, kassa: last.kassa, sales: oldestHeld(list) }
  }

  /** A batch of a kassa's oldest kicked sales held, leaving out `except` (a batch being written). */
  function oldestHeld(list: Map<number, ClaimedSale>, except?: ReadonlySet<number>): ClaimedSale[] {
    const sales: ClaimedSale[] = []
    for (const sale of list.values()) {
      if (sales.length === deps.batchMax) break
      if (!except?.has(sale.id)) sales.push(sale)
    }
    return sales
  }

  /**
   * After a claim: the kicked sales it did not read up to the last one it read are no longer
   * pending, or were stored after its snapshot; either way the claim, not this list, takes them.
   */
  function claimedThrough(kassaId: string, claim: ClaimedBatch): void {
    const list = held.get(kassaId)
    if (!list) return
    const read = new Set(claim.sales.map((s) => s.id))
    const last = claim.sales.length === 0 ? Infinity : Math.max(...read)
    for (const id of list.keys()) if (id <= last && !read.has(id)) release(list, id)
  }

  async function signRound(kassaIds: string[]): Promise<Map<string, RoundOutcome>> {
    const outcomes = new Map<string, RoundOutcome>()
    const batches = new Map<string, { claim: ClaimedBatch; fromKick: boolean }>()
    const toClaim: string[] = []
    const signedAhead = new Map<string, SignedBatch>()
    for (const kassaId of kassaIds) {
      const batch = unclaimedBatch(kassaId)
      if (batch) batches.set(kassaId, { claim: batch, fromKick: true })
      else toClaim.push(kassaId)
      // Signed during the last write from the state it committed: usable when it holds exactly the
      // sales this batch would (none released, none offered before them since) and is fresh.
      const ahead = written.get(kassaId)?.ahead
      if (batch && ahead && clock() - ahead.at < AHEAD_MAX_AGE_MS && ahead.sales.length === batch.sales.length
        && ahead.sales.every((s, i) => s === batch.sales[i])) signedAhead.set(kassaId, ahead.batch)
    }
    const claims = toClaim.length > 0 ? await claimKassas(deps.db, toClaim, deps.batchMax) : new Map<string, ClaimedBatch | 'stale'>()
    const claimedAt = clock()
    stats.rounds++
    stats.kassas += claims.size + batches.size
    stats.unclaimed += batches.size
    for (const kassaId of toClaim) {
      const claim = claims.get(kassaId)
      if (claim === undefined || claim === 'stale') forget(kassaId)
      else claimedThrough(kassaId, claim)
      if (claim === undefined) outcomes.set(kassaId, { batch: NOT_CLAIMED })
      else if (claim === 'stale') outcomes.set(kassaId, { alone: 'checked' })
      else if (claim.sales.length === 0) {
        written.set(kassaId, { drive: claim.drive, rowVersion: claim.rowVersion, kassa: claim.kassa, claimedAt })
        outcomes.set(kassaId, { batch: { ...NOT_CLAIMED, claimed: true } })
      } else batches.set(kassaId, { claim, fromKick: false })
    }
    const signed: SignedKassa[] = []
    for (const [kassaId, { claim, fromKick }] of batches) {
      if (claim.sales.some((s) => s.kind === 'refund')) { forget(kassaId); outcomes.set(kassaId, { alone: 'locked' }); continue }
      const batch = signedAhead.get(kassaId) ?? signClaimed(claim, [], deps)
      if (batch.refused.length > 0 || batch.waiting.length > 0) { forget(kassaId); outcomes.set(kassaId, { alone: 'locked' }) }
      else signed.push({ kassaId, claim, batch, fromKick })
    }
    if (signed.length === 0) return outcomes
    const writes: BatchWrite[] = signed.map(({ claim, batch }) => checkedWrite(batch.write, claim.rowVersion))
    const writing = writeBatches(deps.db, writes)
    // Rejected before it is awaited below, it must not count as unhandled meanwhile.
    writing.catch(() => undefined)
    const ahead = await signAhead(signed)
    const result = await writing
    for (const { kassaId, claim, batch, fromKick } of signed) {
      const w = result.get(claim.drive.fn)
      if (!w) {
        forget(kassaId)
        // A batch from kicked sales read nothing: whether the FN moved or a copy was stale, a claim tells.
        outcomes.set(kassaId, { alone: fromKick ? 'checked' : 'contended' })
        continue
      }
      if (signedAhead.has(kassaId)) stats.ahead++
      const next = ahead.get(kassaId)
      written.set(kassaId, {
        drive: nextDrive(claim.drive, batch),
        rowVersion: w.version, kassa: claim.kassa, claimedAt: fromKick ? written.get(kassaId)!.claimedAt : claimedAt,
        ...(next ? { ahead: next } : {}),
      })
      const list = held.get(kassaId)
      if (list) for (const d of batch.write.done) release(list, d.id)
      const signedBatch = batch.result(w)
      if (fromKick) signedBatch.kicked = true
      outcomes.set(kassaId, { batch: signedBatch })
    }
    return outcomes
  }

  /**
   * While a round's write is in flight (its statement sent: this waits a turn of the event loop
   * first), each kassa written from kicked sales that holds a full batch more has that batch
   * signed from the FN state the write will commit. The write's result decides: committed, the
   * kassa's next round writes it at once, checked against the version committed like any kicked
   * batch (so a kassa whose write fails, or which another signer moves, never uses it); not
   * committed, the kassa is forgotten and it with it. Only the time is signed early: at most a
   * write's duration, and never more than AHEAD_MAX_AGE_MS. Without such a backlog nothing is
   * signed ahead and the write is awaited at once, as before.
   */
  async function signAhead(signed: readonly SignedKassa[]): Promise<Map<string, Ahead>> {
    const ahead = new Map<string, Ahead>()
    const backlog = signed.flatMap(({ kassaId, claim, batch, fromKick }) => {
      const list = held.get(kassaId)
      // A full batch beyond the one in flight, or nothing to sign ahead.
      if (!fromKick || !list || list.size < batch.write.done.length + deps.batchMax) return []
      const sales = oldestHeld(list, new Set(batch.write.done.map((d) => d.id)))
      return sales.length === deps.batchMax && !sales.some((s) => s.kind === 'refund') ? [{ kassaId, claim, batch, sales }] : []
    })
    if (backlog.length === 0) return ahead
    await new Promise((resolve) => setImmediate(resolve))
    for (const { kassaId, claim, batch, sales } of backlog) {
      try {
        const next = signClaimed({ drive: nextDrive(claim.drive, batch), rowVersion: claim.rowVersion, kassa: claim.kassa, sales }, [], deps)
        if (next.refused.length === 0 && next.waiting.length === 0 && next.write.blockedReason === null) ahead.set(kassaId, { sales, batch: next, at: clock() })
      } catch {
        // Signed again when the kassa asks; nothing was written.
      }
    }
    return ahead
  }

  /** The FN row as a batch's write leaves it. */
  function nextDrive(drive: FiscalDriveRow, batch: SignedBatch): FiscalDriveRow {
    const s = batch.write.state
    return {
      ...drive, next_fd: s.nextFd, shift_number: s.shiftNumber, shift_opened_at: s.shiftOpenedAt, receipts_in_shift: s.receiptsInShift,
      unsent_count: s.unsentCount, first_unsent_at: s.firstUnsentAt, blocked_reason: batch.write.blockedReason,
    }
  }

  /** Kicked sales held now, in all (tests). */
  const heldCount = () => heldTotal

  return { sign, offer, forget, heldCount, stats }
}
export type RoundSigner = ReturnType<typeof createRoundSigner>
