import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { createStateWriter, readStateFile, type StoredSale } from '../../device-sim/state-file.js'

const dir = await mkdtemp(join(tmpdir(), 'device-sim-state-'))
afterAll(() => rm(dir, { recursive: true, force: true }))

const sale: StoredSale = { saleId: 's1', payload: '{"saleId":"s1"}', createdAt: 1.5, firstSentAt: 2.25, attempts: 3, nextRetryAt: 9_000 }

describe('state file', () => {
  it('reads an absent file as no pending sales', async () => {
    expect((await readStateFile(join(dir, 'none.json'))).size).toBe(0)
  })

  it('writes pending sales atomically and reads them back', async () => {
    const path = join(dir, 'state.json')
    let state: Record<string, StoredSale[]> = { 'VM-001': [sale] }
    const writer = createStateWriter(path, () => state, 10_000)
    writer.touch()
    await writer.flush() // does not wait for the debounce
    expect(await readStateFile(path)).toEqual(new Map([['VM-001', [sale]]]))

    state = {}
    writer.touch()
    await writer.close()
    expect((await readStateFile(path)).size).toBe(0)
    expect((await readdir(dir)).filter((f) => f.endsWith('.tmp'))).toEqual([]) // no temporary file left behind
  })

  it('writes once for many changes within the debounce interval', async () => {
    const path = join(dir, 'debounced.json')
    let snapshots = 0
    const writer = createStateWriter(path, () => (snapshots++, {}), 10_000)
    for (let i = 0; i < 100; i++) writer.touch()
    await writer.close()
    expect(snapshots).toBe(1)
    await writer.flush() // nothing changed since: no write
    expect(snapshots).toBe(1)
  })

  it('refuses a damaged file and names it', async () => {
    const path = join(dir, 'broken.json')
    await writeFile(path, '{"v":1,"machines":')
    await expect(readStateFile(path)).rejects.toThrow(/broken\.json: not JSON/)
    await writeFile(path, JSON.stringify({ v: 1, savedAt: new Date().toISOString(), machines: { 'VM-1': [{ saleId: 's' }] } }))
    await expect(readStateFile(path)).rejects.toThrow(/broken\.json: machines\.VM-1\.0\.payload/)
    expect(JSON.parse(await readFile(path, 'utf8'))).toMatchObject({ v: 1 }) // reading never rewrites it
  })
})
