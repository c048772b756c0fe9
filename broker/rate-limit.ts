// Per-machine publish rate limit. Pure: the clock is a parameter (ms), so tests need no timers.

export interface RateLimit {
  /** sustained messages per second */
  ratePerS: number
  /** messages that may go at once after a quiet spell */
  burst: number
}

/**
 * A token bucket holding up to `burst` tokens, refilled at `ratePerS`. A publish spends one token;
 * tokens below zero are a debt: publishes held back until the refill pays for them.
 */
export class TokenBucket {
  #tokens: number
  #at: number

  constructor(private readonly limit: RateLimit, now: number) {
    this.#tokens = limit.burst
    this.#at = now
  }

  #refill(now: number): void {
    const elapsed = Math.max(0, now - this.#at) // a clock step backwards refills nothing
    this.#tokens = Math.min(this.limit.burst, this.#tokens + (elapsed * this.limit.ratePerS) / 1000)
    this.#at = now
  }

  /** Spends one token; returns ms until it is paid for (0 = now). */
  take(now: number): number {
    this.#refill(now)
    this.#tokens -= 1
    return this.#tokens >= 0 ? 0 : Math.ceil((-this.#tokens * 1000) / this.limit.ratePerS)
  }

  /** Publishes held back, waiting for tokens. */
  debt(now: number): number {
    this.#refill(now)
    return Math.max(0, -this.#tokens)
  }

  /** Tokens left at the last take or refill, without refilling: the hot path's cheap look. */
  get tokens(): number {
    return this.#tokens
  }

  state(now: number): BucketState {
    this.#refill(now)
    return { tokens: this.#tokens, at: this.#at }
  }

  /** Takes another broker's account of the same machine when it has spent more: the lower level wins. */
  lower(state: BucketState, now: number): void {
    this.#refill(now)
    this.#tokens = Math.min(this.#tokens, refilled(this.limit, state, now))
  }
}

/** A bucket's level at a moment (ms), as brokers share it (publish-budget.redis.ts). */
export interface BucketState {
  tokens: number
  at: number
}

/** Tokens of `state` at `now`; a level beyond what this limit allows (another broker's settings) is clamped. */
export function refilled(limit: RateLimit, state: BucketState, now: number): number {
  const tokens = Math.max(-limit.burst, state.tokens) + (Math.max(0, now - state.at) * limit.ratePerS) / 1000
  return Math.min(limit.burst, tokens)
}

/** ms until `state` is full again: the life of its shared copy, after which a fresh bucket is the same thing. */
export function refillMs(limit: RateLimit, state: BucketState): number {
  return Math.max(1, Math.ceil(((limit.burst - state.tokens) * 1000) / limit.ratePerS))
}

/** `"<tokens> <ms>"`, tokens to a thousandth. */
export function encodeBucketState(state: BucketState): string {
  return `${Math.round(state.tokens * 1000) / 1000} ${Math.round(state.at)}`
}

/** Anything but two finite numbers is no state: the machine starts from a full bucket. */
export function decodeBucketState(text: string | null | undefined): BucketState | undefined {
  const match = text ? /^(-?\d+(?:\.\d+)?) (\d+)$/.exec(text) : null
  if (!match) return undefined
  const tokens = Number(match[1])
  const at = Number(match[2])
  return Number.isFinite(tokens) && Number.isSafeInteger(at) ? { tokens, at } : undefined
}

export type Admission = { action: 'pass' } | { action: 'delay'; ms: number } | { action: 'cut' }

/**
 * What to do with one machine publish. Within the burst it passes; beyond it, it is held back
 * (the connection's reading stalls: TCP backpressure slows that one machine only), so a machine
 * replaying its store-and-forward backlog is slowed, not cut. A machine that keeps sending while
 * `burst` publishes are already held back is not catching up but flooding: it is cut off. The
 * buckets outlive connections, so reconnecting does not refill them; with several brokers their
 * levels also pass between brokers (publish-budget.redis.ts).
 */
export class PublishLimiter {
  readonly #buckets = new Map<string, TokenBucket>()
  /** Machines whose bucket fell below half the burst since `takeLow()`; kept only when `shared`. */
  readonly #low = new Set<string>()
  readonly #shared: boolean

  /**
   * `shared`: several brokers (publish-budget.redis.ts) learn of the buckets that matter, those
   * drained below half the burst; a machine above it gains at most half a burst by moving.
   */
  constructor(private readonly limit: RateLimit, options: { shared?: boolean } = {}) {
    this.#shared = options.shared ?? false
  }

  admit(machineId: string, now: number): Admission {
    let bucket = this.#buckets.get(machineId)
    if (!bucket) {
      bucket = new TokenBucket(this.limit, now)
      this.#buckets.set(machineId, bucket)
    }
    if (bucket.debt(now) >= this.limit.burst) return { action: 'cut' }
    const ms = bucket.take(now)
    if (this.#shared && bucket.tokens < this.limit.burst / 2) this.#low.add(machineId)
    return ms === 0 ? { action: 'pass' } : { action: 'delay', ms }
  }

  /** For a machine that was disabled or removed; buckets are otherwise bounded by the fleet size. */
  forget(machineId: string): void {
    this.#buckets.delete(machineId)
    this.#low.delete(machineId)
  }

  /** The buckets drained below half the burst since the last call, with their state now. */
  takeLow(now: number): Array<[machineId: string, state: BucketState]> {
    const low: Array<[string, BucketState]> = []
    for (const machineId of this.#low) {
      const bucket = this.#buckets.get(machineId)
      if (bucket) low.push([machineId, bucket.state(now)])
    }
    this.#low.clear()
    return low
  }

  /** A machine's bucket now, if this broker has one and it is not full. */
  state(machineId: string, now: number): BucketState | undefined {
    const state = this.#buckets.get(machineId)?.state(now)
    return state && state.tokens < this.limit.burst ? state : undefined
  }

  /** Another broker's account of a machine: its bucket here starts from it, or keeps its own level if lower. */
  adopt(machineId: string, state: BucketState, now: number): void {
    let bucket = this.#buckets.get(machineId)
    if (!bucket) {
      bucket = new TokenBucket(this.limit, now)
      this.#buckets.set(machineId, bucket)
    }
    bucket.lower(state, now)
  }
}
