import { describe, expect, it } from 'vitest'
import { decodeSale, escapeUnprintable, saleContent, saleContentKey, textProblem, type SaleEvent } from '../../protocol/index.js'

const sale: SaleEvent = {
  v: 1, saleId: 's-1', at: '2026-11-28T12:21:05.123Z', kind: 'sale',
  items: [{ sku: 'A12', name: 'Вода «Архыз» 0,5 л', price: 12000, qty: 1, vat: 'vat22' }, { sku: 'B1', name: 'Кофе ☕', price: 100, qty: 2, vat: 'none' }],
  payment: { method: 'card', amount: 12200 },
}
const bytes = (value: unknown) => new TextEncoder().encode(JSON.stringify(value))

describe('sale strings', () => {
  it('accepts Russian text, typography and astral characters', () => {
    for (const text of ['Вода «Архыз» — 0,5 л', 'Кофе ☕', 'emoji 😀 pair', '№ 5 · 10°']) expect(textProblem(text), text).toBeNull()
  })

  it('names the refused character and its position', () => {
    expect(textProblem('ab\u0000')).toBe('forbidden character U+0000 (NUL) at position 2')
    expect(textProblem('a\ud800b')).toBe('lone surrogate U+D800 at position 1')
    expect(textProblem('\udc00')).toBe('lone surrogate U+DC00 at position 0')
    expect(textProblem('x\u202ey')).toBe('forbidden character U+202E (RIGHT-TO-LEFT OVERRIDE) at position 1')
    expect(textProblem('x\u0090')).toBe('forbidden character U+0090 (control character) at position 1')
    expect(textProblem('tab\there')).toBe('forbidden character U+0009 (TAB) at position 3')
  })

  it('writes refused characters printable and keeps everything else as it is', () => {
    expect(escapeUnprintable('a\u0000b\ud800c\u202e😀')).toBe('a\\u0000b\\ud800c\\u202e😀')
    expect(escapeUnprintable('Вода «Архыз»')).toBe('Вода «Архыз»')
  })

  it('refuses a sale with a refused character in any string, and keeps the reason printable', () => {
    const bad = { ...sale, items: [{ ...sale.items[0]!, name: 'Во\u0000да' }, sale.items[1]!] }
    expect(decodeSale(bytes(bad))).toEqual({ ok: false, saleId: 's-1', reason: 'items.0.name: forbidden character U+0000 (NUL) at position 2' })
    expect(decodeSale(bytes({ ...sale, 'k\u0000': 1 }))).toMatchObject({ ok: false, reason: 'Unrecognized key: "k\\u0000"' })
  })

  it('reads a saleId of up to 256 characters from a refused sale to answer it', () => {
    expect(decodeSale(bytes({ ...sale, saleId: 'x'.repeat(65) }))).toMatchObject({ ok: false, saleId: 'x'.repeat(65) })
    expect(decodeSale(bytes({ ...sale, saleId: 'x'.repeat(257) }))).not.toHaveProperty('saleId')
  })

  it('refuses sale times more than 30 days back or 24 hours ahead of the gateway clock', () => {
    const now = new Date('2026-11-28T12:00:00Z')
    expect(decodeSale(bytes({ ...sale, at: '2026-11-01T12:00:00Z' }), now).ok).toBe(true)
    // Refused for its time alone, it still carries the sale as read: a copy of a stored sale is a repeat.
    expect(decodeSale(bytes({ ...sale, at: '2026-10-28T11:59:59Z' }), now)).toMatchObject({ ok: false, reason: /more than 30 days before/, late: { saleId: sale.saleId, at: '2026-10-28T11:59:59Z' } })
    expect(decodeSale(bytes({ ...sale, at: '2026-11-29T12:00:01Z' }), now)).toMatchObject({ ok: false, reason: /more than 24 hours after/ })
  })

  it('refuses a UTC offset the database cannot store (±16:00 and beyond), naming it, and takes any up to ±15:59', () => {
    const now = new Date('2026-11-28T12:00:00Z')
    expect(decodeSale(bytes({ ...sale, at: '2026-11-28T12:00:00+14:00' }), now).ok).toBe(true)
    expect(decodeSale(bytes({ ...sale, at: '2026-11-28T12:00:00-15:59' }), now).ok).toBe(true)
    expect(decodeSale(bytes({ ...sale, at: '2026-11-28T12:00:00+16:00' }), now))
      .toEqual({ ok: false, reason: 'at: 2026-11-28T12:00:00+16:00 has a UTC offset beyond ±15:59', saleId: sale.saleId, late: { ...sale, at: '2026-11-28T12:00:00+16:00' } })
    expect(decodeSale(bytes({ ...sale, at: '2026-11-28T12:00:00-23:59' }), now)).toMatchObject({ ok: false, reason: /UTC offset beyond/ })
  })
})

describe('sale content', () => {
  const key = (s: SaleEvent) => saleContentKey(saleContent(s))
  it('is the same for the same sale written differently (another time, items in another order)', () => {
    expect(key({ ...sale, at: '2026-11-28T13:00:00Z', items: [...sale.items].reverse() })).toBe(key(sale))
  })
  it('differs when the items, total, payment, kind or refunded sale differ', () => {
    const other = [
      { ...sale, items: [{ ...sale.items[0]!, name: 'Вода' }, sale.items[1]!] },
      { ...sale, items: [sale.items[0]!, { ...sale.items[1]!, qty: 3 }], payment: { method: 'card' as const, amount: 12300 } },
      { ...sale, payment: { method: 'cash' as const, amount: 12200 } },
      { ...sale, kind: 'refund' as const, refundOf: 's-0' },
    ]
    for (const o of other) expect(key(o)).not.toBe(key(sale))
    expect(key({ ...other[3]!, refundOf: 's-9' })).not.toBe(key(other[3]!))
  })
})
