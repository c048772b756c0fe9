// The change of a lifetime ("since initialisation") counter between two audits. Lifetime counters
// never reset, so a missing audit costs nothing: deltas add up. A counter restarts at 0 past its
// decimal maximum (99,999,999 → 0), or earlier at a binary limit on some makers (EVA-DTS 6.2
// §5.1.6, §5.3.6: a read of 65435 then 31 is 132 vends). A fall no wrap explains is a new chain.

/** The moduli tried, in order, when a counter falls: its decimal limit first, then common binary ones. */
export function wrapModuli(digits: number): number[] {
  return [10 ** digits, 65_536, 100_000, 4_294_967_296]
}

/**
 * `cur − prev`, across one wrap when `cur < prev` and a modulus gives a delta no larger than
 * `plausibleMax`; null when none does (the counter was reset or replaced: a new baseline).
 */
export function counterDelta(prev: number, cur: number, digits: number, plausibleMax: number): { delta: number; wrappedAt: number | null } | null {
  if (cur >= prev) return { delta: cur - prev, wrappedAt: null }
  for (const m of wrapModuli(digits)) {
    if (prev >= m) continue // the counter already went past this limit: it is not where it wraps
    const delta = cur + m - prev
    if (delta >= 0 && delta <= plausibleMax) return { delta, wrappedAt: m }
  }
  return null
}
