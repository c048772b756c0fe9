// Amounts are integer kopecks everywhere; rubles appear only when formatted.

/** Largest amount we accept in one field: 2^32 − 1 kopecks = 42 949 672.95 ₽ (ATOL's price limit). */
export const MAX_KOPECKS = 4_294_967_295

/** 12000 → "120.00", exactly, without floating point. */
export function formatRubles(kopecks: number | bigint): string {
  const k = BigInt(kopecks)
  const sign = k < 0n ? '-' : ''
  const abs = k < 0n ? -k : k
  const rubles = abs / 100n
  const rest = abs % 100n
  return `${sign}${rubles}.${rest.toString().padStart(2, '0')}`
}

/** "120.00" (or "120", "120.5") → 12000; null when the text is not a plain non-negative ruble amount. */
export function parseRubles(text: string): number | null {
  const m = /^(\d+)(?:\.(\d{1,2}))?$/.exec(text)
  if (!m) return null
  const kop = BigInt(m[1] ?? '0') * 100n + BigInt((m[2] ?? '').padEnd(2, '0'))
  return kop > BigInt(Number.MAX_SAFE_INTEGER) ? null : Number(kop)
}
