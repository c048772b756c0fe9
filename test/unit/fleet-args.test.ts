import { describe, expect, it } from 'vitest'
import { isValidInn, parseFleetArgs, UsageError } from '../../gateway/fleet/fleet.args.js'

const kassa = ['add-kassa', '--id', 'K1', '--name', 'ООО Вендинг', '--inn', '7707083893', '--reg', '0000000001012345', '--fn', '9999078900001234', '--sno', 'usn_income', '--tz', 'Europe/Moscow']

describe('fleet command arguments', () => {
  it('parses the contract example of add-kassa', () => {
    expect(parseFleetArgs(kassa)).toMatchObject({ command: 'add-kassa', args: { id: 'K1', inn: '7707083893', sno: 'usn_income', tz: 'Europe/Moscow', 'fn-model': 'fn-36' } })
  })

  it.each([
    [['add-kassa', ...kassa.slice(1).map((a) => (a === '7707083893' ? '7707083894' : a))], /--inn: must be a valid INN/],
    [['add-kassa', ...kassa.slice(1).map((a) => (a === 'Europe/Moscow' ? 'Mars/Olympus' : a))], /--tz: must be an IANA time zone/],
    [['add-kassa', ...kassa.slice(1).map((a) => (a === '9999078900001234' ? '7380440700076549' : a))], /--fn: must be 16 digits starting with 9999/],
    [['add-machine', '--id', 'bad id', '--kassa', 'K1', '--address', 'a', '--place', 'p'], /--id: must be 1–64/],
    [['add-machine', '--id', 'gateway-1', '--kassa', 'K1', '--address', 'a', '--place', 'p'], /reserved for the gateway/],
    [['add-machine', '--id', 'VM-1', '--kassa', 'K1', '--address', 'a', '--place', 'p', '--colour', 'red'], /Unknown option '--colour'/],
    [['rotate-secret', '--id'], /Option '--id <value>' argument missing/],
    [['launch-rocket'], /unknown command launch-rocket/],
  ])('says what is wrong with %j', (argv, message) => {
    expect(() => parseFleetArgs(argv)).toThrow(UsageError)
    expect(() => parseFleetArgs(argv)).toThrow(message)
  })

  it('checks INN check digits for organisations and sole proprietors', () => {
    expect(isValidInn('7707083893')).toBe(true)
    expect(isValidInn('500100732259')).toBe(true)
    expect(isValidInn('500100732258')).toBe(false)
    expect(isValidInn('12345')).toBe(false)
  })
})
