import { describe, expect, it } from 'vitest'
import { parseCsv } from '../../gateway/fleet/csv.js'
import { commandOptions, FLEET_COMMANDS, parseCommandLine } from '../../gateway/fleet/fleet.args.js'
import { COMMAND_HELP, commandHelp, toolHelp } from '../../gateway/fleet/fleet.help.js'
import { formatHuman } from '../../gateway/fleet/fleet.output.js'

describe('fleet --help', () => {
  it('names every command in the tool help', () => {
    for (const command of FLEET_COMMANDS) expect(toolHelp()).toMatch(new RegExp(`^  ${command} `, 'm'))
  })

  it('documents every option of every command', () => {
    expect(Object.keys(COMMAND_HELP).sort()).toEqual([...FLEET_COMMANDS].sort())
    for (const command of FLEET_COMMANDS) {
      const documented = commandHelp(command).match(/^ {2}--[a-z-]+/gm)?.map((s) => s.trim().slice(2)) ?? []
      expect(documented.sort(), command).toEqual(commandOptions(command).sort())
    }
  })

  it('reads --help and help <command> anywhere, and --json beside any command', () => {
    expect(parseCommandLine(['--help'])).toEqual({ help: true, command: undefined })
    expect(parseCommandLine(['import', '--help'])).toEqual({ help: true, command: 'import' })
    expect(parseCommandLine(['help', 'add-machine'])).toEqual({ help: true, command: 'add-machine' })
    expect(parseCommandLine(['list', '--json'])).toEqual({ help: false, command: 'list', args: {}, json: true })
    expect(parseCommandLine(['import', 'm.csv', '--kassa', 'K1'])).toMatchObject({ command: 'import', args: { file: 'm.csv', kassa: 'K1' }, json: false })
    expect(() => parseCommandLine(['import'])).toThrow(/import: give one file/)
  })
})

describe('fleet output on a terminal', () => {
  it('lists kassas and machines as aligned columns', () => {
    const text = formatHuman('list', {
      kassas: [{ id: 'K1', provider: 'emulated', fn: '9999078900005555', next_fd: 3, shift_number: 1, time_zone: 'Europe/Moscow', name: 'ООО' }],
      machines: [{ id: 'VM-101', kassa_id: 'K1', online: true, disabled: false, last_seen_at: new Date('2026-12-06T10:00:00Z'), address: 'a', place: 'p' }],
    })
    expect(text.split('\n')).toEqual([
      '1 kassas',
      'id  provider  fn                next_fd  shift_number  time_zone      name',
      'K1  emulated  9999078900005555  3        1             Europe/Moscow  ООО',
      '',
      '1 machines',
      'id      kassa_id  online  disabled  last_seen_at              address  place',
      'VM-101  K1        true    false     2026-12-06T10:00:00.000Z  a        p',
    ])
  })
})

describe('CSV', () => {
  it('reads quoted fields with commas, doubled quotes and line breaks, CRLF and a BOM', () => {
    const text = '\ufeffid,address\r\nVM-1,"г. Москва, ул. ""Тверская"", 1"\r\n\r\nVM-2,"two\nlines"\n'
    expect(parseCsv(text)).toEqual([
      { line: 1, fields: ['id', 'address'] },
      { line: 2, fields: ['VM-1', 'г. Москва, ул. "Тверская", 1'] },
      { line: 4, fields: ['VM-2', 'two\nlines'] },
    ])
    expect(() => parseCsv('id\n"open')).toThrow(/line 2: a quoted field is not closed/)
  })
})
