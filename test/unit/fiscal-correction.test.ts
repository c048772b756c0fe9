import { describe, expect, it } from 'vitest'
import { buildCorrectionRequest } from '../../gateway/atol/correction-request.js'
import {
  baseDateSeconds, decodeDocument, decodeTlv, newFnState, signCorrection, verifyDocument, type TlvField,
} from '../../gateway/fiscal/index.js'
import { BAR, FN, KASSA, MACHINE, SECRET, WATER } from './fiscal-fixtures.js'

const NOW = new Date('2026-11-28T09:15:00Z') // 12:15 in Moscow
const fresh = () => newFnState({ fn: FN, model: 'fn-36', secret: SECRET, registeredAt: new Date('2026-01-01T00:00:00Z'), docLimit: 1000 })
const correction = { machine: MACHINE, items: [WATER, BAR], cash: 12000, ecash: 17100, baseDate: '2026-11-27' }

describe('correction receipt (FFD 1.2 form 31)', () => {
  it('opens a shift, then signs form 31 in the same numbering: 1173 = 0, 1174 holding 1178, 1054 = 1', () => {
    const result = signCorrection(fresh(), KASSA, correction, NOW)
    expect(result.blocked).toBeNull()
    expect(result.documents.map((d) => [d.fd, d.type])).toEqual([[1, 2], [2, 31]])
    const doc = result.documents[1]!
    expect(doc).toMatchObject({ operation: 1, total: 29100, receiptInShift: 1, saleRowId: null })
    expect(result.state).toMatchObject({ nextFd: 3, receiptsInShift: 1 })

    const [outer] = decodeTlv(doc.tlv)
    expect(outer!.tag).toBe(31)
    const fields = outer!.value as TlvField[]
    const tag = (t: number) => fields.find((f) => f.tag === t)?.value
    expect([tag(1054), tag(1173)]).toEqual([1, 0])
    expect(tag(1174)).toEqual([{ tag: 1178, value: baseDateSeconds('2026-11-27') }])
    expect(fields.some((f) => f.tag === 1179)).toBe(false) // no order number for a self-correction
    expect([tag(1036), tag(1031), tag(1081), tag(1020)]).toEqual(['VM-001', 12000, 17100, 29100])
  })

  it('verifies like a receipt: sign, sums, pieces, the 2026-11-27 basis', () => {
    const doc = signCorrection(fresh(), KASSA, correction, NOW).documents[1]!
    const verified = verifyDocument(doc.tlv, SECRET)
    expect(verified.ok).toBe(true)
    const decoded = decodeDocument(doc.tlv)
    expect(decoded).toMatchObject({ type: 31, correctionType: 0, correctionOrder: null, correctionDate: Date.UTC(2026, 10, 27) / 1000 })
    expect(decoded.items.map((i) => [i.price, i.quantity.mantissa, i.measure])).toEqual([[12000, 1, 0], [8550, 2, 0]])
    expect(verifyDocument(doc.tlv, new TextEncoder().encode('another FN')).ok).toBe(false)
  })

  it('refuses payments that do not add up to the items', () => {
    expect(() => signCorrection(fresh(), KASSA, { ...correction, cash: 1 }, NOW)).toThrow(RangeError)
  })

  it('builds the ATOL v5 sell_correction body: key `correction`, correction_info self with base_date, the audit split', () => {
    const built = buildCorrectionRequest({ kassa: KASSA, machine: MACHINE, items: [WATER, BAR], cash: 12000, ecash: 17100, baseDate: '2026-11-27', externalId: 'correction/VM-001/7', now: NOW }, { client: { email: 'ops@example.ru' } })
    expect(built.ok).toBe(true)
    if (!built.ok) return
    const body = built.request as any
    expect(body.receipt).toBeUndefined()
    expect(body).toMatchObject({ external_id: 'correction/VM-001/7', timestamp: '28.11.2026 12:15:00' })
    expect(body.correction).toMatchObject({
      correction_info: { type: 'self', base_date: '27.11.2026' }, payments: [{ type: 0, sum: 120 }, { type: 1, sum: 171 }], total: 291, device_number: 'VM-001',
      company: { payment_address: MACHINE.place, location: MACHINE.address }, client: { email: 'ops@example.ru' },
    })
    expect(body.correction.correction_info.base_number).toBeUndefined()
    expect(body.correction.items.map((i: any) => i.measure)).toEqual([0, 0])
  })
})
