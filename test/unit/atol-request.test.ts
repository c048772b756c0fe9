import { describe, expect, it } from 'vitest'
import { atolExternalId, buildReceiptRequest, type ReceiptRequestInput } from '../../gateway/atol/receipt-request.js'
import { VAT_RATES, type SaleItem, type VatRate } from '../../protocol/index.js'

const kassa = { inn: '7707083893', sno: 'usn_income' as const, timeZone: 'Europe/Moscow' }
const machine = { number: '0042', address: 'г. Москва, ул. Тверская, 1', place: 'Вестибюль, 1 этаж' }
const water: SaleItem = { sku: 'A12', name: 'Вода 0,5 л', price: 12_000, qty: 1, vat: 'vat22' }
const snack: SaleItem = { sku: 'B07', name: 'Батончик «Мюсли»', price: 8_950, qty: 3, vat: 'vat22_122' }

function input(over: Partial<ReceiptRequestInput> = {}): ReceiptRequestInput {
  return {
    kassa, machine, items: [water, snack], paymentMethod: 'card', total: 12_000 + 3 * 8_950,
    externalId: 'VM-001/3f0c/1', now: new Date('2026-11-28T12:21:05.123Z'), ...over,
  }
}

function build(over: Partial<ReceiptRequestInput> = {}, options = {}) {
  const result = buildReceiptRequest(input(over), options)
  if (!result.ok) throw new Error(result.reason)
  return result.request
}

describe('ATOL sell request body', () => {
  it('carries the machine’s place, address and number, the seller, items, payment and total', () => {
    const body = build({}, { client: { email: 'receipts@vending.example' }, companyEmail: 'shop@vending.example' })
    expect(body).toEqual({
      external_id: 'VM-001/3f0c/1',
      timestamp: '28.11.2026 15:21:05',
      receipt: {
        client: { email: 'receipts@vending.example' },
        company: {
          email: 'shop@vending.example', sno: 'usn_income', inn: '7707083893',
          payment_address: 'Вестибюль, 1 этаж', location: 'г. Москва, ул. Тверская, 1',
        },
        items: [
          { name: 'Вода 0,5 л', price: 120, quantity: 1, sum: 120, measure: 0, payment_method: 'full_payment', payment_object: 1, vat: { type: 'vat22' } },
          { name: 'Батончик «Мюсли»', price: 89.5, quantity: 3, sum: 268.5, measure: 0, payment_method: 'full_payment', payment_object: 1, vat: { type: 'vat122' } },
        ],
        payments: [{ type: 1, sum: 388.5 }],
        total: 388.5,
        device_number: '0042',
      },
    })
    // On the wire the amounts are the exact decimals.
    expect(JSON.stringify(body.receipt.payments)).toBe('[{"type":1,"sum":388.5}]')
  })

  const expectedVat: Record<VatRate, string> = {
    vat22: 'vat22', vat22_122: 'vat122', vat10: 'vat10', vat10_110: 'vat110', vat0: 'vat0', none: 'none',
    vat5: 'vat5', vat7: 'vat7', vat5_105: 'vat105', vat7_107: 'vat107',
  }
  it.each(VAT_RATES.map((rate) => [rate, expectedVat[rate]]))('maps VAT %s to ATOL %s', (rate, atol) => {
    const body = build({ items: [{ ...water, vat: rate }], total: 12_000 })
    expect(body.receipt.items[0]?.vat).toEqual({ type: atol })
  })

  it.each([
    ['cash', 0],
    ['card', 1],
    ['sbp', 1],
  ] as const)('pays %s as ATOL payment type %i', (method, type) => {
    expect(build({ paymentMethod: method }).receipt.payments).toEqual([{ type, sum: 388.5 }])
  })

  it.each([
    ['Europe/Moscow', '2026-11-28T12:21:05Z', '28.11.2026 15:21:05'],
    ['Asia/Vladivostok', '2026-11-28T12:21:05Z', '28.11.2026 22:21:05'],
    ['Europe/Kaliningrad', '2026-11-28T12:21:05Z', '28.11.2026 14:21:05'],
    // The kassa's date can already be the next day, or the next year.
    ['Asia/Yekaterinburg', '2026-12-31T22:30:00Z', '01.01.2027 03:30:00'],
    // Midnight is 00, never 24.
    ['Europe/Moscow', '2026-11-28T21:00:00Z', '29.11.2026 00:00:00'],
  ])('writes timestamp as wall-clock time in the kassa’s zone (%s, %s)', (timeZone, at, expected) => {
    expect(build({ kassa: { ...kassa, timeZone }, now: new Date(at) }).timestamp).toBe(expected)
  })

  it('puts the machine number in device_number (tag 1036) and the contact when configured', () => {
    const body = build({ machine: { ...machine, number: 'VM-001' } }, { client: { phone: '+79990000000' } })
    expect(body.receipt.device_number).toBe('VM-001')
    expect(body.receipt.client).toEqual({ phone: '+79990000000' })
    expect(build().receipt).not.toHaveProperty('client')
    expect(build({}, { callbackUrl: 'https://gw.example/atol' }).service).toEqual({ callback_url: 'https://gw.example/atol' })
  })

  it('refuses a total that does not match the items', () => {
    expect(buildReceiptRequest(input({ total: 1 }))).toEqual({ ok: false, reason: expect.stringMatching(/does not equal/) })
  })

  it('refuses an item sum above ATOL’s 42 949 672.95 ₽ even when the price is within it', () => {
    const big: SaleItem = { ...water, price: 4_294_967_295, qty: 2 }
    const result = buildReceiptRequest(input({ items: [big], total: 2 * 4_294_967_295 }))
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(/exceeds ATOL's limit/) })
  })

  it('refuses fields ATOL would reject: a machine number over 20 characters, a malformed INN', () => {
    const longNumber = buildReceiptRequest(input({ machine: { ...machine, number: 'M'.repeat(21) } }))
    expect(longNumber).toEqual({ ok: false, reason: expect.stringMatching(/device_number/) })
    const badInn = buildReceiptRequest(input({ kassa: { ...kassa, inn: '12345' } }))
    expect(badInn).toEqual({ ok: false, reason: expect.stringMatching(/company\.inn/) })
  })
})

describe('ATOL external_id', () => {
  it('is machine/sale/attempt, so a resend reuses it and a new attempt does not', () => {
    expect(atolExternalId('VM-001', '3f0c-11', 1)).toBe('VM-001/3f0c-11/1')
    expect(atolExternalId('VM-001', '3f0c-11', 2)).toBe('VM-001/3f0c-11/2')
  })

  it('stays within 128 characters for the longest ids, deterministically', () => {
    const machineId = 'M'.repeat(64)
    const saleId = 'S'.repeat(64)
    const id = atolExternalId(machineId, saleId, 12)
    expect(id.length).toBeLessThanOrEqual(128)
    expect(id).toBe(atolExternalId(machineId, saleId, 12))
    expect(id).not.toBe(atolExternalId(machineId, `${'S'.repeat(63)}T`, 12))
    expect(id.endsWith('/12')).toBe(true)
    expect(() => atolExternalId('VM', 's', 0)).toThrow(RangeError)
  })
})
