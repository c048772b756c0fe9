import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import { MAX_EXACT_KOPECKS, kopecksToRubles, rublesToKopecks } from '../../gateway/atol/amounts.js'
import { formatRubles, MAX_KOPECKS } from '../../protocol/money.js'

/** `R.KK` without trailing fractional zeros: how JSON prints the exact decimal (120.50 → "120.5"). */
function exactJson(kopecks: number): string {
  return formatRubles(kopecks).replace(/\.?0+$/, '')
}

/** The three facts that make a ruble number exact, checked for one value. Returns a reason or null. */
function inexact(k: number): string | null {
  const r = kopecksToRubles(k)
  // 1. It is the double nearest to the decimal R.KK (Number("R.KK") is correctly rounded by spec).
  if (r !== Number(formatRubles(k))) return `${k}: not the nearest double of ${formatRubles(k)}`
  // 2. JSON carries exactly that decimal, no noise digits.
  const json = JSON.stringify(r)
  if (json !== exactJson(k)) return `${k}: JSON ${json} ≠ ${exactJson(k)}`
  // 3. A peer parsing the JSON gets the same double, and it reads back to the same kopecks.
  if (JSON.parse(json) !== r || rublesToKopecks(JSON.parse(json) as number) !== k) return `${k}: does not read back`
  return null
}

describe('kopecks ↔ rubles for ATOL', () => {
  it('is exact for every amount from 1 kopeck to 1000.00 ₽ (1..100000, exhaustive)', () => {
    const bad: string[] = []
    for (let k = 1; k <= 100_000; k++) {
      const reason = inexact(k)
      if (reason) bad.push(reason)
    }
    expect(bad).toEqual([])
  })

  it('is exact on a step-sampled sweep up to 42 949 672.95 ₽ (4294967295 kopecks)', () => {
    const bad: string[] = []
    let checked = 0
    // A prime step walks through every kopeck residue mod 100 and every magnitude.
    for (let k = 100_001; k <= MAX_KOPECKS; k += 9_973) {
      const reason = inexact(k)
      if (reason) bad.push(reason)
      checked++
    }
    // Edges: powers of two and ten, the limit, and their neighbours (where rounding would slip first).
    const edges = [MAX_KOPECKS, MAX_KOPECKS - 1]
    for (let p = 1; p < 2 ** 32; p *= 2) edges.push(p - 1, p, p + 1)
    for (let p = 10; p < 2 ** 32; p *= 10) edges.push(p - 1, p, p + 1)
    for (const k of edges.filter((e) => e >= 1 && e <= MAX_KOPECKS)) {
      const reason = inexact(k)
      if (reason) bad.push(reason)
    }
    expect(checked).toBeGreaterThan(400_000)
    expect(bad).toEqual([])
  })

  it('is exact for random amounts up to the limit (property)', () => {
    fc.assert(fc.property(fc.integer({ min: 1, max: MAX_KOPECKS }), (k) => inexact(k) === null), { numRuns: 20_000 })
  })

  it('stays exact beyond ATOL’s limit, up to 15 significant digits (item sums of large quantities)', () => {
    for (const k of [429_496_729_500_000, MAX_EXACT_KOPECKS, 123_456_789_012_345]) expect(inexact(k)).toBeNull()
    expect(() => kopecksToRubles(MAX_EXACT_KOPECKS + 1)).toThrow(RangeError)
  })

  it('shows why multiplying by 0.01 is not an option', () => {
    expect(35 * 0.01).toBe(0.35000000000000003)
    expect(kopecksToRubles(35)).toBe(0.35)
    expect(JSON.stringify({ total: kopecksToRubles(123_450) })).toBe('{"total":1234.5}')
  })

  it('refuses what is not a 2-decimal ruble amount when reading back', () => {
    for (const bad of [0.005, 1e-7, 15.980000000000002, -1, Number.NaN, Number.POSITIVE_INFINITY, 1e21]) {
      expect(rublesToKopecks(bad)).toBeNull()
    }
    expect(rublesToKopecks(0)).toBe(0)
    expect(rublesToKopecks(1598)).toBe(159_800)
    expect(rublesToKopecks(42_949_672.95)).toBe(MAX_KOPECKS)
  })

  it('refuses negative, fractional and unsafe kopecks', () => {
    for (const bad of [-1, 1.5, Number.NaN, 2 ** 53]) expect(() => kopecksToRubles(bad)).toThrow(RangeError)
  })
})
