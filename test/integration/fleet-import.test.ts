import { execFile } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEV_MACHINE_SECRET_KEY, verifyKeyedSecret } from '../../protocol/index.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

const run = promisify(execFile)
const COUNT = 1000

// The fleet CLI as a user runs it: through npm, its output piped.
describe('npm run fleet', () => {
  let database: TestDatabase
  const dir = mkdtempSync(join(tmpdir(), 'vt-import-'))
  const fleet = (args: string[]) => run('npm', ['run', 'fleet', '--', ...args], { env: { ...process.env, DATABASE_URL: database.url }, timeout: 120_000 })

  beforeAll(async () => {
    database = await createTestDatabase()
    await fleet(['add-kassa', '--id', 'K1', '--name', 'ООО Вендинг', '--inn', '7707083893', '--reg', '0000000001012346',
      '--fn', '9999078900005555', '--sno', 'usn_income', '--tz', 'Europe/Moscow'])
  }, 120_000)
  afterAll(async () => {
    await database.drop()
    rmSync(dir, { recursive: true, force: true })
  })

  it(`imports ${COUNT} machines in one command and writes the credentials file the simulator reads`, { timeout: 180_000 }, async () => {
    const csv = join(dir, 'machines.csv')
    const rows = Array.from({ length: COUNT }, (_, i) => `IM-${String(i + 1).padStart(4, '0')},K1,"г. Москва, ул. Тверская, 1",Автомат ${i + 1}`)
    writeFileSync(csv, `id,kassa,address,place\n${rows.join('\n')}\n`)
    const started = performance.now()
    const { stdout } = await fleet(['import', csv])
    const seconds = (performance.now() - started) / 1000
    console.log(`fleet import: ${COUNT} machines in ${seconds.toFixed(1)} s, npm and tsx start included`)

    const out = join(dir, 'machines.credentials.json')
    expect(JSON.parse(stdout)).toEqual({ imported: COUNT, out, kassas: ['K1'] })
    const count = await database.handle.db.selectFrom('machines').select((e) => e.fn.countAll<string>().as('n')).executeTakeFirstOrThrow()
    expect(Number(count.n)).toBe(COUNT)
    expect(statSync(out).mode & 0o777).toBe(0o600)
    const { readCredentials } = await import('../../device-sim/credentials.js')
    const credentials = await readCredentials(out)
    expect(credentials).toHaveLength(COUNT)
    const last = credentials[COUNT - 1]!
    const stored = await database.handle.db.selectFrom('machines').select(['secret_hash', 'number', 'time_zone']).where('id', '=', last.id).executeTakeFirstOrThrow()
    expect(verifyKeyedSecret(last.secret, stored.secret_hash, DEV_MACHINE_SECRET_KEY)).toBe(true)
    expect(stored).toMatchObject({ number: 'IM-1000', time_zone: 'Europe/Moscow' })
  })

  it('imports nothing from a file with a bad row, and names its line', { timeout: 60_000 }, async () => {
    const csv = join(dir, 'bad.csv')
    writeFileSync(csv, 'id,kassa,address,place\nBM-1,K1,a,p\nbad id,K1,a,p\nBM-3,K9,a,p\n')
    const failed = await fleet(['import', csv]).then(() => null, (err: { code: number; stderr: string }) => err)
    expect(failed?.code).toBe(1)
    expect(failed?.stderr).toContain('line 3: --id: must be 1–64')
    const after = await database.handle.db.selectFrom('machines').select('id').where('id', 'like', 'BM-%').execute()
    expect(after).toEqual([])
  })

  it('disables and enables a machine, and prints JSON that jq reads through a pipe', { timeout: 60_000 }, async () => {
    expect(JSON.parse((await fleet(['disable-machine', '--id', 'IM-0001'])).stdout)).toEqual({ id: 'IM-0001', disabled: true })
    expect(JSON.parse((await fleet(['enable-machine', '--id', 'IM-0001'])).stdout)).toEqual({ id: 'IM-0001', disabled: false })
    const { stdout } = await run('sh', ['-c', `npm run fleet -- list | jq -c '[.kassas[0].id, (.machines | length), (.machines[0].disabled)]'`],
      { env: { ...process.env, DATABASE_URL: database.url }, timeout: 60_000 })
    expect(stdout.trim()).toBe(`["K1",${COUNT},false]`)
  })

  it('prints help for the tool and for a command', { timeout: 60_000 }, async () => {
    expect((await fleet(['--help'])).stdout).toMatch(/^usage: npm run fleet -- <command>/)
    expect((await fleet(['enable-machine', '--help'])).stdout).toContain('usage: npm run fleet -- enable-machine --id VM-101')
  })
})
