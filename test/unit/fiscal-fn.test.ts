import { describe, expect, it } from 'vitest'
import {
  DEFAULT_MAX_SHIFT_MS, closeShiftIfDue, decodeDocument, fnHealth, newFnState, receiptQr, signSales,
  verifyDocument, verifyNumbering, type FnState, type SignedDocument,
} from '../../gateway/fiscal/index.js'
import { parseReceiptQr } from '../../protocol/index.js'
import { FN, KASSA, MACHINE, SECRET, sale } from './fiscal-fixtures.js'

const T0 = new Date('2026-11-28T06:00:00Z')
const MIN = 60_000
const at = (minutes: number): Date => new Date(T0.getTime() + minutes * MIN)

function fresh(extra: Partial<Parameters<typeof newFnState>[0]> = {}): FnState {
  return newFnState({ fn: FN, model: 'fn-36', secret: SECRET, registeredAt: new Date('2026-01-15T00:00:00Z'), docLimit: 100_000, ...extra })
}

describe('FN state machine', () => {
  it('accepts only 16-digit test FN numbers starting with 9999', () => {
    expect(fresh()).toMatchObject({ nextFd: 1, shiftNumber: 0, shiftOpenedAt: null, receiptsInShift: 0, unsentCount: 0 })
    expect(() => fresh({ fn: '7380440700076549' })).toThrow(/9999/)
    expect(() => fresh({ fn: '999907890000123' })).toThrow(/9999/)
  })

  it('opens a shift before the first receipt and numbers documents from 1', () => {
    const { state, documents, blocked } = signSales(fresh(), KASSA, [sale(), sale()], T0)
    expect(blocked).toBeNull()
    expect(documents.map((d) => [d.fd, d.type, d.shift, d.receiptInShift])).toEqual([[1, 2, 1, null], [2, 3, 1, 1], [3, 3, 1, 2]])
    expect(state).toMatchObject({ nextFd: 4, shiftNumber: 1, shiftOpenedAt: T0, receiptsInShift: 2, unsentCount: 3, firstUnsentAt: T0 })
    expect(documents[1]).toMatchObject({ saleRowId: expect.any(String), operation: 1, total: 12000, signedAt: T0 })
  })

  it('closes and reopens the shift over 30 hours of sales, restarting 1042 and keeping FD gapless', () => {
    let state = fresh()
    const docs: SignedDocument[] = []
    for (let minute = 0; minute <= 30 * 60; minute += 20) {
      const result = signSales(state, KASSA, [sale()], at(minute))
      expect(result.blocked).toBeNull()
      state = result.state
      docs.push(...result.documents)
    }
    // 91 sales; the shift is due at 23:55, so the sale at 24:00 (the 73rd) closes and reopens it.
    const reports = docs.filter((d) => d.type !== 3).map((d) => [d.fd, d.type, d.signedAt.getTime() - T0.getTime()])
    expect(reports).toEqual([[1, 2, 0], [74, 5, 1440 * MIN], [75, 2, 1440 * MIN]])
    expect(docs[75]).toMatchObject({ fd: 76, type: 3, shift: 2, receiptInShift: 1 })
    expect(docs.at(-1)).toMatchObject({ fd: 94, shift: 2, receiptInShift: 19 })
    expect(verifyNumbering(docs.map((d) => d.fd))).toEqual({ ok: true, gaps: [], repeats: [], invalid: [] })
    expect(docs.map((d) => d.fd)).toEqual(Array.from({ length: 94 }, (_, i) => i + 1))
    const close = decodeDocument(docs[73]!.tlv)
    expect(close).toMatchObject({ type: 5, shift: 1, receiptsInShift: 72, documentsInShift: 74, unsentCount: 74 })
    for (const d of docs) expect(verifyDocument(d.tlv, SECRET).ok).toBe(true)
  })

  it('closes a due shift from a timer when no sale comes, and not a minute before', () => {
    const open = signSales(fresh(), KASSA, [sale()], T0).state
    expect(closeShiftIfDue(open, KASSA, new Date(T0.getTime() + DEFAULT_MAX_SHIFT_MS - 1)).documents).toEqual([])
    const { state, documents } = closeShiftIfDue(open, KASSA, new Date(T0.getTime() + DEFAULT_MAX_SHIFT_MS))
    expect(documents.map((d) => [d.fd, d.type, d.shift])).toEqual([[3, 5, 1]])
    expect(state).toMatchObject({ shiftOpenedAt: null, shiftNumber: 1, nextFd: 4 })
    const next = signSales(state, KASSA, [sale()], at(1500))
    expect(next.documents.map((d) => [d.fd, d.type, d.shift, d.receiptInShift])).toEqual([[4, 2, 2, null], [5, 3, 2, 1]])
  })

  it('takes the maximum shift length as a parameter', () => {
    const open = signSales(fresh(), KASSA, [sale()], T0).state
    const result = signSales(open, KASSA, [sale()], at(60), 60 * MIN)
    expect(result.documents.map((d) => d.type)).toEqual([5, 2, 3])
  })

  it('signs a refund as возврат прихода and builds its QR from the kassa’s local time', () => {
    const { documents } = signSales(fresh(), KASSA, [sale(undefined, { kind: 'refund' })], new Date('2026-11-28T12:21:05Z'))
    const receipt = documents[1]!
    const qr = receiptQr(receipt, FN, 'Europe/Moscow')
    expect(qr).toBe(`t=20261128T1521&s=120.00&fn=${FN}&i=2&fp=${receipt.fp}&n=2`)
    expect(parseReceiptQr(qr)).toMatchObject({ i: 2, n: 2, s: 12000 })
    expect(() => receiptQr(documents[0]!, FN, 'Europe/Moscow')).toThrow(/not a receipt/)
  })

  it('stamps Yekaterinburg receipts two hours ahead of Moscow ones, in the QR and in tag 1012', () => {
    const now = new Date('2026-11-28T12:21:05Z')
    const msk = signSales(fresh(), KASSA, [sale()], now).documents[1]!
    const ekbKassa = { ...KASSA, timeZone: 'Asia/Yekaterinburg' }
    const ekb = signSales(fresh(), ekbKassa, [sale()], now).documents[1]!
    expect(receiptQr(msk, FN, KASSA.timeZone)).toMatch(/^t=20261128T1521&/)
    expect(receiptQr(ekb, FN, ekbKassa.timeZone)).toMatch(/^t=20261128T1721&/)
    expect(decodeDocument(ekb.tlv).signedAtLocal - decodeDocument(msk.tlv).signedAtLocal).toBe(7200)
    expect(decodeDocument(msk.tlv).signedAtLocal).toBe(Date.UTC(2026, 10, 28, 15, 21, 5) / 1000)
  })

  it('gives fp as a string of 1 to 10 digits, above 2^31 for some documents', () => {
    const { documents } = signSales(fresh(), KASSA, Array.from({ length: 40 }, () => sale()), T0)
    for (const d of documents) expect(d.fp).toMatch(/^\d{1,10}$/)
    const big = documents.filter((d) => Number(d.fp) > 2 ** 31)
    expect(big.length).toBeGreaterThan(0)
    expect(Number(big[0]!.fp) | 0).not.toBe(Number(big[0]!.fp)) // would be wrong as an int32
  })

  it('refuses receipts when fewer than 2 documents are left, keeping the last for the close report', () => {
    const sales = [sale(), sale(), sale(), sale(), sale()]
    const full = signSales(fresh({ docLimit: 5 }), KASSA, sales, T0)
    expect(full.documents.map((d) => [d.fd, d.type])).toEqual([[1, 2], [2, 3], [3, 3], [4, 3]])
    expect(full.documents.map((d) => d.saleRowId).slice(1)).toEqual(sales.slice(0, 3).map((s) => s.saleRowId))
    expect(full.blocked).toMatchObject({ code: 'fn_full' })
    expect(full.state.nextFd).toBe(5)
    const closed = closeShiftIfDue(full.state, KASSA, at(1440))
    expect(closed.documents.map((d) => [d.fd, d.type])).toEqual([[5, 5]])
    expect(fnHealth(closed.state, at(1440))).toMatchObject({ docsUsed: 5, docsLeft: 0, fillRatio: 1, nearFull: true, blocked: { code: 'fn_full' } })
  })

  it('needs 3 documents to open a shift for a receipt, and still closes a due shift it cannot reopen', () => {
    const opened = signSales(fresh({ docLimit: 5 }), KASSA, [sale()], T0).state // fd 1 open, 2 receipt
    const due = signSales(opened, KASSA, [sale()], at(1440))
    expect(due.documents.map((d) => [d.fd, d.type])).toEqual([[3, 5]])
    expect(due.blocked).toMatchObject({ code: 'fn_full' })
    const again = signSales(due.state, KASSA, [sale()], at(1441))
    expect(again.documents).toEqual([])
    expect(again.blocked).toMatchObject({ code: 'fn_full' })
  })

  it('refuses to sign with an expired FN and leaves the sales unsigned', () => {
    const now = new Date('2026-11-28T12:00:00Z')
    const registeredAt = new Date(now.getTime() - 471 * 24 * 3600_000)
    const state = fresh({ model: 'fn-15', registeredAt })
    const result = signSales(state, KASSA, [sale(), sale()], now)
    expect(result.documents).toEqual([])
    expect(result.blocked).toMatchObject({ code: 'fn_expired' })
    expect(result.state).toEqual(state)
    expect(fnHealth(state, now)).toMatchObject({ daysLeft: 0, blocked: { code: 'fn_expired' } })
    const young = fresh({ model: 'fn-15', registeredAt: new Date(now.getTime() - 469 * 24 * 3600_000) })
    expect(signSales(young, KASSA, [sale()], now).blocked).toBeNull()
    expect(fnHealth(young, now).daysLeft).toBe(1)
  })

  it('reports health: capacity, expiry, shift age', () => {
    const state = signSales(fresh({ docLimit: 10 }), KASSA, Array.from({ length: 8 }, () => sale()), T0).state
    expect(fnHealth(state, at(90))).toEqual({
      docsUsed: 9, docsLeft: 1, fillRatio: 0.9, expiresAt: new Date('2029-01-29T00:00:00Z'), daysLeft: 792, // 1110 days after 2026-01-15
      shiftOpen: true, shiftAgeMs: 90 * MIN, nearFull: false, blocked: { code: 'fn_full', message: expect.any(String) },
    })
  })

  it('refuses a sale no FN could sign without spending a document, and signs the next one', () => {
    const bad = sale(undefined, { machine: { ...MACHINE, number: 'VM-'.padEnd(21, '0') } })
    const good = sale()
    const { documents, refused, blocked } = signSales(fresh(), KASSA, [bad, good], T0)
    expect(refused).toEqual([{ saleRowId: bad.saleRowId, reason: expect.stringMatching(/tag 1036/) }])
    expect(blocked).toBeNull()
    expect(documents.map((d) => [d.fd, d.type, d.saleRowId])).toEqual([[1, 2, null], [2, 3, good.saleRowId]])
  })

  it('never changes the state it was given', () => {
    const state = fresh()
    const copy = structuredClone(state)
    signSales(state, KASSA, [sale()], T0)
    expect(state).toEqual(copy)
  })
})
