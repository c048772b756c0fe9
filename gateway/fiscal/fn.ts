// The emulated FN as a pure state machine: given its state, a kassa, sales and the clock, it
// returns the documents it signs and its next state. The fiscalizer stores both in one
// transaction. The refusal rules (lifetime, capacity reserve, shift length) are in fn-limits.ts.
import { formatReceiptQr } from '../../protocol/index.js'
import type { SignedTlv } from './fiscal-sign.js'
import { fiscalLocalTime } from './fiscal-time.js'
import { DEFAULT_MAX_SHIFT_MS, docsForReceipt, expiredBlock, fullBlock, shiftDue } from './fn-limits.js'
import { buildCorrection } from './correction-document.js'
import type { CorrectionToSign, FnBlock, FnModel, FnState, KassaIdentity, SaleToSign, SignedDocument, SignResult } from './fn.types.js'
import { buildReceipt, receiptProblem } from './receipt-document.js'
import { buildShiftClose, buildShiftOpen } from './shift-report.js'

/** Emulated FN numbers: 16 digits in the test range 9999… (docs/fiscal.md §2). */
const TEST_FN = /^9999\d{12}$/

export interface NewFnStateInput {
  fn: string
  model: FnModel
  secret: Uint8Array
  registeredAt: Date
  docLimit: number
}

export function newFnState({ fn, model, secret, registeredAt, docLimit }: NewFnStateInput): FnState {
  if (!TEST_FN.test(fn)) throw new RangeError(`FN ${fn}: an emulated FN number is 16 digits starting with 9999`)
  if (!Number.isSafeInteger(docLimit) || docLimit < 3) throw new RangeError(`docLimit ${docLimit}: at least 3`)
  if (secret.length === 0) throw new RangeError('the FN secret is empty')
  return {
    fn, model, secret, registeredAt, docLimit,
    nextFd: 1, shiftNumber: 0, shiftOpenedAt: null, receiptsInShift: 0, unsentCount: 0, firstUnsentAt: null,
  }
}

/**
 * Signs documents on a working copy of the state; the caller's state is never changed.
 *
 * The objects made here for each document are written out field by field, never as `{ ...a, b }`:
 * on Node 20 an object spread followed by a property the source lacks gives each new object a map
 * of its own, and the young generation's collections then copied and promoted what every such
 * object held (scripts/spread-probe.ts; docs/performance.md).
 */
class Signer {
  readonly documents: SignedDocument[] = []
  constructor(public state: FnState, private readonly kassa: KassaIdentity, private readonly now: Date) {}

  private issue(extra: Omit<SignedDocument, 'fd' | 'signedAt' | 'tlv' | 'fp'>, build: (fd: number) => SignedTlv): void {
    const fd = this.state.nextFd
    // The emulated FN has no OFD: every document stays unsent.
    this.state = { ...this.state, nextFd: fd + 1, unsentCount: this.state.unsentCount + 1, firstUnsentAt: this.state.firstUnsentAt ?? this.now }
    const { tlv, fp } = build(fd)
    this.documents.push({
      fd, type: extra.type, signedAt: this.now, shift: extra.shift, receiptInShift: extra.receiptInShift,
      saleRowId: extra.saleRowId, operation: extra.operation, total: extra.total, tlv, fp,
    })
  }

  openShift(): void {
    const shift = this.state.shiftNumber + 1
    const report = { type: 2, shift, receiptInShift: null, saleRowId: null, operation: null, total: 0 } as const
    this.issue(report, (fd) => buildShiftOpen({ kassa: this.kassa, fn: this.state.fn, fd, signedAt: this.now, shift }, this.state.secret))
    this.state = { ...this.state, shiftNumber: shift, shiftOpenedAt: this.now, receiptsInShift: 0 }
  }

  closeShift(): void {
    const { shiftNumber: shift, receiptsInShift } = this.state
    const report = { type: 5, shift, receiptInShift: null, saleRowId: null, operation: null, total: 0 } as const
    this.issue(report, (fd) =>
      buildShiftClose(
        {
          kassa: this.kassa, fn: this.state.fn, fd, signedAt: this.now, shift, receiptsInShift,
          documentsInShift: receiptsInShift + 2, // its open report, its receipts, this report
          unsentCount: this.state.unsentCount,
          firstUnsentAt: this.state.firstUnsentAt ?? this.now,
        },
        this.state.secret,
      ),
    )
    this.state = { ...this.state, shiftOpenedAt: null }
  }

  receipt(sale: SaleToSign): void {
    const receiptInShift = this.state.receiptsInShift + 1
    const operation = sale.kind === 'refund' ? 2 : 1
    const { shiftNumber: shift } = this.state
    const doc = { type: 3, shift, receiptInShift, saleRowId: sale.saleRowId, operation, total: sale.total } as const
    this.issue(doc, (fd) =>
      buildReceipt(
        {
          kassa: this.kassa, fn: this.state.fn, fd, signedAt: this.now, shift, receiptInShift, operation,
          machine: sale.machine, items: sale.items, paymentMethod: sale.paymentMethod, total: sale.total,
        },
        this.state.secret,
      ),
    )
    this.state = { ...this.state, receiptsInShift: receiptInShift }
  }

  /** A correction receipt counts as a receipt of the shift (1042), as on a real FN. */
  correction(c: CorrectionToSign): void {
    const receiptInShift = this.state.receiptsInShift + 1
    const { shiftNumber: shift } = this.state
    const total = c.cash + c.ecash
    const doc = { type: 31, shift, receiptInShift, saleRowId: null, operation: 1, total } as const
    this.issue(doc, (fd) => buildCorrection({ kassa: this.kassa, fn: this.state.fn, fd, signedAt: this.now, shift, receiptInShift, ...c }, this.state.secret))
    this.state = { ...this.state, receiptsInShift: receiptInShift }
  }

  /**
   * Gets the FN ready for one more receipt: refuses when it is expired or full, closes a shift about
   * to pass `maxShiftMs` and opens one when none is open. The block, or null when ready.
   */
  readyForReceipt(maxShiftMs: number): FnBlock | null {
    const expired = expiredBlock(this.state, this.now)
    if (expired) return expired
    if (shiftDue(this.state, this.now, maxShiftMs)) {
      const noRoom = fullBlock(this.state, 1)
      if (noRoom) return noRoom
      this.closeShift()
    }
    const full = fullBlock(this.state, docsForReceipt(this.state, this.now, maxShiftMs))
    if (full) return full
    if (this.state.shiftOpenedAt === null) this.openShift()
    return null
  }

  readonly refused: { saleRowId: string; reason: string }[] = []

  result(blocked: FnBlock | null): SignResult {
    return { state: this.state, documents: this.documents, blocked, refused: this.refused }
  }
}

/**
 * Signs `sales` in order at `now`: opens a shift when none is open, closes and reopens one about
 * to pass `maxShiftMs`, then signs the receipt. Stops at the first sale the FN cannot sign (full,
 * expired); that sale and the ones after it are absent from `documents` and stay pending. A sale
 * that can never be a receipt is skipped into `refused` and uses no document.
 */
export function signSales(
  state: FnState,
  kassa: KassaIdentity,
  sales: readonly SaleToSign[],
  now: Date,
  maxShiftMs: number = DEFAULT_MAX_SHIFT_MS,
): SignResult {
  const signer = new Signer(state, kassa, now)
  for (const sale of sales) {
    const problem = receiptProblem(sale)
    if (problem !== null) {
      signer.refused.push({ saleRowId: sale.saleRowId, reason: problem })
      continue
    }
    const blocked = signer.readyForReceipt(maxShiftMs)
    if (blocked) return signer.result(blocked)
    signer.receipt(sale)
  }
  return signer.result(null)
}

/** Signs one correction receipt at `now`, opening (or renewing) the shift as for a sale. */
export function signCorrection(
  state: FnState,
  kassa: KassaIdentity,
  correction: CorrectionToSign,
  now: Date,
  maxShiftMs: number = DEFAULT_MAX_SHIFT_MS,
): SignResult {
  const signer = new Signer(state, kassa, now)
  const blocked = signer.readyForReceipt(maxShiftMs)
  if (blocked) return signer.result(blocked)
  signer.correction(correction)
  return signer.result(null)
}

/** Closes the open shift when it is due, even with no sale coming (a timer calls this). */
export function closeShiftIfDue(
  state: FnState,
  kassa: KassaIdentity,
  now: Date,
  maxShiftMs: number = DEFAULT_MAX_SHIFT_MS,
): SignResult {
  const signer = new Signer(state, kassa, now)
  if (!shiftDue(state, now, maxShiftMs)) return signer.result(null)
  const blocked = expiredBlock(state, now) ?? fullBlock(state, 1)
  if (blocked) return signer.result(blocked)
  signer.closeShift()
  return signer.result(null)
}

/** The FNS QR string (tag 1196) of a receipt; `t` is the kassa's local time of tag 1012. */
export function receiptQr(doc: SignedDocument, fn: string, timeZone: string): string {
  if (doc.type !== 3 || doc.operation === null) throw new RangeError(`FD ${doc.fd} is not a receipt`)
  const t = fiscalLocalTime(doc.signedAt, timeZone).qrT
  return formatReceiptQr({ t, s: doc.total, fn, i: doc.fd, fp: doc.fp, n: doc.operation })
}
