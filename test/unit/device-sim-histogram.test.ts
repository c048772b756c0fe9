import { describe, expect, it } from 'vitest'
import { bucketOf, LatencyHistogram, rangeOf } from '../../device-sim/histogram.js'

/** The histogram's promise: within 1% of the true value. */
function expectWithin(actual: number, expected: number): void {
  expect(Math.abs(actual - expected) / expected).toBeLessThan(0.01)
}

describe('LatencyHistogram', () => {
  it('reports zeros when empty', () => {
    expect(new LatencyHistogram().summary()).toEqual({ p50: 0, p95: 0, p99: 0, max: 0 })
  })

  it('gives exact percentiles for values below a quarter of a millisecond', () => {
    const h = new LatencyHistogram()
    for (let us = 1; us <= 100; us++) h.record(us / 1000)
    expect(h.summary()).toEqual({ p50: 0.05, p95: 0.095, p99: 0.099, max: 0.1 })
  })

  it('gives percentiles of 1…10,000 ms within 1% and the exact max', () => {
    const h = new LatencyHistogram()
    for (let ms = 1; ms <= 10_000; ms++) h.record(ms)
    const s = h.summary()
    expect(h.count).toBe(10_000)
    expectWithin(s.p50, 5_000)
    expectWithin(s.p95, 9_500)
    expectWithin(s.p99, 9_900)
    expect(s.max).toBe(10_000)
  })

  it('finds the tail of a skewed distribution', () => {
    const h = new LatencyHistogram()
    for (let i = 0; i < 990; i++) h.record(0.4)
    for (let i = 0; i < 10; i++) h.record(250)
    const s = h.summary()
    expectWithin(s.p50, 0.4)
    expectWithin(s.p95, 0.4)
    expectWithin(s.p99, 0.4) // the 990th of 1,000 samples
    expectWithin(h.percentile(99.1), 250)
    expect(s.max).toBe(250)
  })

  it('never reports a percentile above the largest sample', () => {
    const h = new LatencyHistogram()
    h.record(1234.567)
    expect(h.summary()).toEqual({ p50: 1234.567, p95: 1234.567, p99: 1234.567, max: 1234.567 })
  })

  it('counts negative latencies (clock steps) as zero and keeps very long ones', () => {
    const h = new LatencyHistogram()
    h.record(-5)
    h.record(3 * 3_600_000) // three hours: beyond the initial buckets
    expect(h.percentile(50)).toBe(0)
    expect(h.summary().max).toBe(3 * 3_600_000)
  })

  it('maps every value into a bucket at most 1/128 of its value wide', () => {
    for (const us of [0, 1, 255, 256, 257, 511, 512, 1_000, 65_535, 65_536, 2 ** 31 - 1, 2 ** 31, 2 ** 40 + 12_345]) {
      const [low, high] = rangeOf(bucketOf(us))
      expect(us).toBeGreaterThanOrEqual(low)
      expect(us).toBeLessThanOrEqual(high)
      expect(high - low + 1).toBeLessThanOrEqual(Math.max(1, us / 128))
    }
  })
})
