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
}

export type Admission = { action: 'pass' } | { action: 'delay'; ms: number } | { action: 'cut' }

/**
 * What to do with one machine publish. Within the burst it passes; beyond it, it is held back
 * (the connection's reading stalls: TCP backpressure slows that one machine only), so a machine
 * replaying its store-and-forward backlog is slowed, not cut. A machine that keeps sending while
 * `burst` publishes are already held back is not catching up but flooding: it is cut off. The
 * buckets outlive connections, so reconnecting does not refill them.
 */
export class PublishLimiter {
  readonly #buckets = new Map<string, TokenBucket>()

  constructor(private readonly limit: RateLimit) {}

  admit(machineId: string, now: number): Admission {
    let bucket = this.#buckets.get(machineId)
    if (!bucket) {
      bucket = new TokenBucket(this.limit, now)
      this.#buckets.set(machineId, bucket)
    }
    if (bucket.debt(now) >= this.limit.burst) return { action: 'cut' }
    const ms = bucket.take(now)
    return ms === 0 ? { action: 'pass' } : { action: 'delay', ms }
  }

  /** For a machine that was disabled or removed; buckets are otherwise bounded by the fleet size. */
  forget(machineId: string): void {
    this.#buckets.delete(machineId)
  }
}
