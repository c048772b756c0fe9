import { describe, expect, it } from 'vitest'
import { atolConfigFromArgs } from '../../gateway/fleet/atol-kassa.js'
import { parseFleetArgs, UsageError, type FleetArgs } from '../../gateway/fleet/fleet.args.js'

const common = ['--id', 'KA', '--name', 'ООО Вендинг', '--inn', '7707083893', '--sno', 'usn_income', '--tz', 'Europe/Moscow']
const atol = ['add-kassa', ...common, '--provider', 'atol-v5', '--base-url', 'https://online.atol.ru/possystem/v5/', '--login', 'vend', '--group', 'g1']

describe('add-kassa --provider atol-v5', () => {
  it('takes where the password is, never the password, and stores a config the gateway can read', () => {
    const { args } = parseFleetArgs([...atol, '--password-env', 'ATOL_PASSWORD', '--client-email', 'receipts@vending.example'])
    expect(args).toMatchObject({ provider: 'atol-v5', login: 'vend', group: 'g1', 'password-env': 'ATOL_PASSWORD' })
    expect(atolConfigFromArgs(args as FleetArgs<'add-kassa'>)).toEqual({
      kind: 'atol-v5', baseUrl: 'https://online.atol.ru/possystem/v5/', login: 'vend', group: 'g1',
      passwordEnv: 'ATOL_PASSWORD', clientEmail: 'receipts@vending.example', timeoutMs: 10_000,
    })
    expect(parseFleetArgs([...atol, '--password-file', '/run/secrets/atol']).args).toMatchObject({ 'password-file': '/run/secrets/atol' })
  })

  it.each([
    [atol, /--password-env: give exactly one of --password-env and --password-file/],
    [[...atol, '--password-env', 'A', '--password-file', '/x'], /give exactly one/],
    [[...atol, '--password-env', 'ATOL_PASSWORD', '--fn', '9999078900001234'], /--fn: a cloud kassa has no emulated FN/],
    [[...atol.filter((a) => a !== '--group' && a !== 'g1'), '--password-env', 'P'], /--group: required for --provider atol-v5/],
    [[...atol, '--password-env', 'lower-case'], /--password-env: must be an environment variable name/],
    [['add-kassa', ...common, '--reg', '0000000001012345'], /--fn: required for an emulated kassa/],
    [['add-kassa', ...common, '--reg', '0000000001012345', '--fn', '9999078900001234', '--login', 'x'], /--login: only for --provider atol-v5/],
    [['add-kassa', ...common, '--provider', 'orangedata'], /--provider/],
  ])('says what is wrong with %j', (argv, message) => {
    expect(() => parseFleetArgs(argv)).toThrow(UsageError)
    expect(() => parseFleetArgs(argv)).toThrow(message)
  })
})
