import { describe, expect, it } from 'vitest'
import { tailFigures } from '../../scripts/bench/tail.js'

// The bench's figure of where a step's slowest sales fell (scripts/bench/tail.ts).

describe('bench tail figures', () => {
  // 1,000 sales over 10 s, one every 10 ms.
  const sentAt = Array.from({ length: 1000 }, (_, i) => 5_000 + i * 10)

  it('finds a stall: the slowest 1% in the one window of 100 ms they were sent in', () => {
    // 5 ms each, but sales sent 4.00–4.09 s into the step wait 300 ms.
    const latency = sentAt.map((t) => (t - 5_000 >= 4_000 && t - 5_000 < 4_100 ? 300 : 5))
    expect(tailFigures(sentAt, latency)).toEqual({ windowMs: 100, windows: 100, slowest: 10, slowestInWindows: 1, medianAboveMs: 20, windowsMedianAbove: 1 })
  })

  it('finds queueing everywhere: the slowest spread over the step, every window\'s median high', () => {
    // Latency rises and falls in every window of 100 ms: 25..34 ms.
    const latency = sentAt.map((_, i) => 25 + (i % 10))
    const tail = tailFigures(sentAt, latency)!
    expect(tail.slowest).toBe(100) // every sale at the p99 value (34 ms)
    expect(tail.slowestInWindows).toBe(100)
    expect(tail.windowsMedianAbove).toBe(100)
  })

  it('has nothing to say of no sales, or of lists that do not match', () => {
    expect(tailFigures([], [])).toBeUndefined()
    expect(tailFigures([1, 2], [3])).toBeUndefined()
  })
})
