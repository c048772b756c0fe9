import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { asDataDirDamage, damageProblem, DataDirDamagedError, isStorageDamage, setAside } from '../../gateway/db/data-dir.damage.js'
import { DataDirBusyError } from '../../gateway/db/data-dir.lock.js'
import { dataDirFailureLine } from '../../gateway/db/data-dir.messages.js'

const aborted = Object.assign(new Error('Aborted(). Build with -sASSERTIONS for more info.'), { name: 'RuntimeError' })

describe('a damaged data directory', () => {
  const root = mkdtempSync(join(tmpdir(), 'vt-damage-'))
  afterAll(() => rmSync(root, { recursive: true, force: true }))

  it("says what PostgreSQL logged before PGlite aborted, not the abort", () => {
    const log = ['2026-12-06 15:35:55.065 UTC [42] LOG:  starting', '2026-12-06 15:35:55.065 UTC [42] PANIC:  could not read file "global/pg_control": read 100 of 296', 'Aborted()']
    expect(damageProblem(aborted, log)).toBe('could not read file "global/pg_control": read 100 of 296')
    expect(damageProblem(aborted, [])).toBe('the embedded database aborted while opening it')
  })

  it('recognises unreadable storage by SQLSTATE or by what PostgreSQL says, through causes', () => {
    expect(isStorageDamage(Object.assign(new Error('x'), { code: 'XX001' }))).toBe(true)
    expect(isStorageDamage(new Error('GW_ERR_MIGRATION: migration 0001-initial failed', { cause: new Error('could not read blocks 3..3 in file "base/5/1255": read only 0 of 8192 bytes') }))).toBe(true)
    expect(isStorageDamage(aborted)).toBe(true)
    expect(isStorageDamage(Object.assign(new Error('duplicate key value violates unique constraint "machines_pkey"'), { code: '23505' }))).toBe(false)
    expect(asDataDirDamage(new Error('relation "sales" does not exist'), '/d')).toBeNull()
    expect(asDataDirDamage(new Error('GW_ERR_MIGRATION', { cause: Object.assign(new Error('invalid page in block 0 of relation base/5/16384'), { code: 'XX001' }) }), '/d')?.message)
      .toBe('DATA_DIR /d cannot be opened as a database: invalid page in block 0 of relation base/5/16384')
  })

  it('is moved aside whole under a dated name, a second time beside the first', () => {
    const dir = join(root, 'data')
    mkdirSync(dir)
    writeFileSync(join(dir, 'PG_VERSION'), '17\n')
    const at = new Date('2026-12-06T15:41:17.123Z')
    expect(setAside(dir, at)).toBe(`${dir}.aside-20261206T154117Z`)
    expect(readFileSync(join(`${dir}.aside-20261206T154117Z`, 'PG_VERSION'), 'utf8')).toBe('17\n')
    expect(existsSync(dir)).toBe(false)
    mkdirSync(dir)
    expect(setAside(`${dir}/`, at)).toBe(`${dir}.aside-20261206T154117Z~2`)
    expect(setAside(dir, at)).toBeNull()
  })
})

describe('the line a refused process prints', () => {
  it('names the holder, its ports and the ways out', () => {
    const busy = new DataDirBusyError('./data', { pid: 4242, role: 'npm start', mqttPort: 1884, httpPort: 8080, dbPort: 40123 })
    expect(dataDirFailureLine(busy, 'npm start -- --fresh')).toBe(
      'DATA_DIR ./data is in use by process 4242 (npm start, MQTT 1884, HTTP 8080, database 127.0.0.1:40123): stop it, set another DATA_DIR, or reach it with `npm run fleet -- list`')
    expect(dataDirFailureLine(new DataDirBusyError('./data', { pid: 7, role: 'npm run fleet' }), 'npm start -- --fresh')).toBe(
      'DATA_DIR ./data is in use by process 7 (npm run fleet): stop it, set another DATA_DIR, or try again in a moment (it does not serve its database, or not yet)')
  })

  it('names the damage and the command that moves the directory aside', () => {
    const damaged = new DataDirDamagedError('./data', 'could not read file "global/pg_control": read 100 of 296')
    expect(dataDirFailureLine(damaged, 'npm start -- --fresh')).toBe(
      'DATA_DIR ./data cannot be opened as a database: could not read file "global/pg_control": read 100 of 296. To move it aside (kept as ./data.aside-<time>) and start with an empty database: `npm start -- --fresh`')
    expect(dataDirFailureLine(new Error('other'), 'npm start -- --fresh')).toBeNull()
  })
})
