import { describe, expect, it } from 'vitest'
import { PublishLimiter, TokenBucket } from '../../broker/rate-limit.js'

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
