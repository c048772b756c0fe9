import { describe, expect, it } from 'vitest'
import { receiptVatTotals, vatCode, vatSum, vatSumForCode } from '../../gateway/fiscal/index.js'

describe('VAT', () => {
  it('maps each rate to its FFD 1199 code', () => {
    expect(['vat22', 'vat22_122', 'vat10', 'vat10_110', 'vat0', 'none', 'vat5', 'vat7', 'vat5_105', 'vat7_107'].map((r) => vatCode(r as never)))
      .toEqual([11, 12, 2, 4, 5, 6, 7, 8, 9, 10])
  })

  it('extracts the VAT included in a sum, in kopecks', () => {
    expect(vatSum(12000, 'vat22_122')).toBe(2164) // 2163.93…
    expect(vatSum(12000, 'vat22')).toBe(2164) // prices include VAT: 22% extracts the same share
    expect(vatSum(17100, 'vat22')).toBe(3084) // 3083.60…
    expect(vatSum(11000, 'vat10')).toBe(1000)
    expect(vatSum(5000, 'vat10_110')).toBe(455) // 454.54…
    expect(vatSum(10500, 'vat5')).toBe(500)
    expect(vatSum(10700, 'vat7_107')).toBe(700)
    expect(vatSum(12000, 'vat0')).toBe(0)
    expect(vatSum(12000, 'none')).toBe(0)
  })

  it('rounds half a kopeck up and less than half down', () => {
    // At 20% (code 1) 3 kopecks hold exactly 0.5 of VAT, 9 hold 1.5.
    expect(vatSumForCode(3, 1)).toBe(1)
    expect(vatSumForCode(9, 1)).toBe(2)
    expect(vatSumForCode(2, 1)).toBe(0) // 0.33…
    expect(vatSum(1, 'vat22')).toBe(0) // 0.18…
    expect(vatSum(3, 'vat22')).toBe(1) // 0.54…
  })

  it('stays exact for the largest 6-byte sums', () => {
    const sum = 2 ** 48 - 1
    expect(vatSum(sum, 'vat22')).toBe(Number((BigInt(sum) * 22n * 2n + 122n) / 244n))
  })

  it('sums receipt-level tags from the items’ own VAT, only for rates that have a tag', () => {
    const lines = [
      { code: 2, sum: 11000, vat: 1000 },
      { code: 2, sum: 5, vat: 0 },
      { code: 6, sum: 300, vat: 0 },
      { code: 11, sum: 12000, vat: 2164 },
      { code: 4, sum: 2200, vat: 200 },
    ]
    expect(receiptVatTotals(lines)).toEqual([
      { tag: 1103, sum: 1000 },
      { tag: 1105, sum: 300 },
      { tag: 1107, sum: 200 },
    ])
  })
})
