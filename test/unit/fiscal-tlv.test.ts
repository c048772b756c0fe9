import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  TAX_SYSTEMS, TlvError, buildReceipt, decodeDocument, decodeTlv, encodeTlv, fiscalLocalTime, tlvField,
  toCp866Text, verifyDocument, VLN_MAX, type ReceiptInput,
} from '../../gateway/fiscal/index.js'
import { MAX_KOPECKS, PAYMENT_METHODS, VAT_RATES } from '../../protocol/index.js'
import { hex } from './fiscal-fixtures.js'

const enc = (tag: number, value: Parameters<typeof tlvField>[1]): string => hex(encodeTlv([tlvField(tag, value)]))

describe('TLV codec', () => {
  it('writes tag and length as little-endian uint16', () => {
    expect(enc(1054, 1)).toBe('1e04' + '0100' + '01')
  })

  it('writes VLN money without leading zero bytes, zero as one byte, at most 6 bytes', () => {
    expect(enc(1020, 29100)).toBe('fc030200ac71')
    expect(enc(1020, 0)).toBe('fc03010000')
    expect(enc(1020, VLN_MAX)).toBe('fc030600ffffffffffff')
    expect(() => enc(1020, VLN_MAX + 1)).toThrow(TlvError)
    expect(() => enc(1020, -1)).toThrow(TlvError)
    expect(() => enc(1020, 1.5)).toThrow(TlvError)
  })

  it('writes uint32 and unixtime as exactly 4 bytes', () => {
    expect(enc(1040, 1)).toBe('1004040001000000')
    expect(enc(1012, 0xdeadbeef)).toBe('f4030400efbeadde')
    expect(() => enc(1040, 2 ** 32)).toThrow(TlvError)
  })

  it('writes FVLN quantity as digits-after-point then the LE mantissa', () => {
    expect(enc(1023, { mantissa: 2, scale: 0 })).toBe('ff030200' + '0002')
    expect(enc(1023, { mantissa: 1500, scale: 3 })).toBe('ff030300' + '03dc05')
    expect(decodeTlv(encodeTlv([tlvField(1023, { mantissa: 1500, scale: 3 })]))).toEqual([
      { tag: 1023, value: { mantissa: 1500, scale: 3 } },
    ])
  })

  it('pads 1018 and 1037 with spaces and requires exactly 16 digits in 1041', () => {
    expect(enc(1018, '7707083893')).toBe('fa030c00' + '37373037303833383933' + '2020')
    expect(decodeTlv(encodeTlv([tlvField(1037, '12')]))).toEqual([{ tag: 1037, value: '12' }])
    expect(() => enc(1041, '999907890000123')).toThrow(/16 digits/)
    expect(() => enc(1041, '999907890000123X')).toThrow(/16 digits/)
    expect(() => enc(1018, '1234567890123')).toThrow(/at most 12/)
  })

  it('refuses an unknown tag, a value of the wrong type and a truncated input', () => {
    expect(() => enc(9999, 1)).toThrow(/not in the FFD tag table/)
    expect(() => enc(1036, 5)).toThrow(TlvError)
    expect(() => decodeTlv(Uint8Array.from([0x1e, 0x04, 0x01]))).toThrow(/truncated/)
    expect(() => decodeTlv(Uint8Array.from([0x1e, 0x04, 0x02, 0x00, 0x01]))).toThrow(/past the end/)
    expect(() => decodeTlv(Uint8Array.from([0x1e, 0x04, 0x02, 0x00, 0x01, 0x00]))).toThrow(TlvError)
  })

  it('nests STLV items inside the document', () => {
    const bytes = encodeTlv([tlvField(3, [tlvField(1059, [tlvField(1079, 1)])])])
    expect(hex(bytes)).toBe('03000900' + '23040500' + '370401' + '0001')
  })

  it('encodes a document longer than its first buffer, and each document into bytes of its own', () => {
    // 40 items of 1030 (128 bytes of name each): about 5.5 KB, past the encoder's first 1 KB.
    const names = Array.from({ length: 40 }, (_, i) => `${String(i).padStart(2, '0')} ${'Ж'.repeat(125)}`)
    const fields = [tlvField(3, names.map((name) => tlvField(1059, [tlvField(1030, name), tlvField(1079, 100 + names.indexOf(name))])))]
    const big = encodeTlv(fields)
    expect(big.length).toBe(4 + 40 * (4 + (4 + 128) + (4 + 1)))
    expect(decodeTlv(big)).toEqual(fields)
    const small = encodeTlv([tlvField(1054, 1)])
    expect(hex(small)).toBe('1e04' + '0100' + '01')
    expect(decodeTlv(big)).toEqual(fields) // the next document did not write over it
    small[4] = 2
    expect(hex(encodeTlv([tlvField(1054, 1)]))).toBe('1e04' + '0100' + '01')
  })

  it('encodes correctly after a value that did not fit its tag', () => {
    expect(() => encodeTlv([tlvField(1020, 5), tlvField(1036, 5)])).toThrow(TlvError) // 1020 written, 1036 refused
    expect(hex(encodeTlv([tlvField(1054, 1)]))).toBe('1e04' + '0100' + '01')
  })
})

// Text CP866 holds as it is, so it must decode to itself; plus anything Unicode, which must decode
// to its CP866 replacement.
const CP866_SAFE = [...'абвгдеёжзийклмнопрстуфхцчшщъыьэюяАБВГДЕЁЖЗИЙКЛМНОПРСТУФХЦЧШЩЪЫЬЭЮЯ №,.-"()0123456789AZaz']
const safeText = (min: number, max: number) =>
  fc.array(fc.constantFrom(...CP866_SAFE), { minLength: min, maxLength: max }).map((cs) => cs.join(''))
const anyText = (max: number) => fc.oneof(safeText(1, max), fc.string({ unit: 'binary', minLength: 1, maxLength: max }))
const digits = (n: number) => fc.array(fc.integer({ min: 0, max: 9 }), { minLength: n, maxLength: n }).map((d) => d.join(''))

const receiptInput: fc.Arbitrary<ReceiptInput> = fc
  .record({
    kassa: fc.record({
      id: fc.constant('K'),
      name: anyText(80),
      inn: fc.oneof(digits(10), digits(12)),
      regNumber: digits(16),
      sno: fc.constantFrom(...TAX_SYSTEMS),
      timeZone: fc.constantFrom('Europe/Moscow', 'Asia/Yekaterinburg', 'Europe/Kaliningrad', 'Asia/Kamchatka'),
    }),
    fn: digits(12).map((d) => `9999${d}`),
    fd: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    signedAt: fc.date({ min: new Date('2020-01-01T00:00:00Z'), max: new Date('2040-01-01T00:00:00Z'), noInvalidDate: true }),
    shift: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    receiptInShift: fc.integer({ min: 1, max: 2 ** 32 - 1 }),
    operation: fc.constantFrom(1 as const, 2 as const),
    machine: fc.record({ number: safeText(1, 20), address: anyText(200), place: anyText(200) }),
    items: fc.array(
      fc.record({
        sku: fc.constant('x'),
        name: anyText(128),
        price: fc.integer({ min: 1, max: MAX_KOPECKS }),
        // The schema allows 99 999; 1 000 keeps price × qty inside a 6-byte VLN (see report).
        qty: fc.integer({ min: 1, max: 1000 }),
        vat: fc.constantFrom(...VAT_RATES),
      }),
      { minLength: 1, maxLength: 50 },
    ),
    paymentMethod: fc.constantFrom(...PAYMENT_METHODS),
  })
  .map((r) => ({ ...r, total: r.items.reduce((n, i) => n + i.price * i.qty, 0) }))

const fit = (text: string, max: number): string => {
  const t = toCp866Text(text)
  return t.length <= max ? t : `${t.slice(0, max - 3)}...`
}

describe('receipt round trip', () => {
  it('decodes every valid receipt back to its fields and re-encodes to the same bytes', () => {
    const secret = new TextEncoder().encode('round-trip')
    fc.assert(
      fc.property(receiptInput, (input) => {
        const { tlv, fp } = buildReceipt(input, secret)
        expect(encodeTlv(decodeTlv(tlv))).toEqual(tlv)
        expect(buildReceipt(input, secret).tlv).toEqual(tlv) // canonical: same input, same bytes
        const doc = decodeDocument(tlv)
        expect(doc).toMatchObject({
          type: 3, fd: input.fd, fn: input.fn, shift: input.shift, receiptInShift: input.receiptInShift,
          operation: input.operation, total: input.total, fp, inn: input.kassa.inn, regNumber: input.kassa.regNumber,
          signedAtLocal: fiscalLocalTime(input.signedAt, input.kassa.timeZone).unixLocal,
          machineNumber: input.machine.number,
          address: fit(input.machine.address, 256), place: fit(input.machine.place, 256), userName: fit(input.kassa.name, 256),
        })
        expect(doc.items.map((i) => [i.name, i.price, i.quantity.mantissa, i.sum])).toEqual(
          input.items.map((i) => [fit(i.name, 128), i.price, i.qty, i.price * i.qty]),
        )
        expect(input.paymentMethod === 'cash' ? doc.cash : doc.ecash).toBe(input.total)
        expect(verifyDocument(tlv, secret)).toMatchObject({ ok: true })
      }),
      { seed: 42, numRuns: 200 },
    )
  })
})
