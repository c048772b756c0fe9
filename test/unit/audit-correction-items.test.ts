import { describe, expect, it } from 'vitest'
import { AGGREGATE_ITEM_NAME, correctionItems, type CorrectionItemsInput } from '../../gateway/audit/correction-items.js'

const base: CorrectionItemsInput = {
  total: 35000, vends: 3, scale: 1, defaultVat: 'vat22',
  before: [{ id: 'A01', price: 8000, name: null, pa2: [10, 80000] }, { id: 'C02', price: 15000, name: 'CAPPUCCINO', pa2: [4, 60000] }],
  after: [{ id: 'A01', price: 8000, name: null, pa2: [13, 104000] }, { id: 'C02', price: 15000, name: 'CAPPUCCINO', pa2: [7, 105000] }],
  // Receipted: 2 × A01 and 2 × C02 of the 3 + 3 counted.
  receipted: new Map([['A01', { qty: 2, value: 16000 }], ['C02', { qty: 2, value: 30000 }]]),
  catalogue: new Map([['A01', { name: 'Вода 0,5 л', vat: 'vat10' as const }]]),
}

describe('correction receipt items', () => {
  it('itemises by product: counted (PA2) beyond receipted, named and taxed as the machine\'s sales', () => {
    // A01: 3 counted − 2 receipted = 1 × 8000 ₽; C02: 3 − 2 = 1 × 15000 (45000 − 30000).
    const items = correctionItems({ ...base, total: 8000 + 15000, vends: 2 })
    expect(items).toEqual([
      { sku: 'A01', name: 'Вода 0,5 л', price: 8000, qty: 1, vat: 'vat10' },
      { sku: 'C02', name: 'CAPPUCCINO', price: 15000, qty: 1, vat: 'vat22' },
    ])
  })

  it('falls back to one item for the whole amount when the products do not add up to it', () => {
    expect(correctionItems(base)).toEqual([{ sku: 'AUDIT', name: AGGREGATE_ITEM_NAME, price: 35000, qty: 1, vat: 'vat22' }])
    expect(correctionItems({ ...base, total: 36000 })).toEqual([{ sku: 'AUDIT', name: AGGREGATE_ITEM_NAME, price: 12000, qty: 3, vat: 'vat22' }])
  })

  it('falls back when a product has no whole price or the audit has no products', () => {
    const odd = { ...base, total: 10001, vends: 2, after: [{ id: 'A01', price: 8000, name: null, pa2: [12, 90001] }], before: [{ id: 'A01', price: 8000, name: null, pa2: [10, 80000] }], receipted: new Map() }
    expect(correctionItems(odd)[0]!.sku).toBe('AUDIT')
    expect(correctionItems({ ...base, before: [], after: [], total: 700, vends: 1 })).toEqual([{ sku: 'AUDIT', name: AGGREGATE_ITEM_NAME, price: 700, qty: 1, vat: 'vat22' }])
  })
})
