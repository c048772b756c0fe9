import { describe, expect, it } from 'vitest'
import { parseAtolDateTime } from '../../gateway/atol/atol-time.js'
import type { AtolReportPayload } from '../../gateway/atol/atol.types.js'
import { receiptFromReport } from '../../gateway/atol/receipt-result.js'
import { isRetryableFail, isRetryableStatus } from '../../gateway/atol/retry-policy.js'
import { parseReceiptQr } from '../../protocol/qr.js'

// The shape of ATOL's report fixture (docs/fiscal.md §4.1), with a fiscal sign above 2^31.
const payload: AtolReportPayload = {
  total: 1598,
  fns_site: 'www.nalog.gov.ru',
  fn_number: '1110000100238211',
  shift_number: 23,
  receipt_datetime: '12.04.2027 20:16:00',
  fiscal_receipt_number: 6,
  fiscal_document_number: 133,
  ecr_registration_number: '0000111118041361',
  fiscal_document_attribute: 3_449_555_941,
  ofd_inn: '7704211201',
}

describe('ATOL done payload → receipt fields', () => {
  it('maps fn, fd, fp (as a string above int32), shift, receipt number, total and the FNS QR', () => {
    const result = receiptFromReport(payload, { operation: 'sell', timeZone: 'Europe/Moscow', expectedTotal: 159_800 })
    expect(result).toEqual({
      ok: true,
      receipt: {
        fn: '1110000100238211', fd: 133, fp: '3449555941', shift: 23, receiptInShift: 6,
        signedAt: new Date('2027-04-12T17:16:00Z'), total: 159_800, regNumber: '0000111118041361',
        qr: 't=20270412T2016&s=1598.00&fn=1110000100238211&i=133&fp=3449555941&n=1',
      },
    })
    if (result.ok) expect(parseReceiptQr(result.receipt.qr)).not.toBeNull()
  })

  it('marks a refund n=2 and keeps the OFD link when the OFD gives one', () => {
    const result = receiptFromReport(
      { ...payload, ofd_receipt_url: 'https://ofd.example/r/1' },
      { operation: 'sell_refund', timeZone: 'Europe/Moscow' },
    )
    expect(result.ok && result.receipt.qr.endsWith('&n=2')).toBe(true)
    expect(result.ok && result.receipt.ofdReceiptUrl).toBe('https://ofd.example/r/1')
  })

  it('reads receipt_datetime in the kassa’s zone, not the gateway’s', () => {
    const vladivostok = receiptFromReport(payload, { operation: 'sell', timeZone: 'Asia/Vladivostok' })
    expect(vladivostok.ok && vladivostok.receipt.signedAt).toEqual(new Date('2027-04-12T10:16:00Z'))
    // The QR keeps the kassa's wall clock whatever the zone.
    expect(vladivostok.ok && vladivostok.receipt.qr.startsWith('t=20270412T2016&')).toBe(true)
  })

  it('accepts the fiscal sign as a digit string and drops leading zeros', () => {
    const result = receiptFromReport({ ...payload, fiscal_document_attribute: '0000123' }, { operation: 'sell', timeZone: 'UTC' })
    expect(result.ok && result.receipt.fp).toBe('123')
  })

  it.each([
    ['a total that differs from the sale', { total: 15.99 }, /differs/],
    ['a total with more than 2 decimals', { total: 15.981 }, /at most 2 decimals/],
    ['an fn that is not 16 digits', { fn_number: '123' }, /16 digits/],
    ['a malformed receipt_datetime', { receipt_datetime: '2027-04-12 20:16' }, /receipt_datetime/],
    ['an impossible date', { receipt_datetime: '31.02.2027 20:16:00' }, /receipt_datetime/],
    ['a fiscal sign above 4294967295', { fiscal_document_attribute: '4294967296' }, /exceeds/],
  ])('refuses %s', (_name, change, reason) => {
    const result = receiptFromReport({ ...payload, ...change }, { operation: 'sell', timeZone: 'Europe/Moscow', expectedTotal: 159_800 })
    expect(result).toEqual({ ok: false, reason: expect.stringMatching(reason) })
  })
})

describe('ATOL wall-clock time', () => {
  it('converts both ways across zones and the date line', () => {
    expect(parseAtolDateTime('01.01.2027 03:30:00', 'Asia/Yekaterinburg')).toEqual(new Date('2026-12-31T22:30:00Z'))
    expect(parseAtolDateTime('29.11.2026 00:00:00', 'Europe/Moscow')).toEqual(new Date('2026-11-28T21:00:00Z'))
    // A DST zone: summer and winter offsets both resolve.
    expect(parseAtolDateTime('01.07.2026 12:00:00', 'Europe/Berlin')).toEqual(new Date('2026-07-01T10:00:00Z'))
    expect(parseAtolDateTime('01.12.2026 12:00:00', 'Europe/Berlin')).toEqual(new Date('2026-12-01T11:00:00Z'))
    expect(parseAtolDateTime('24.12.2026 24:00:00', 'UTC')).toBeNull()
  })
})

describe('ATOL retry classification', () => {
  it.each([
    [500, true], [502, true], [503, true], [429, true], [408, true],
    [400, false], [401, false], [403, false], [404, false], [409, false],
  ])('HTTP %i → retryable %s', (status, retryable) => {
    expect(isRetryableStatus(status)).toBe(retryable)
  })

  it.each([
    ['timeout', 1, true],
    ['system', 2, true],
    ['driver', 3, false],
    ['agent', 4, false],
    ['', 5, false],
  ])('report fail of type %s → retryable %s', (type, code, retryable) => {
    expect(isRetryableFail({ type, code })).toBe(retryable)
  })

  it('retries a driver error only when its code is declared transient', () => {
    expect(isRetryableFail({ type: 'driver', code: 244 }, [244])).toBe(true)
    expect(isRetryableFail({ type: 'driver', code: 245 }, [244])).toBe(false)
  })
})
