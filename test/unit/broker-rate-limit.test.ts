import { describe, expect, it } from 'vitest'
import { decodeBucketState, encodeBucketState, PublishLimiter, refilled, refillMs, TokenBucket } from '../../broker/rate-limit.js'

describe('TokenBucket', () => {
  it('lets a burst through at once, then paces at the rate', () => {
    const bucket = new TokenBucket({ ratePerS: 10, burst: 3 }, 0)
    expect([bucket.take(0), bucket.take(0), bucket.take(0)]).toEqual([0, 0, 0])
    expect(bucket.take(0)).toBe(100) // one token short: 100 ms at 10/s
    expect(bucket.take(0)).toBe(200)
    expect(bucket.debt(0)).toBe(2)
    expect(bucket.debt(200)).toBe(0)
  })

  it('refills no further than the burst, and not at all when the clock steps back', () => {
    const bucket = new TokenBucket({ ratePerS: 10, burst: 2 }, 1_000)
    expect(bucket.take(60_000)).toBe(0)
    expect(bucket.take(60_000)).toBe(0)
    expect(bucket.take(60_000)).toBe(100)
    expect(bucket.debt(59_000)).toBe(1)
  })
})

describe('PublishLimiter', () => {
  const limit = { ratePerS: 20, burst: 50 }

  it('passes the burst, holds back the next burst, and cuts a machine that keeps sending', () => {
    const limiter = new PublishLimiter(limit)
    const actions = Array.from({ length: 101 }, () => limiter.admit('VM-1', 0).action)
    expect(actions.slice(0, 50)).toEqual(Array(50).fill('pass'))
    expect(actions.slice(50, 100)).toEqual(Array(50).fill('delay'))
    expect(actions[100]).toBe('cut')
    expect(limiter.admit('VM-2', 0).action).toBe('pass') // one machine's flood costs the others nothing
  })

  it('keeps the debt across reconnects, and forgets it when told', () => {
    const limiter = new PublishLimiter(limit)
    for (let i = 0; i < 100; i++) limiter.admit('VM-1', 0)
    expect(limiter.admit('VM-1', 0).action).toBe('cut') // a new connection at once is still in debt
    expect(limiter.admit('VM-1', 5_000).action).toBe('pass') // 100 tokens repaid, burst refilled
    limiter.forget('VM-1')
    for (let i = 0; i < 100; i++) limiter.admit('VM-1', 5_000)
    limiter.forget('VM-1')
    expect(limiter.admit('VM-1', 5_000).action).toBe('pass')
  })

  it('a machine replaying its backlog within the burst is only slowed', () => {
    const limiter = new PublishLimiter({ ratePerS: 20, burst: 5 })
    const delays: number[] = []
    for (let i = 0; i < 10; i++) {
      const a = limiter.admit('VM-1', 0)
      expect(a.action).not.toBe('cut')
      if (a.action === 'delay') delays.push(a.ms)
    }
    expect(delays).toEqual([50, 100, 150, 200, 250])
  })
})

describe('shared bucket state', () => {
  const limit = { ratePerS: 20, burst: 50 }

  it('reads back what it writes, debt included, and takes nothing else for a state', () => {
    expect(encodeBucketState({ tokens: -12.3456, at: 1_765_000_000_123 })).toBe('-12.346 1765000000123')
    expect(decodeBucketState('-12.346 1765000000123')).toEqual({ tokens: -12.346, at: 1_765_000_000_123 })
    expect(decodeBucketState(encodeBucketState({ tokens: 7, at: 5 }))).toEqual({ tokens: 7, at: 5 })
    for (const bad of [null, undefined, '', '7', 'x 5', '7 -5', '7 5.5', 'NaN 5', '1e3 5', '7 5 6']) {
      expect(decodeBucketState(bad)).toBeUndefined()
    }
  })

  it('refills a state for the time since it was written, up to the burst, clamping a foreign debt', () => {
    expect(refilled(limit, { tokens: -10, at: 1_000 }, 1_500)).toBe(0) // 10 tokens in 500 ms at 20/s
    expect(refilled(limit, { tokens: 5, at: 1_000 }, 1_000_000)).toBe(50)
    expect(refilled(limit, { tokens: 5, at: 2_000 }, 1_000)).toBe(5) // written "later": refills nothing
    expect(refilled(limit, { tokens: -500, at: 0 }, 0)).toBe(-50)
  })

  it('keeps a shared state exactly as long as its bucket takes to refill', () => {
    expect(refillMs(limit, { tokens: -50, at: 0 })).toBe(5_000)
    expect(refillMs(limit, { tokens: 49.99, at: 0 })).toBe(1)
    expect(refillMs(limit, { tokens: 50, at: 0 })).toBe(1)
  })
})

describe('PublishLimiter shared between brokers', () => {
  const limit = { ratePerS: 20, burst: 50 }

  it('lists the buckets drained below half the burst once, with their state at that moment', () => {
    const limiter = new PublishLimiter(limit, { shared: true })
    for (let i = 0; i < 25; i++) limiter.admit('VM-1', 0) // 25 left: not below half
    for (let i = 0; i < 40; i++) limiter.admit('VM-2', 0)
    expect(limiter.takeLow(100)).toEqual([['VM-2', { tokens: 12, at: 100 }]]) // 10 left + 2 refilled
    expect(limiter.takeLow(200)).toEqual([])
    for (let i = 0; i < 4; i++) limiter.admit('VM-1', 200) // 25 + 4 refilled − 4 = 25
    expect(limiter.takeLow(200)).toEqual([])
    limiter.admit('VM-1', 200)
    expect(limiter.takeLow(200)).toEqual([['VM-1', { tokens: 24, at: 200 }]])
    expect(new PublishLimiter(limit).takeLow(0)).toEqual([]) // not shared: nothing kept for it
  })

  it("starts a machine's bucket from another broker's state, and keeps its own when lower", () => {
    const limiter = new PublishLimiter(limit, { shared: true })
    limiter.adopt('VM-1', { tokens: -40, at: 0 }, 0)
    expect(limiter.admit('VM-1', 0).action).toBe('delay')
    limiter.adopt('VM-1', { tokens: -50, at: 0 }, 0)
    expect(limiter.admit('VM-1', 0).action).toBe('cut') // 50 held back elsewhere
    limiter.adopt('VM-2', { tokens: 3, at: 0 }, 50) // 1 token refilled since
    expect(Array.from({ length: 5 }, () => limiter.admit('VM-2', 50).action)).toEqual(['pass', 'pass', 'pass', 'pass', 'delay'])
    limiter.adopt('VM-2', { tokens: 50, at: 50 }, 50) // a fuller account elsewhere gives nothing back
    expect(limiter.admit('VM-2', 50).action).toBe('delay')
  })

  it('gives the state of a bucket that is not full, for a machine that disconnects', () => {
    const limiter = new PublishLimiter(limit, { shared: true })
    expect(limiter.state('VM-1', 0)).toBeUndefined()
    limiter.admit('VM-1', 0)
    expect(limiter.state('VM-1', 0)).toEqual({ tokens: 49, at: 0 })
    expect(limiter.state('VM-1', 50)).toBeUndefined() // refilled: nothing worth sharing
  })
})
