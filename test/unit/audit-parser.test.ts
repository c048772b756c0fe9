import { readFileSync } from 'node:fs'
import { describe, expect, it } from 'vitest'
import { matchG85, restoreCrLf } from '../../gateway/audit/audit-crc.js'
import { parseAudit } from '../../gateway/audit/audit-parser.js'
import type { ParsedAudit } from '../../gateway/audit/audit.types.js'
import { crc16Arc, formatG85 } from '../../protocol/eva-dts-crc.js'

// The project's own audit files (test/fixtures/audits), written from EVA-DTS 6.2: one per quirk
// real machines show. Their G85 values were computed independently of this code.
const fixture = (name: string): Uint8Array => new Uint8Array(readFileSync(new URL(`../fixtures/audits/${name}`, import.meta.url)))

function parsed(name: string): ParsedAudit {
  const result = parseAudit(fixture(name))
  if (!result.ok) throw new Error(`${name}: ${result.reason}`)
  return result.audit
}

/** The figures every variant of the standard file carries. */
function expectStandardFigures(a: ParsedAudit): void {
  expect(a.elements).toMatchObject({ ID101: 'SIM0000042', VA101: 1234500, VA102: 321, VA103: 45600, VA104: 12, CA201: 834500, CA202: 210, DA201: 400000, DA202: 111 })
  expect(a.products).toEqual([
    { id: 'A01', price: 8000, name: 'Water 0,5 l', pa2: [100, 800000, 4, 32000] },
    { id: 'C02', price: 15000, name: null, pa2: [29, 434500, 8, 13600, 0] },
    { id: 'B01', price: 11900, name: null, pa2: [] },
  ])
}

describe('CRC-16/ARC', () => {
  it('gives the catalogue check value 0xBB3D for "123456789"', () => {
    expect(crc16Arc(new TextEncoder().encode('123456789'))).toBe(0xbb3d)
    expect(formatG85(0xbb3d)).toBe('BB3D')
    expect(formatG85(0x0a)).toBe('000A')
  })

  it('restores CR LF before bare LFs only', () => {
    const out = restoreCrLf(new TextEncoder().encode('A\nB\r\nC\n'))
    expect(new TextDecoder().decode(out)).toBe('A\r\nB\r\nC\r\n')
  })

  it('matches G85 in either byte order and without the final CR LF, in any case', () => {
    const covered = new TextEncoder().encode('ST*001*0001\r\nID1*X\r\n')
    const crc = crc16Arc(covered)
    const short = crc16Arc(covered, 0, covered.length - 2)
    expect(matchG85(covered, formatG85(crc))).toBe('msb-first')
    expect(matchG85(covered, formatG85(((crc & 0xff) << 8) | (crc >> 8)))).toBe('byte-swapped')
    expect(matchG85(covered, formatG85(short).toLowerCase())).toBe('msb-first-no-final-crlf')
    expect(matchG85(covered, formatG85(crc ^ 1))).toBeNull()
    expect(matchG85(covered, 'XYZ')).toBeNull()
  })
})

describe('EVA-DTS parser on the project audit files', () => {
  it('reads a standard CR LF audit: G85 7257 verifies, RUB with 2 decimals, 20 segments from ST to SE', () => {
    const a = parsed('standard-crlf.dex')
    expect(a).toMatchObject({ crc: 'ok', crcVariant: 'msb-first', decimals: 2, currency: 'RUB', complete: true, segmentCount: 22 })
    expectStandardFigures(a)
    expect(a.warnings).toEqual([])
  })

  it('verifies G85 of an LF-only file once its line ends are restored to CR LF', () => {
    const a = parsed('lf-only.dex')
    expect(a).toMatchObject({ crc: 'ok', crcVariant: 'msb-first' })
    expectStandardFigures(a)
    expect(a.warnings).toEqual(['LF line ends: CR LF restored for the G85 check'])
  })

  it('ignores junk before DXS and after DXE', () => {
    const a = parsed('junk-around.dex')
    expect(a.crc).toBe('ok')
    expectStandardFigures(a)
    expect(a.warnings).toEqual(['37 bytes before DXS ignored', '22 bytes after DXE ignored'])
    expect(a.otherBlocks).toEqual(['MA5*SIM*free text kept'])
  })

  it('keeps a file whose SE count is wrong when its G85 verifies, with a warning', () => {
    const a = parsed('wrong-se.dex')
    expect(a.crc).toBe('ok')
    expect(a.warnings).toEqual(['SE count 349 ≠ 20'])
    expectStandardFigures(a)
  })

  it('accepts the byte-swapped G85 of pre-6.0 devices and the one without the final CR LF', () => {
    expect(parsed('g85-swapped.dex')).toMatchObject({ crc: 'ok', crcVariant: 'byte-swapped' })
    expect(parsed('g85-no-final-crlf.dex')).toMatchObject({ crc: 'ok', crcVariant: 'msb-first-no-final-crlf' })
  })

  it('reports a G85 that matches no form as bad, and still reads the figures', () => {
    const a = parsed('bad-crc.dex')
    expect(a).toMatchObject({ crc: 'bad', crcVariant: null })
    expectStandardFigures(a)
  })

  it('defaults to 2 decimals and no currency when ID4 is absent', () => {
    const a = parsed('no-id4.dex')
    expect(a).toMatchObject({ crc: 'ok', decimals: 2, currency: null })
    expect(a.elements.ID401).toBeUndefined()
    expect(a.warnings).toEqual(['no ID401: 2 decimals assumed'])
  })

  it('reads empty elements and 4294967295 as null, ids as strings with their zeros', () => {
    const a = parsed('standard-crlf.dex')
    expect(a.elements).toMatchObject({ ID104: null, ID105: '0042', ID106: null, CA301: null, CA305: 900000, ID502: '1015' })
    expect(a.identity).toMatchObject({ serial: 'SIM0000042', model: 'SIM-1', build: '12', board: 'SIMBOARD01', boardBuild: '3.1.0' })
  })

  it('reads a file without ST, SE and G85 (DXE*1*0) with the CRC absent', () => {
    const a = parsed('no-envelope.dex')
    expect(a).toMatchObject({ crc: 'absent', complete: true })
    expect(a.elements.DXS01).toBe('SIM0000042 ')
    expectStandardFigures(a)
    expect(a.warnings).toEqual(['no G85: integrity not verified'])
  })

  it('keeps unknown blocks as written', () => {
    expect(parsed('standard-crlf.dex').otherBlocks).toEqual(['MA5*SIM*free text kept'])
  })

  it('marks a file cut before DXE as truncated', () => {
    const a = parsed('truncated.dex')
    expect(a).toMatchObject({ complete: false, crc: 'absent' })
    expect(a.elements.VA101).toBe(1234500)
    expect(a.warnings).toContain('truncated: no DXE')
  })

  it('refuses what is no audit at all, with a reason', () => {
    expect(parseAudit(fixture('not-an-audit.bin'))).toEqual({ ok: false, reason: 'no DXS header: not an EVA-DTS audit' })
    expect(parseAudit(new Uint8Array())).toEqual({ ok: false, reason: 'empty audit' })
    expect(parseAudit(new TextEncoder().encode('DXS*X*VA*V0/6*1\r\nID1*\x01\r\n'))).toEqual({ ok: false, reason: 'control character 0x01 in line 2 after DXS' })
  })

  it('reads ^hh^ escapes, CP1251 bytes as Russian text', () => {
    const a = parseAudit(new TextEncoder().encode('DXS*X*VA*V0/6*1\r\nPA1*1*100*^D7^^E0^^E9^ ^2A^\r\nDXE*1*1\r\n'))
    expect(a.ok && a.audit.products[0]?.name).toBe('Чай *')
  })
})
