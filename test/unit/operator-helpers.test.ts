import { describe, expect, it } from 'vitest'
import { decodeSale } from '../../protocol/index.js'
import { fiscalRejectClass, ingestRejectClass } from '../../gateway/metrics/reject-reason.js'
import { decodeCursor, encodeCursor, page } from '../../gateway/operator/cursor.js'
import { kassaState, type KassaRowInput } from '../../gateway/operator/fleet-state.js'

const reasonOf = (payload: string | Uint8Array) => {
  const d = decodeSale(typeof payload === 'string' ? new TextEncoder().encode(payload) : payload)
  if (d.ok) throw new Error('expected a refusal')
  return d.reason
}
const good = { v: 1, saleId: 's1', at: '2026-11-28T12:21:05.123Z', kind: 'sale', items: [{ sku: 'A', name: 'x', price: 100, qty: 1, vat: 'vat22' }], payment: { method: 'card', amount: 100 } }

describe('reject reason classes (bounded metric labels)', () => {
  it('classifies the reasons ingest actually produces', () => {
    expect(ingestRejectClass(reasonOf('{nope'))).toBe('json')
    expect(ingestRejectClass(reasonOf(new Uint8Array([0xff, 0xfe])))).toBe('encoding')
    expect(ingestRejectClass(reasonOf(JSON.stringify({ ...good, payment: { method: 'card', amount: 1 } })))).toBe('amount_mismatch')
    expect(ingestRejectClass(reasonOf('{"v":1,"v":1}'))).toBe('duplicate_key')
    expect(ingestRejectClass(reasonOf(JSON.stringify({ ...good, extra: 1 })))).toBe('schema')
    expect(ingestRejectClass(reasonOf(JSON.stringify({ ...good, pad: 'x'.repeat(17 * 1024) })))).toBe('too_large')
    expect(ingestRejectClass('unknown machine VM-9')).toBe('unknown_machine')
    expect(ingestRejectClass('topic does not name a machine')).toBe('topic')
    expect(ingestRejectClass(reasonOf(JSON.stringify({ ...good, saleId: 's\u0000' })))).toBe('text')
    expect(ingestRejectClass(reasonOf(JSON.stringify({ ...good, items: [{ ...good.items[0], name: '\ud800' }] })))).toBe('text')
    const dated = decodeSale(new TextEncoder().encode(JSON.stringify({ ...good, at: '1970-01-01T00:00:00Z' })), new Date())
    expect(!dated.ok && ingestRejectClass(dated.reason)).toBe('time')
    expect(ingestRejectClass('could not be stored: poisoned row (SQLSTATE 22023)')).toBe('database')
  })

  it('classifies fiscalizer refusals as refund problems or unsignable sales', () => {
    expect(fiscalRejectClass('sale abc is already refunded')).toBe('refund')
    expect(fiscalRejectClass('sale abc is unknown')).toBe('refund')
    expect(fiscalRejectClass('the total is over the 6-byte limit of tag 1020')).toBe('unsignable')
  })
})

describe('keyset cursors', () => {
  it('round-trips keys and refuses anything else', () => {
    expect(decodeCursor(encodeCursor('VM-001'), 'string')).toBe('VM-001')
    expect(decodeCursor(encodeCursor(42), 'number')).toBe(42)
    expect(decodeCursor(encodeCursor('42'), 'number')).toBeNull()
    expect(decodeCursor('not-a-cursor', 'string')).toBeNull()
  })

  it('pages with one extra row telling whether more exist', () => {
    expect(page([1, 2, 3], 2, (n) => n)).toEqual({ items: [1, 2], next: encodeCursor(2) })
    expect(page([1, 2], 2, (n) => n)).toEqual({ items: [1, 2], next: null })
  })
})

describe('kassa state', () => {
  const row: KassaRowInput = {
    id: 'K1', name: 'n', inn: '7707083893', reg_number: 'r', sno: 'usn_income', time_zone: 'Europe/Moscow', provider: 'emulated',
    fn: '9999078900001234', model: 'fn-15', registered_at: new Date('2025-01-01T00:00:00Z'), doc_limit: 100, next_fd: 96,
    shift_number: 3, shift_opened_at: new Date('2026-04-15T10:00:00Z'), receipts_in_shift: 7, unsent_count: 95,
    first_unsent_at: new Date('2026-04-01T00:00:00Z'), blocked_reason: null, pending: 2, oldest_pending_at: new Date('2026-04-16T09:59:00Z'), failed: 1, machines: ['VM-001'],
  }

  it('reports an expired FN as blocked even before a sale was refused, with its counters', () => {
    const k = kassaState(row, new Date('2026-04-16T10:00:00Z')) // FN-15 lives 470 days: expired on 2026-04-16
    expect(k.fn).toMatchObject({ docsUsed: 95, docsLeft: 5, fillRatio: 0.95, nextFd: 96, daysLeft: 0 })
    expect(k.fn!.blockedReason).toMatch(/expired/)
    expect(k.shift).toEqual({ open: true, number: 3, openedAt: row.shift_opened_at, ageS: 24 * 3600, receipts: 7 })
    expect(k.ofd).toEqual({ unsentCount: 95, firstUnsentAt: row.first_unsent_at, oldestUnsentAgeS: 15 * 86400 + 10 * 3600 })
    expect(k.backlog).toEqual({ pending: 2, oldestPendingAt: row.oldest_pending_at, oldestPendingAgeS: 60, failed: 1 })
  })

  it('shows a cloud kassa without an FN of its own', () => {
    const k = kassaState({ ...row, provider: 'atol-v5', fn: null, model: null, registered_at: null, doc_limit: null, next_fd: null }, new Date())
    expect(k).toMatchObject({ fn: null, shift: null, ofd: null, provider: 'atol-v5' })
  })
})
