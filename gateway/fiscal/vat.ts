// VAT in integer kopecks: the FFD 1199 code of each rate, the item VAT sum (1200) and the
// receipt-level sums (1102–1107). Vending prices include VAT, so VAT is always extracted from the
// sum, never added to it.
import type { VatRate } from '../../protocol/index.js'

/** FFD 1.2 tag 1199 codes (docs/fiscal.md §1.3; 11 and 12 from FNS order ЕД-7-20/1050@, 2026). */
export const VAT_CODES: Readonly<Record<VatRate, number>> = {
  vat22: 11,
  vat22_122: 12,
  vat10: 2,
  vat10_110: 4,
  vat0: 5,
  none: 6,
  vat5: 7,
  vat7: 8,
  vat5_105: 9,
  vat7_107: 10,
}

/** Percent of each 1199 code; 0 for 0% and "without VAT". The calculated rates (22/122 …) extract the same share. */
const PERCENT_BY_CODE: ReadonlyMap<number, number> = new Map([
  [1, 20], [2, 10], [3, 20], [4, 10], [5, 0], [6, 0], [7, 5], [8, 7], [9, 5], [10, 7], [11, 22], [12, 22],
])

export function vatCode(rate: VatRate): number {
  return VAT_CODES[rate]
}

/**
 * VAT contained in an item sum (tag 1200), kopecks. Rule: the price includes VAT, so
 * VAT = sum × rate / (100 + rate), rounded half-up to the kopeck (the half kopeck goes up).
 * 12000 at 22/122 → 2163.93… → 2164; 61 at 22% → 11.0 → 11; 50 at 10/110 → 4.545… → 5.
 * BigInt because sum × rate × 2 may pass 2^53 for the largest 6-byte sums.
 */
export function vatSumForCode(sum: number, code: number): number {
  const rate = PERCENT_BY_CODE.get(code)
  if (rate === undefined) throw new RangeError(`unknown FFD 1199 VAT code ${code}`)
  if (!Number.isSafeInteger(sum) || sum < 0) throw new RangeError(`VAT base ${sum} is not a kopeck amount`)
  const num = BigInt(sum) * BigInt(rate) * 2n + BigInt(100 + rate)
  return Number(num / (2n * BigInt(100 + rate)))
}

export function vatSum(sum: number, rate: VatRate): number {
  return vatSumForCode(sum, VAT_CODES[rate])
}

/**
 * Receipt-level tag for a 1199 code, and whether it holds the VAT (true) or the item sum (false).
 * Only the rates FFD gives a receipt-level tag: 1102 20%, 1103 10%, 1104 sum at 0%, 1105 sum
 * without VAT, 1106 20/120, 1107 10/110. The 22%, 5% and 7% codes have no confirmed counterpart
 * (docs/fiscal.md §6 Q3), so they carry their VAT per item in 1200 only; we never put 22% into the
 * 20% tag 1102.
 */
const RECEIPT_TAG_BY_CODE: ReadonlyMap<number, { tag: number; holdsVat: boolean }> = new Map([
  [1, { tag: 1102, holdsVat: true }],
  [2, { tag: 1103, holdsVat: true }],
  [5, { tag: 1104, holdsVat: false }],
  [6, { tag: 1105, holdsVat: false }],
  [3, { tag: 1106, holdsVat: true }],
  [4, { tag: 1107, holdsVat: true }],
])

export interface VatLine {
  code: number
  /** Item total (1043), kopecks. */
  sum: number
  /** Item VAT (1200), kopecks. */
  vat: number
}

/**
 * Receipt-level VAT tags, ascending by tag. Each is the sum of the items' own 1200 values (not
 * the rate applied again to the group's total), so item and receipt VAT always agree to the
 * kopeck and verify can check them exactly.
 */
export function receiptVatTotals(lines: readonly VatLine[]): { tag: number; sum: number }[] {
  const totals = new Map<number, number>()
  for (const line of lines) {
    const target = RECEIPT_TAG_BY_CODE.get(line.code)
    if (target === undefined) continue
    totals.set(target.tag, (totals.get(target.tag) ?? 0) + (target.holdsVat ? line.vat : line.sum))
  }
  return [...totals].sort(([a], [b]) => a - b).map(([tag, sum]) => ({ tag, sum }))
}
