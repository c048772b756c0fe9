import { describe, expect, it } from 'vitest'
import {
  decodeDocument, newFnState, receiptFields, signDocument, signSales, tlvField, verifyDocument, verifyNumbering,
  type ReceiptInput, type TlvField,
} from '../../gateway/fiscal/index.js'
import { BAR, FN, KASSA, MACHINE, SECRET, WATER, sale } from './fiscal-fixtures.js'

const NOW = new Date('2026-11-28T12:21:05Z')
const signed = signSales(
  newFnState({ fn: FN, model: 'fn-36', secret: SECRET, registeredAt: new Date('2026-01-15T00:00:00Z'), docLimit: 1000 }),
  KASSA,
  [sale([WATER, BAR]), sale([WATER], { paymentMethod: 'cash' })],
  NOW,
).documents

const INPUT: ReceiptInput = {
  kassa: KASSA, fn: FN, fd: 7, signedAt: NOW, shift: 1, receiptInShift: 1, operation: 1,
  machine: MACHINE, items: [WATER], paymentMethod: 'card', total: 12000,
}

/** A receipt signed correctly over fields changed after building: the sign holds, the sums do not. */
function signedWith(change: (fields: TlvField[]) => TlvField[]): Uint8Array {
  return signDocument(3, change(receiptFields(INPUT)), SECRET).tlv
}

describe('verify', () => {
  it('passes every signed document, shift reports included', () => {
    expect(signed.map((d) => d.type)).toEqual([2, 3, 3])
    for (const d of signed) {
      const result = verifyDocument(d.tlv, SECRET)
      expect(result).toMatchObject({ ok: true, doc: { fd: d.fd, fp: d.fp, type: d.type } })
    }
  })

  it('fails with the wrong secret', () => {
    const result = verifyDocument(signed[1]!.tlv, new TextEncoder().encode('another FN'))
    expect(result).toEqual({ ok: false, reason: 'FD 2: fiscal sign 1077 does not match the document' })
  })

  it('fails after any single byte of a receipt is flipped', () => {
    const tlv = signed[1]!.tlv
    for (let i = 0; i < tlv.length; i++) {
      const bad = tlv.slice()
      bad[i] = (bad[i] ?? 0) ^ 0x01
      const result = verifyDocument(bad, SECRET)
      expect(result.ok, `byte ${i}`).toBe(false)
      if (!result.ok) expect(result.reason).toMatch(/fiscal sign|malformed/)
    }
  })

  it('names the fiscal sign when a value byte changes and the structure when a length does', () => {
    const tlv = signed[1]!.tlv
    const total = tlv.slice()
    // The first 1020 field: tag fc 03, length, then the VLN bytes.
    const at = Buffer.from(total).indexOf(Buffer.from([0xfc, 0x03]))
    total[at + 4] = (total[at + 4] ?? 0) ^ 0xff
    expect(verifyDocument(total, SECRET)).toEqual({ ok: false, reason: 'FD 2: fiscal sign 1077 does not match the document' })
    const length = tlv.slice()
    length[2] = (length[2] ?? 0) ^ 0x01
    expect(verifyDocument(length, SECRET)).toMatchObject({ ok: false, reason: expect.stringMatching(/^malformed document: /) })
  })

  it('fails a signed receipt whose items do not add up to 1020', () => {
    const tlv = signedWith((fields) => fields.map((f) => (f.tag === 1020 ? tlvField(1020, 12001) : f)))
    expect(verifyDocument(tlv, SECRET)).toEqual({ ok: false, reason: 'FD 7: items add up to 12000, but 1020 is 12001' })
  })

  it('fails a signed receipt whose payments do not add up to 1020', () => {
    const tlv = signedWith((fields) => [...fields, tlvField(1031, 5)])
    expect(verifyDocument(tlv, SECRET)).toEqual({ ok: false, reason: 'FD 7: 1031 + 1081 = 12005, but 1020 is 12000' })
  })

  it('fails a signed receipt whose item VAT is not the rounded share', () => {
    const tlv = signedWith((fields) =>
      fields.map((f) =>
        f.tag === 1059 ? tlvField(1059, (f.value as TlvField[]).map((g) => (g.tag === 1200 ? tlvField(1200, 2163) : g))) : f,
      ),
    )
    expect(verifyDocument(tlv, SECRET)).toEqual({ ok: false, reason: 'FD 7: item 1: VAT 1200 is wrong' })
  })

  it('fails a document without its fiscal sign', () => {
    const fields = receiptFields(INPUT)
    const tlv = signDocument(3, fields, SECRET).tlv
    const unsigned = tlv.slice(0, tlv.length - 10)
    unsigned[2] = (unsigned.length - 4) & 0xff
    unsigned[3] = (unsigned.length - 4) >> 8
    expect(verifyDocument(unsigned, SECRET)).toEqual({ ok: false, reason: 'malformed document: required tag 1077 is missing' })
  })

  it('reads a shift open report as a document without receipt fields', () => {
    const doc = decodeDocument(signed[0]!.tlv)
    expect(doc).toMatchObject({ type: 2, fd: 1, shift: 1, receiptInShift: null, operation: null, total: null, items: [] })
  })
})

describe('verifyNumbering', () => {
  it('accepts 1..N in any order', () => {
    expect(verifyNumbering([3, 1, 2])).toEqual({ ok: true, gaps: [], repeats: [], invalid: [] })
    expect(verifyNumbering([])).toMatchObject({ ok: true })
  })

  it('finds a gap and a repeat', () => {
    expect(verifyNumbering([1, 2, 4, 4, 5, 9])).toEqual({
      ok: false,
      gaps: [{ from: 3, to: 3 }, { from: 6, to: 8 }],
      repeats: [4],
      invalid: [],
    })
  })

  it('finds a missing first document and numbers that are no FD', () => {
    expect(verifyNumbering([2, 3, 0, 1.5])).toEqual({ ok: false, gaps: [{ from: 1, to: 1 }], repeats: [], invalid: [0, 1.5] })
  })
})
