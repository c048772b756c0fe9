// ATOL takes money as JSON numbers in rubles; we keep integer kopecks everywhere else.
// The conversion must be exact in both directions: the number sent must be the double nearest
// to the decimal `R.KK`, and reading it back must give the same kopecks.
import { parseRubles } from '../../protocol/money.js'

/**
 * Largest kopecks value we convert: 10^15 − 1 (a decimal of at most 15 significant digits).
 * Up to 15 significant digits a decimal survives decimal → double → shortest decimal unchanged
 * (IEEE 754 binary64 holds 15.95 decimal digits), so `String()` and `JSON.stringify` of the
 * ruble number print exactly `R.KK` (trailing zeros dropped). ATOL's own limit, 42 949 672.95 ₽
 * (MAX_KOPECKS), is far below.
 */
export const MAX_EXACT_KOPECKS = 999_999_999_999_999

/**
 * 12050 → 120.5 (which JSON prints as `120.5`, the same number as 120.50).
 *
 * Why plain division is exact here: IEEE 754 division is correctly rounded, and the exact
 * quotient k / 100 *is* the decimal `R.KK`, so the result is the double nearest to that decimal:
 * the same double `Number("R.KK")` gives. Multiplying by 0.01 is not: 0.01 has no exact double,
 * and `35 * 0.01` is 0.35000000000000003.
 */
export function kopecksToRubles(kopecks: number): number {
  if (!Number.isSafeInteger(kopecks) || kopecks < 0 || kopecks > MAX_EXACT_KOPECKS) {
    throw new RangeError(`kopecks must be an integer in 0..${MAX_EXACT_KOPECKS}, got ${kopecks}`)
  }
  return kopecks / 100
}

/**
 * 120.5 → 12050; null when the number is not a non-negative amount with at most 2 decimals
 * (for example 0.005, 1e-7 or 15.980000000000002 from a sloppy peer). Strict on purpose: a total
 * that does not read back exactly is a provider fault to report, not something to round away.
 * `String(n)` is the shortest decimal that reads back as `n`, which for an amount we (or any
 * correct peer) produced is exactly `R.KK` without trailing zeros.
 */
export function rublesToKopecks(rubles: number): number | null {
  if (typeof rubles !== 'number' || !Number.isFinite(rubles) || rubles < 0) return null
  const kopecks = parseRubles(String(rubles))
  return kopecks !== null && kopecks <= MAX_EXACT_KOPECKS ? kopecks : null
}
