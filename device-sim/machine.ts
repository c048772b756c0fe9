import type { DisplayMessage, ReceiptDisplay, RejectedDisplay } from '../protocol/index.js'
import type { Random } from './random.js'

// One vending machine's store-and-forward memory, without I/O: the caller passes the time and
// does the publishing. A sale is kept until its display message arrives (docs/contract.md#delivery-guarantees),
// because the broker's PUBACK proves nothing about the gateway.

export interface RetryPolicy {
  /** ms to wait for the display message before the first republish. */
  initialMs: number
  /** ms, the longest wait between two copies of a sale. */
  maxMs: number
  /** Each wait is this many times the one before. */
  factor: number
  /**
   * 0…1: each wait is shortened by up to this fraction at random, so machines that lost the link
   * together do not republish in lockstep when it returns.
   */
  jitter: number
}

export const DEFAULT_RETRY: Readonly<RetryPolicy> = Object.freeze({ initialMs: 2_000, maxMs: 30_000, factor: 2, jitter: 0.2 })

/** ms to wait after the `attempts`-th copy was sent (attempts ≥ 1): 2 s, 4 s, 8 s … ≤ maxMs, jittered down. */
export function retryDelay(policy: RetryPolicy, attempts: number, random: Random): number {
  const full = Math.min(policy.maxMs, policy.initialMs * policy.factor ** Math.max(0, attempts - 1))
  return full * (1 - policy.jitter * random())
}

export interface PendingSale {
  readonly saleId: string
  /** The JSON text sent every time: a republished sale is byte-for-byte the same sale. */
  readonly payload: string
  /** ms on the machine's clock when the customer paid. */
  readonly createdAt: number
  /** ms when the first copy left, or null while it waits for a connection. */
  firstSentAt: number | null
  /** Copies sent so far. */
  attempts: number
  /** ms when the next copy is due; a sale never sent is due at once. */
  nextRetryAt: number
  /** Came from a state file: its latency spans a restart of the simulator, so it is not measured. */
  readonly restored: boolean
}

/** Which fiscal document answered a sale: fn + fd name a receipt uniquely. */
export interface ReceiptIdentity {
  fn: string
  fd: number
}

type Answer = { type: 'receipt'; receipt: ReceiptIdentity } | { type: 'rejected' }

export type DisplayOutcome =
  /** The first answer to a pending sale: it is done. */
  | { kind: 'receipt'; sale: Readonly<PendingSale>; display: ReceiptDisplay; latencyMs: number }
  | { kind: 'rejected'; sale: Readonly<PendingSale>; display: RejectedDisplay; latencyMs: number }
  /** The same answer again: expected when a copy crossed the first answer. */
  | { kind: 'repeat'; saleId: string }
  /** A different fiscal document for a sale already receipted: two receipts for one sale, a defect. */
  | { kind: 'duplicate'; saleId: string; first: ReceiptIdentity; second: ReceiptIdentity }
  /** A receipt after a rejection, or the reverse: the gateway contradicted itself. */
  | { kind: 'conflict'; saleId: string }
  /** A saleId this machine is not waiting for and does not remember answering. */
  | { kind: 'unknown'; saleId: string }

export interface MachineStateOptions {
  retry?: RetryPolicy
  random?: Random
  /** Answered sales remembered to tell a repeat from a duplicate; the oldest are forgotten first. */
  answeredLimit?: number
  /** Republished copies a machine may send ahead of the answers it gets (see MachineState). */
  republishWindow?: number
}

/**
 * Default republish window. With it a fleet that lost its answers (gateways down, broker restarted)
 * adds this many copies per machine to the load, then one probe per backoff step, until answers
 * flow again; without it,
 * 200 machines with 100 unanswered sales each republished 2,500 copies/s into a broker already
 * behind, and no display got through it any more (chaos run, 500 sales/s).
 */
export const DEFAULT_REPUBLISH_WINDOW = 10

/**
 * The store-and-forward memory of one machine. Each unanswered sale is republished with its own
 * backoff, and the machine as a whole keeps to a window, as TCP does: republishing spends credit,
 * each answer earns two copies back (up to the window), and a machine out of credit sends one
 * probe (its oldest due sale) per backoff step until an answer comes. New sales always go out.
 */
export class MachineState {
  readonly #pending = new Map<string, PendingSale>()
  readonly #answered = new Map<string, Answer>()
  readonly #retry: RetryPolicy
  readonly #random: Random
  readonly #answeredLimit: number
  readonly #window: number
  #credit: number
  /** Probes sent since the last answer, and when the next may go. */
  #probes = 0
  #nextProbeAt = 0

  constructor(options: MachineStateOptions = {}) {
    this.#retry = options.retry ?? DEFAULT_RETRY
    this.#random = options.random ?? Math.random
    this.#answeredLimit = options.answeredLimit ?? 10_000
    const window = options.republishWindow ?? DEFAULT_REPUBLISH_WINDOW
    if (!Number.isSafeInteger(window) || window < 1) throw new Error(`republishWindow must be a positive integer, not ${window}`)
    this.#window = window
    this.#credit = this.#window
  }

  get pendingCount(): number {
    return this.#pending.size
  }

  /** A new sale, not yet sent: due at once. */
  add(saleId: string, payload: string, now: number): Readonly<PendingSale> {
    if (this.#pending.has(saleId) || this.#answered.has(saleId)) throw new Error(`sale ${saleId} already exists`)
    const sale: PendingSale = { saleId, payload, createdAt: now, firstSentAt: null, attempts: 0, nextRetryAt: now, restored: false }
    this.#pending.set(saleId, sale)
    return sale
  }

  /** Records that a copy left now; 'first', 'republish', or null when the sale is no longer pending. */
  markSent(saleId: string, now: number): 'first' | 'republish' | null {
    const sale = this.#pending.get(saleId)
    if (!sale) return null
    sale.attempts += 1
    sale.firstSentAt ??= now
    sale.nextRetryAt = now + retryDelay(this.#retry, sale.attempts, this.#random)
    if (sale.attempts === 1) return 'first'
    // To the back of the queue: credit and probes go round every unanswered sale in turn, so a
    // sale the broker dropped is not starved behind older ones the gateway keeps pending.
    this.#pending.delete(saleId)
    this.#pending.set(saleId, sale)
    if (this.#credit >= 1) this.#credit -= 1
    else {
      this.#probes += 1
      this.#nextProbeAt = now + retryDelay(this.#retry, this.#probes, this.#random)
    }
    return 'republish'
  }

  /**
   * Pending sales whose next copy may go at `now`, least recently sent first: every sale never
   * sent, and due republishes as far as the window allows (one probe when it is spent).
   */
  due(now: number): Readonly<PendingSale>[] {
    const due: PendingSale[] = []
    let credit = Math.floor(this.#credit)
    let probe = credit === 0 && now >= this.#nextProbeAt
    for (const sale of this.#pending.values()) {
      if (sale.nextRetryAt > now) continue
      if (sale.attempts === 0) due.push(sale)
      else if (credit > 0) {
        credit -= 1
        due.push(sale)
      } else if (probe) {
        probe = false
        due.push(sale)
      }
    }
    return due
  }

  onDisplay(msg: DisplayMessage, now: number): DisplayOutcome {
    const sale = this.#pending.get(msg.saleId)
    if (sale) {
      this.#credit = Math.min(this.#window, this.#credit + 2)
      this.#probes = 0
      this.#nextProbeAt = 0
      this.#pending.delete(msg.saleId)
      this.#remember(msg)
      const latencyMs = now - sale.createdAt
      return msg.type === 'receipt'
        ? { kind: 'receipt', sale, display: msg, latencyMs }
        : { kind: 'rejected', sale, display: msg, latencyMs }
    }
    const before = this.#answered.get(msg.saleId)
    if (!before) return { kind: 'unknown', saleId: msg.saleId }
    if (before.type === 'rejected') return { kind: msg.type === 'rejected' ? 'repeat' : 'conflict', saleId: msg.saleId }
    if (msg.type === 'rejected') return { kind: 'conflict', saleId: msg.saleId }
    const second = { fn: msg.fiscal.fn, fd: msg.fiscal.fd }
    return second.fn === before.receipt.fn && second.fd === before.receipt.fd
      ? { kind: 'repeat', saleId: msg.saleId }
      : { kind: 'duplicate', saleId: msg.saleId, first: before.receipt, second }
  }

  /** The unanswered sales, for a state file. */
  pending(): Readonly<PendingSale>[] {
    return [...this.#pending.values()]
  }

  /** Takes back sales from a state file; they are due at once, their backoff continues where it was. */
  restore(sales: readonly Omit<PendingSale, 'restored'>[], now: number): void {
    for (const s of sales) {
      if (this.#pending.has(s.saleId)) continue
      this.#pending.set(s.saleId, { ...s, nextRetryAt: Math.min(s.nextRetryAt, now), restored: true })
    }
  }

  #remember(msg: DisplayMessage): void {
    const answer: Answer =
      msg.type === 'receipt' ? { type: 'receipt', receipt: { fn: msg.fiscal.fn, fd: msg.fiscal.fd } } : { type: 'rejected' }
    this.#answered.set(msg.saleId, answer)
    if (this.#answered.size > this.#answeredLimit) {
      const oldest = this.#answered.keys().next().value
      if (oldest !== undefined) this.#answered.delete(oldest)
    }
  }
}
