import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEV_MACHINE_SECRET_KEY, verifyKeyedSecret } from '../../protocol/index.js'
import { DEMO_KASSA, provisionDemo } from '../../scripts/demo-fleet.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

describe('demo provisioning', () => {
  let database: TestDatabase
  beforeAll(async () => { database = await createTestDatabase() })
  afterAll(async () => { await database?.drop() })

  it('runs again on existing data, and twice at once, giving the same machines fresh secrets', async () => {
    const db = database.handle.db
    // Two starts provisioning one empty PostgreSQL database at the same moment, then a restart on its data.
    const [first, second] = await Promise.all([provisionDemo(db), provisionDemo(db)])
    const third = await provisionDemo(db)
    for (const run of [first!, second!, third]) expect(run.map((m) => m.id)).toEqual(['VM-001', 'VM-002', 'VM-003', 'VM-004', 'VM-005'])
    expect(new Set([...first!, ...second!, ...third].map((m) => m.secret)).size).toBe(15)

    const kassas = await db.selectFrom('kassas').select('id').execute()
    expect(kassas.map((k) => k.id)).toEqual([DEMO_KASSA.id])
    const stored = await db.selectFrom('machines').select(['id', 'secret_hash']).orderBy('id').execute()
    expect(stored).toHaveLength(5)
    // The secret that counts is the one the restart printed.
    for (const row of stored) expect(verifyKeyedSecret(third.find((m) => m.id === row.id)!.secret, row.secret_hash, DEV_MACHINE_SECRET_KEY), row.id).toBe(true)
  })
})
