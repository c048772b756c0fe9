import type { Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import type { DisplayRange } from '../display/display-marks.repository.js'
import type { OutboxEntry } from '../display/outbox.repository.js'
import type { FnBlock, SaleToSign } from '../fiscal/fn.types.js'
import { closeShiftIfDue, signSales } from '../fiscal/index.js'
import { checkedWrite, claimBatch, writeBatch, type BatchWrite, type BatchWritten, type ClaimedBatch } from './batch-commit.repository.js'
import {
  alignRefunds, claimFiscalDrive, deferSales, failSales, findKassa, fnStateFromRow, insertDocuments,
  kassaIdentity, refundOriginals, saveFnState, type ClaimedSale, type RefundOriginal,
} from './fiscal.repository.js'
import { receiptDisplay } from './receipt-display.js'
import { decideRefund, refundAlignment, type RefundAlignment } from './refund-policy.js'

export interface BatchResult {
  /** False when another gateway holds this kassa's FN. */
  claimed: boolean
  /** Sales taken from the queue (signed, refused or deferred). */
  taken: number
  signed: number
  /** Displays committed with the batch, to publish now. */
  displays: OutboxEntry[]
  /** The FN documents the batch wrote, whose displays are acknowledged together (emulated FN). */
  range?: DisplayRange | null
  blocked: SignerBlock | null
  /** A checked batch found the FN moved by another signer between its claim and its write (then signed locked). */
  contended?: boolean
  /** Signed from the sales the broker's kick carried, without a claim (fiscal-round.ts). */
  kicked?: boolean
}

/** Why a kassa signs nothing now: its FN refuses, or its provider cannot be used as configured. */
export type SignerBlock = FnBlock | { code: 'provider_config' | 'no_signer'; message: string }

export interface EmulatedSignerOptions {
  batchMax: number
  publicUrl: string
  now: () => Date
  /** Try the checked batch first (default); false: the locked batch only (the kassa is contended). */
  checked?: boolean
}

export const NOT_CLAIMED: BatchResult = { claimed: false, taken: 0, signed: 0, displays: [], blocked: null }

/**
 * One fiscalization batch on the emulated FN. FN counters, fiscal documents (receipts with their
 * display), sale states and refusals' outbox rows commit together or not at all, and the FN is
 * advanced by one signer at a time.
 *
 * First as a checked batch, two statements and no transaction: the claim (`FOR UPDATE SKIP
 * LOCKED`, so a kassa another signer holds is passed over as before) reads the FN row, its version
 * and the pending sales and commits at once; the FN signs in memory (it is a function of its
 * stored state: nothing is spent until written); one statement writes everything and commits
 * durably only if the FN row is still the version read (batch-commit.repository.ts). Against the
 * locked batch below that is half the round trips (no BEGIN, no COMMIT) and the row is locked for
 * one statement instead of four round trips and the signing, so the next batch of a busy kassa
 * starts sooner (CHANGELOG: figures). A batch with a refund, a sale the FN refuses, or a version
 * that moved (another gateway, a shift closed by the timer, a correction) is signed again as the
 * locked batch. Two gateways kicked for the same kassa would both claim, sign and write, and one
 * write would be wasted each time; so a kassa found contended is signed locked for a while
 * (`checked: false`, the fiscalizer's choice), where the other gateway's claim is skipped.
 */
export async function signPendingBatch(db: Kysely<Database>, kassaId: string, opts: EmulatedSignerOptions): Promise<BatchResult> {
  if (opts.checked === false) return signLockedBatch(db, kassaId, opts)
  const claim = await claimBatch(db, kassaId, opts.batchMax)
  if (!claim) return NOT_CLAIMED
  if (claim.sales.length === 0) return { ...NOT_CLAIMED, claimed: true }
  if (!claim.sales.some((s) => s.kind === 'refund')) {
    const batch = signClaimed(claim, [], opts)
    if (batch.refused.length === 0 && batch.waiting.length === 0) {
      const written = await writeBatch(db, checkedWrite(batch.write, claim.rowVersion))
      if (written) return batch.result(written)
      return { ...(await signLockedBatch(db, kassaId, opts)), contended: true }
    }
  }
  return signLockedBatch(db, kassaId, opts)
}

/** The batch in one transaction holding the FN row from the claim to the commit. */
export async function signLockedBatch(db: Kysely<Database>, kassaId: string, opts: EmulatedSignerOptions): Promise<BatchResult> {
  return db.transaction().execute(async (tx) => {
    // Round trips here hold the FN's lock, so the batch takes as few as it can: claim (with the
    // kassa and its pending sales), one write (batch-commit.repository.ts), and refund lookups
    // only when needed.
    const claim = await claimBatch(tx, kassaId, opts.batchMax)
    if (!claim) return NOT_CLAIMED
    if (claim.sales.length === 0) return { ...NOT_CLAIMED, claimed: true }
    const originals = await refundOriginals(tx, claim.sales.filter((s) => s.kind === 'refund'))
    const batch = signClaimed(claim, originals, opts)
    await failSales(tx, batch.refused.map(({ id, reason }) => ({ id, reason })))
    await deferSales(tx, batch.waiting, 'waiting for the refunded sale to be fiscalized')
    await alignRefunds(tx, batch.aligned)
    const written = await writeBatch(tx, batch.write)
    if (!written) throw new Error(`kassa ${kassaId}: the FN row was not written although this transaction holds it`)
    return batch.result(written)
  })
}

export interface SignedBatch {
  write: BatchWrite
  refused: { id: number; reason: string; sale: ClaimedSale }[]
  /** Refunds whose sale is not fiscalized yet: put back with a later run_at. */
  waiting: number[]
  /** Refund rows to rewrite to their receipt's content (signed ones only). */
  aligned: RefundAlignment[]
  result(written: NonNullable<BatchWritten>): BatchResult
}

/** Signs a claimed batch in memory: the documents, the FN's next state and what to write. */
export function signClaimed(claim: ClaimedBatch, originals: readonly RefundOriginal[], opts: EmulatedSignerOptions): SignedBatch {
  const { drive, kassa, sales } = claim
  const toSign: SaleToSign[] = []
  const bySaleRow = new Map<string, ClaimedSale>()
  /** The total each sale is signed for (a refund's is its original's). */
  const signedTotal = new Map<string, number>()
  const refused: SignedBatch['refused'] = []
  const waiting: number[] = []
  const refundedInBatch = new Set<string>()
  const aligned: RefundAlignment[] = []
  for (const sale of sales) {
    let signed: Pick<SaleToSign, 'items' | 'paymentMethod' | 'total'> = { items: sale.items, paymentMethod: sale.payment_method, total: sale.total }
    if (sale.kind === 'refund') {
      const decision = decideRefund(sale, originals, refundedInBatch)
      if (decision.action === 'refuse') { refused.push({ id: sale.id, reason: decision.reason, sale }); continue }
      if (decision.action === 'wait') { waiting.push(sale.id); continue }
      refundedInBatch.add(decision.original.sale_id)
      const alignment = refundAlignment(sale, decision.original)
      if (alignment) aligned.push(alignment)
      // The refund receipt carries the original's items and total, whatever the machine sent.
      signed = { items: decision.original.items, paymentMethod: decision.original.payment_method, total: decision.original.total }
    }
    bySaleRow.set(String(sale.id), sale)
    signedTotal.set(String(sale.id), signed.total)
    toSign.push({ saleRowId: String(sale.id), machine: { number: sale.number, address: sale.address, place: sale.place }, kind: sale.kind, ...signed })
  }

  const result = signSales(fnStateFromRow(drive), kassa, toSign, opts.now())
  for (const r of result.refused) refused.push({ id: Number(r.saleRowId), reason: r.reason, sale: bySaleRow.get(r.saleRowId)! })
  const receipts = result.documents.filter((d) => d.type === 3 && d.saleRowId !== null)
  const signedRows = new Set(receipts.map((d) => Number(d.saleRowId)))
  const write: BatchWrite = {
    kassaId: kassa.id, fn: drive.fn, documents: result.documents, done: receipts.map((d) => ({ id: Number(d.saleRowId), fd: d.fd, saleId: bySaleRow.get(d.saleRowId!)!.sale_id, total: signedTotal.get(d.saleRowId!)! })),
    state: result.state, blockedReason: result.blocked?.message ?? null,
    displays: [
      ...receipts.map((d) => {
        const sale = bySaleRow.get(d.saleRowId!)!
        return { machineId: sale.machine_id, saleId: sale.sale_id, fd: d.fd, payload: receiptDisplay(sale.sale_id, d, drive.fn, kassa.timeZone, opts.publicUrl) }
      }),
      ...refused.map(({ sale, reason }) => ({
        machineId: sale.machine_id, saleId: sale.sale_id, payload: { v: 1 as const, type: 'rejected' as const, saleId: sale.sale_id, reason },
      })),
    ],
  }
  return {
    write, refused, waiting, aligned: aligned.filter((a) => signedRows.has(a.id)),
    result: ({ displays, range }) => ({ claimed: true, taken: receipts.length + refused.length + waiting.length, signed: receipts.length, displays, range, blocked: result.blocked }),
  }
}

/** Closes a shift about to pass 24 hours when no sale came to do it. */
export async function closeShiftIfDueTx(db: Kysely<Database>, kassaId: string, now: Date): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const drive = await claimFiscalDrive(tx, kassaId)
    const kassaRow = drive ? await findKassa(tx, kassaId) : undefined
    if (!drive || !kassaRow) return 0
    const result = closeShiftIfDue(fnStateFromRow(drive), kassaIdentity(kassaRow), now)
    if (result.documents.length === 0) return 0
    await insertDocuments(tx, kassaId, drive.fn, result.documents)
    await saveFnState(tx, result.state, result.blocked?.message ?? null)
    return result.documents.length
  })
}
