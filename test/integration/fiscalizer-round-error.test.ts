import { sql } from 'kysely'
import { pino } from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFiscalizer } from '../../gateway/fiscalizer/fiscalizer.worker.js'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'
import { insertSales } from '../../gateway/ingest/sale.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet, type Credentials } from '../support/system.js'

// A kassa whose documents the database refuses, in the fiscalizer that signs the kassas asking
// together in one round (gateway/fiscalizer/fiscal-round.ts). Under load every kassa asks at
// once, so a round that failed as a whole for one kassa's sake would fail every kassa with it,
// round after round: the whole fleet's sales would wait for that kassa. Only its own must.

const FN = { A: '9999078900002001', B: '9999078900002002' } as const
/** Locked batches a kassa signs before it is signed in rounds (fiscalizer.worker.ts UNCONTENDED_BATCHES), and one more. */
const TO_ROUNDS = 21

describe('fiscalizer: a round that fails for one kassa', () => {
  let database: TestDatabase
  const machines: Record<string, Credentials> = {}
  const db = () => database.handle.db
  const warnings: { msg: string; kassaIds?: string[] }[] = []
  const store = (kassa: 'A' | 'B', n: number) =>
    insertSales(db(), Array.from({ length: n }, () => ({ machineId: machines[kassa]!.id, event: sale(), payload: new Uint8Array() })))
  const fds = async (kassa: 'A' | 'B') =>
    (await sql<{ fd: number }>`select fd from fiscal_documents where fn = ${FN[kassa]} order by fd`.execute(db())).rows.map((r) => r.fd)
  const pending = async (kassa: 'A' | 'B') =>
    (await sql<{ n: number }>`select count(*)::int as n from sales where kassa_id = ${kassa} and state = 'pending'`.execute(db())).rows[0]!.n

  beforeAll(async () => {
    database = await createTestDatabase()
    for (const [i, id] of (['A', 'B'] as const).entries()) {
      const [m] = await provisionFleet(db(), 1, { prefix: `E${i}-`, kassa: { id, fn: FN[id], reg: `000000000201234${i}` } })
      machines[id] = m!
    }
  })

  afterAll(async () => {
    await database?.drop()
  })

  it('signs the other kassas of the round and leaves only the refused kassa\'s sales pending, until the database takes them', async () => {
    const logger = pino({ level: 'warn' }, { write: (line: string) => void warnings.push(JSON.parse(line)) })
    const fiscalizer = createFiscalizer({ db: db(), logger, batchMax: 50, publicUrl: 'http://receipts.test', onCommitted: () => {} })
    // Each kassa's first batches are locked; after TO_ROUNDS of them it is signed in rounds.
    for (let i = 0; i < TO_ROUNDS; i++) {
      await store('A', 1)
      await store('B', 1)
      await fiscalizer.runOnce()
    }
    expect(await fds('A')).toHaveLength(TO_ROUNDS + 1)
    expect(await fds('B')).toHaveLength(TO_ROUNDS + 1)
    expect(warnings).toEqual([])

    await sql`create function refuse_a() returns trigger language plpgsql as $$ begin raise exception 'A refused'; end $$`.execute(db())
    await sql`create trigger refuse_a before insert on fiscal_documents for each row when (new.fn = '9999078900002001') execute function refuse_a()`.execute(db())
    try {
      for (let i = 0; i < 3; i++) {
        await store('A', 2)
        await store('B', 2)
        await fiscalizer.runOnce()
      }
      expect(await pending('B')).toBe(0)
      expect(await fds('B')).toEqual(Array.from({ length: TO_ROUNDS + 1 + 6 }, (_, i) => i + 1))
      expect(await pending('A')).toBe(6)
      expect(await fds('A')).toHaveLength(TO_ROUNDS + 1)
      // Because the round of A and B failed, and said so; B then signed alone, A failed alone.
      expect(warnings.filter((w) => w.msg === 'fiscalization round failed; each of its kassas signs alone')
        .map((w) => w.kassaIds)).toContainEqual(['A', 'B'])
    } finally {
      await sql`drop trigger refuse_a on fiscal_documents`.execute(db())
      await sql`drop function refuse_a()`.execute(db())
    }
    await fiscalizer.runOnce()
    expect(await pending('A')).toBe(0)
    expect(await fds('A')).toEqual(Array.from({ length: TO_ROUNDS + 1 + 6 }, (_, i) => i + 1))
    const report = await verifyFiscalData(db())
    expect(report.failures).toEqual([])
    await fiscalizer.stop()
  })
})
