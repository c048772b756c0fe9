import { describe, expect, it } from 'vitest'
import { decodeSale, findDuplicateKey } from '../../protocol/index.js'

describe('duplicate keys in a payload', () => {
  it('names a key repeated in one object, whether or not it is written with escapes', () => {
    expect(findDuplicateKey('{"a":1,"a":2}')).toBe('a')
    expect(findDuplicateKey('{"a\\u0062":1,"ab":2}')).toBe('ab')
    expect(findDuplicateKey('{"s":"a\\"b","s":1}')).toBe('s')
    expect(findDuplicateKey('{"items":[{"sku":"A"},{"sku":"B","qty":1,"qty":2}]}')).toBe('qty')
  })

  it('accepts the same key in different objects and quotes or backslashes inside values', () => {
    expect(findDuplicateKey('{"a":1,"b":{"a":2}}')).toBeNull()
    expect(findDuplicateKey('{"x":[{"a":1},{"a":1}]}')).toBeNull()
    expect(findDuplicateKey('{"k":"v\\\\","k2":"\\"k\\":1"}')).toBeNull()
  })

  it('refuses a sale whose amount is given twice', () => {
    const sale = '{"v":1,"saleId":"s1","at":"2026-11-28T12:00:00.000Z","kind":"sale","items":[{"sku":"A","name":"B","price":100,"qty":1,"vat":"vat22"}],"payment":{"method":"card","amount":1,"amount":100}}'
    expect(decodeSale(new TextEncoder().encode(sale))).toEqual({ ok: false, reason: 'duplicate key "amount" in payload', saleId: 's1' })
  })
})
