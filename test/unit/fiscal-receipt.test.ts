import { describe, expect, it } from 'vitest'
import {
  buildReceipt, decodeDocument, decodeTlv, encodeTlv, fiscalLocalTime, verifyDocument, type ReceiptInput,
} from '../../gateway/fiscal/index.js'
import { BAR, FN, KASSA, MACHINE, SECRET, WATER, hex } from './fiscal-fixtures.js'

const GOLDEN_INPUT: ReceiptInput = {
  kassa: KASSA,
  fn: FN,
  fd: 1234,
  signedAt: new Date('2026-11-28T12:21:05.123Z'), // 15:21:05 in Moscow
  shift: 5,
  receiptInShift: 17,
  operation: 1,
  machine: MACHINE,
  items: [WATER, BAR],
  paymentMethod: 'card',
  total: 12000 + 2 * 8550,
}

// Computed once from GOLDEN_INPUT, then checked field by field below by a byte walker that
// shares no code with the encoder.
const GOLDEN_HEX =
  '03005401b90401000410040400d20400001104100039393939303738393030303031323334f403040061f10a6b0d041400303030' +
  '3030303030303130313233343520202020fa030c0037373037303833383933202018040d008e8e8e202282a5ada4a8ada3221f04' +
  '0100021e040100010e0404000500000012040400110000000c040600564d2d303031f1031a00a32e208caee1aaa2a02c20e3ab2e' +
  '2092a2a5e0e1aaa0ef2c2031a304110082a5e1e2a8a1eeabec2c203120ede2a0a6fc030200ac7139040200ac7123044500060415' +
  '0082aea4a0202297a8e1e2a0ef22202d20302c3520ab37040200e02eff030200000113040200e02eaf0401000bb00402007408bc' +
  '04010001be040100043c08010000230438000604080081a0e2aeade7a8aa370402006621ff030200000213040200cc42af040100' +
  '0cb00402000c0cbc04010001be040100043c08010000350406000000d6582804'
const GOLDEN_FP = '3596101636'

/** Top-level fields of the document's STLV, read straight from the bytes. */
function rawFields(tlv: Uint8Array): Map<number, Uint8Array[]> {
  const view = new DataView(tlv.buffer, tlv.byteOffset, tlv.byteLength)
  const out = new Map<number, Uint8Array[]>()
  for (let at = 4; at < tlv.length; ) {
    const tag = view.getUint16(at, true)
    const len = view.getUint16(at + 2, true)
    out.set(tag, [...(out.get(tag) ?? []), tlv.subarray(at + 4, at + 4 + len)])
    at += 4 + len
  }
  return out
}

describe('receipt document', () => {
  it('encodes a fixed receipt to fixed bytes and signs it to a fixed fp', () => {
    const { tlv, fp, sign } = buildReceipt(GOLDEN_INPUT, SECRET)
    expect(hex(tlv)).toBe(GOLDEN_HEX)
    expect(fp).toBe(GOLDEN_FP)
    // The fiscal sign is larger than an int32 can hold: it must stay a string.
    expect(Number(fp)).toBeGreaterThan(2 ** 31)
    expect(Number(fp) | 0).not.toBe(Number(fp))
    expect(hex(sign)).toBe('0000d6582804')
  })

  it('holds the fields an inspector reads, byte for byte', () => {
    const tlv = buildReceipt(GOLDEN_INPUT, SECRET).tlv
    expect(tlv[0]).toBe(3) // outer STLV tag 3 = кассовый чек
    expect(tlv[1]).toBe(0)
    const fields = rawFields(tlv)
    expect(Buffer.from(fields.get(1036)?.[0] ?? []).toString('ascii')).toBe('VM-001')
    // 29100 kopecks = 0x71AC, VLN little-endian with no leading zero byte.
    expect(hex(fields.get(1020)?.[0] ?? new Uint8Array())).toBe('ac71')
    expect(hex(fields.get(1081)?.[0] ?? new Uint8Array())).toBe('ac71')
    expect(fields.has(1031)).toBe(false)
    const sign = fields.get(1077)?.[0] ?? new Uint8Array()
    expect(sign.length).toBe(6)
    expect(new DataView(sign.buffer, sign.byteOffset).getUint32(2, false).toString()).toBe(GOLDEN_FP)
    // 1012: 15:21:05 Moscow wall clock written as if UTC.
    const t = fields.get(1012)?.[0] ?? new Uint8Array(4)
    expect(new DataView(t.buffer, t.byteOffset).getUint32(0, true)).toBe(Date.UTC(2026, 10, 28, 15, 21, 5) / 1000)
    expect(fields.get(1059)?.length).toBe(2)
    expect(Buffer.from(fields.get(1037)?.[0] ?? []).toString('ascii')).toBe('0000000001012345    ')
    expect(Buffer.from(fields.get(1018)?.[0] ?? []).toString('ascii')).toBe('7707083893  ')
    // 1077 is the last field: the sign covers everything before it.
    expect(hex(tlv.subarray(tlv.length - 10, tlv.length - 6))).toBe('35040600')
  })

  it('decodes back to what it was built from', () => {
    const tlv = buildReceipt(GOLDEN_INPUT, SECRET).tlv
    expect(hex(encodeTlv(decodeTlv(tlv)))).toBe(GOLDEN_HEX)
    const doc = decodeDocument(tlv)
    expect(doc).toMatchObject({
      type: 3, ffdVersion: 4, fd: 1234, fn: FN, shift: 5, receiptInShift: 17, operation: 1, sno: 2,
      machineNumber: 'VM-001', address: MACHINE.address, place: MACHINE.place,
      total: 29100, cash: null, ecash: 29100, fp: GOLDEN_FP, userName: 'ООО "Вендинг"',
      signedAtLocal: fiscalLocalTime(GOLDEN_INPUT.signedAt, 'Europe/Moscow').unixLocal,
      vatTotals: {}, // 22% has no confirmed receipt-level tag: VAT stays per item
    })
    expect(doc.items).toEqual([
      { name: 'Вода "Чистая" - 0,5 л', price: 12000, quantity: { mantissa: 1, scale: 0 }, sum: 12000, vatCode: 11, vatSum: 2164, subject: 1, paymentMethod: 4, measure: 0 },
      { name: 'Батончик', price: 8550, quantity: { mantissa: 2, scale: 0 }, sum: 17100, vatCode: 12, vatSum: 3084, subject: 1, paymentMethod: 4, measure: 0 },
    ])
    expect(verifyDocument(tlv, SECRET).ok).toBe(true)
  })

  it('puts a cash payment in 1031 and a refund in 1054 = 2', () => {
    const doc = decodeDocument(buildReceipt({ ...GOLDEN_INPUT, paymentMethod: 'cash', operation: 2 }, SECRET).tlv)
    expect(doc).toMatchObject({ operation: 2, cash: 29100, ecash: null })
  })

  it('writes receipt-level VAT tags only for rates that have one', () => {
    const items = [
      { sku: 'a', name: 'a', price: 11000, qty: 1, vat: 'vat10' as const },
      { sku: 'b', name: 'b', price: 5500, qty: 2, vat: 'vat10_110' as const },
      { sku: 'c', name: 'c', price: 300, qty: 1, vat: 'none' as const },
      { sku: 'd', name: 'd', price: 400, qty: 1, vat: 'vat0' as const },
      { sku: 'e', name: 'e', price: 10500, qty: 1, vat: 'vat5' as const },
    ]
    const doc = decodeDocument(buildReceipt({ ...GOLDEN_INPUT, items, total: 33200 }, SECRET).tlv)
    expect(doc.vatTotals).toEqual({ 1103: 1000, 1104: 400, 1105: 300, 1107: 1000 })
    expect(doc.items.map((i) => [i.vatCode, i.vatSum])).toEqual([[2, 1000], [4, 1000], [6, 0], [5, 0], [7, 500]])
  })

  it('refuses a total that is not the items’ total', () => {
    expect(() => buildReceipt({ ...GOLDEN_INPUT, total: 1 }, SECRET)).toThrow(/does not equal/)
  })

  it('cuts an over-long name to its tag limit with a visible "..." and refuses a long machine number', () => {
    const name = '…'.repeat(60) // 60 characters, 180 CP866 bytes
    const doc = decodeDocument(buildReceipt({ ...GOLDEN_INPUT, items: [{ ...WATER, name }], total: 12000 }, SECRET).tlv)
    expect(doc.items[0]?.name).toHaveLength(128)
    expect(doc.items[0]?.name.endsWith('...')).toBe(true)
    const machine = { ...MACHINE, number: 'M'.repeat(21) }
    expect(() => buildReceipt({ ...GOLDEN_INPUT, machine }, SECRET)).toThrow(/tag 1036/)
  })
})
