import { describe, expect, it } from 'vitest'
import { fiscalLocalTime } from '../../gateway/fiscal/index.js'

const AT = new Date('2026-11-28T12:21:05.987Z')

describe('fiscal local time', () => {
  it('gives the Moscow wall clock with its +03:00 offset', () => {
    expect(fiscalLocalTime(AT, 'Europe/Moscow')).toEqual({
      iso: '2026-11-28T15:21:05+03:00',
      qrT: '20261128T1521',
      unixLocal: Date.UTC(2026, 10, 28, 15, 21, 5) / 1000,
    })
  })

  it('gives Yekaterinburg two hours ahead of Moscow for the same instant', () => {
    const ekb = fiscalLocalTime(AT, 'Asia/Yekaterinburg')
    expect(ekb.iso).toBe('2026-11-28T17:21:05+05:00')
    expect(ekb.qrT).toBe('20261128T1721')
    expect(ekb.unixLocal - fiscalLocalTime(AT, 'Europe/Moscow').unixLocal).toBe(2 * 3600)
  })

  it('follows daylight saving time on both sides of the switch', () => {
    expect(fiscalLocalTime(new Date('2026-03-29T00:30:00Z'), 'Europe/Berlin').iso).toBe('2026-03-29T01:30:00+01:00')
    expect(fiscalLocalTime(new Date('2026-03-29T01:30:00Z'), 'Europe/Berlin').iso).toBe('2026-03-29T03:30:00+02:00')
    expect(fiscalLocalTime(new Date('2026-07-01T12:00:00Z'), 'America/New_York').iso).toBe('2026-07-01T08:00:00-04:00')
    expect(fiscalLocalTime(new Date('2026-01-01T12:00:00Z'), 'America/New_York').iso).toBe('2026-01-01T07:00:00-05:00')
  })

  it('writes midnight as 00 and crosses the date line in local time', () => {
    const t = fiscalLocalTime(new Date('2026-12-31T21:00:00Z'), 'Europe/Moscow')
    expect(t.iso).toBe('2027-01-01T00:00:00+03:00')
    expect(t.qrT).toBe('20270101T0000')
  })

  it('handles offsets that are not whole hours', () => {
    expect(fiscalLocalTime(new Date('2026-07-01T12:00:00Z'), 'Asia/Kolkata').iso).toBe('2026-07-01T17:30:00+05:30')
  })

  it('refuses an unknown time zone', () => {
    expect(() => fiscalLocalTime(AT, 'Mars/Olympus')).toThrow(RangeError)
  })
})
