import { describe, expect, it } from 'vitest'
import { PartialWriteError, writeContained } from '../../gateway/ingest/contained-write.js'

const dataException = Object.assign(new Error('invalid byte sequence'), { code: '22021' })
const connectionLost = Object.assign(new Error('Connection terminated'), { code: '08006' })

/** A store that refuses (with `err`) any batch holding a bad entry, and records what it stored. */
function store(bad: (n: number) => boolean, err: Error = dataException) {
  const stored: number[] = []
  let statements = 0
  const write = async (batch: readonly number[]) => {
    statements++
    if (batch.some(bad)) throw err
    stored.push(...batch)
  }
  return { stored, write, statements: () => statements }
}

describe('containment of a batch write', () => {
  it('stores every entry but the bad one, which alone is quarantined, in about 2·log2(n) statements', async () => {
    const s = store((n) => n === 377)
    const quarantined: number[] = []
    const entries = Array.from({ length: 500 }, (_, i) => i)
    expect(await writeContained(entries, s.write, async (e) => { quarantined.push(e) })).toEqual({ quarantined: 1 })
    expect(quarantined).toEqual([377])
    expect(s.stored.sort((a, b) => a - b)).toEqual(entries.filter((n) => n !== 377))
    expect(s.statements()).toBeLessThanOrEqual(2 * Math.ceil(Math.log2(500)) + 1)
  })

  it('quarantines each of several bad entries', async () => {
    const s = store((n) => n % 50 === 7)
    const quarantined: number[] = []
    await writeContained(Array.from({ length: 200 }, (_, i) => i), s.write, async (e) => { quarantined.push(e) })
    expect(quarantined).toEqual([7, 57, 107, 157])
    expect(s.stored).toHaveLength(196)
  })

  it('never splits on an error that is not about the content: it says how much was stored', async () => {
    const s = store(() => true, connectionLost)
    const err = await writeContained([1, 2, 3], s.write, async () => { throw new Error('not called') }).catch((e: unknown) => e)
    expect(err).toBeInstanceOf(PartialWriteError)
    expect((err as PartialWriteError).written).toBe(0)
    expect((err as PartialWriteError).cause).toBe(connectionLost)
    expect(s.statements()).toBe(1)
  })

  it('reports the stored prefix when the database goes away in the middle of a split', async () => {
    let calls = 0
    const stored: number[] = []
    const write = async (batch: readonly number[]) => {
      calls++
      if (batch.includes(3) && batch.length > 1) throw dataException
      if (calls > 3) throw connectionLost
      stored.push(...batch)
    }
    const err = (await writeContained([0, 1, 2, 3, 4, 5, 6, 7], write, async () => {}).catch((e: unknown) => e)) as PartialWriteError
    expect(err.written).toBe(stored.length)
    expect(stored).toEqual([0, 1])
  })
})
