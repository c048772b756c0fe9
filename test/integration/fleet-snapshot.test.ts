import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFleetSnapshotLoader } from '../../gateway/alerts/fleet-snapshot.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { provisionFleet, TEST_KASSA } from '../support/system.js'

// The alert rules read the whole fleet every ALERT_INTERVAL_S in small pages with a pause between
// them, so that the read never takes the database's cores from the sales in one burst. Every
// machine must still be read once, whatever the fleet's size against the page.

describe('fleet snapshot for the alert rules', () => {
  let database: TestDatabase

  beforeAll(async () => {
    database = await createTestDatabase()
    await provisionFleet(database.handle.db, 1)
    // 700 more machines of the same kassa, in bulk: several pages.
    await sql`insert into machines (id, kassa_id, number, address, place, time_zone, secret_hash)
      select 'FS-' || lpad(i::text, 4, '0'), ${TEST_KASSA.id}, 'FS-' || i, 'г. Москва, ул. Тверская, 1', 'Вестибюль', 'Europe/Moscow', 'hmac-sha256$unused'
      from generate_series(1, 700) i`.execute(database.handle.db)
  })

  afterAll(async () => {
    await database?.drop()
  })

  it('reads every machine once across pages', async () => {
    const snapshot = await createFleetSnapshotLoader(database.handle.db)(new Date())
    const ids = snapshot.machines.map((m) => m.id)
    expect(ids).toHaveLength(701)
    expect(new Set(ids).size).toBe(701)
    expect(ids).toContain('VM-001')
    expect(ids).toContain('FS-0700')
    expect(snapshot.kassas.map((k) => k.id)).toEqual([TEST_KASSA.id])
  })
})
