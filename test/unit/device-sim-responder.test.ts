import { describe, expect, it } from 'vitest'
import { DisplayMessageSchema, parseReceiptQr, type SaleEvent } from '../../protocol/index.js'
import { ECHO_FN, echoReceipt } from '../../device-sim/responder.js'

const sale: SaleEvent = {
  v: 1,
  saleId: '3f0c',
  at: '2026-11-28T12:21:05.123Z',
  kind: 'sale',
  items: [{ sku: 'A12', name: 'Вода 0,5 л', price: 12000, qty: 1, vat: 'vat22' }],
  payment: { method: 'card', amount: 12000 },
}

describe('echo responder receipts', () => {
  it('are valid display messages with a well-formed FNS QR string of a test drive', () => {
    const display = echoReceipt(sale, 1234)
    expect(DisplayMessageSchema.safeParse(display).success).toBe(true)
    if (display.type !== 'receipt') throw new Error('expected a receipt')
    expect(display.qr).toMatch(/^t=20261128T1521&s=120\.00&fn=9999000000000000&i=1234&fp=\d{1,10}&n=1$/)
    expect(parseReceiptQr(display.qr)).toMatchObject({ t: '20261128T1521', s: 12000, fn: ECHO_FN, i: 1234, n: 1 })
    expect(display.fiscal).toMatchObject({ fn: ECHO_FN, fd: 1234, total: 12000, kind: 'sale', at: '2026-11-28T15:21:05+03:00' })
    expect(display.url).toBe(`http://localhost:8080/r/${ECHO_FN}/1234?fp=${display.fiscal.fp}`)
  })

  it('answer a repeat with the identical message', () => {
    expect(echoReceipt(sale, 5)).toEqual(echoReceipt(sale, 5))
    expect(echoReceipt(sale, 5)).not.toEqual(echoReceipt(sale, 6))
  })

  it('mark a refund n=2', () => {
    const refund: SaleEvent = { ...sale, saleId: 'r1', kind: 'refund', refundOf: '3f0c' }
    const display = echoReceipt(refund, 9)
    expect(display.type === 'receipt' && parseReceiptQr(display.qr)?.n).toBe(2)
  })
})
