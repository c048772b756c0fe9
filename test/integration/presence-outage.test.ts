import { sql } from 'kysely'
import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { openDatabase, type DatabaseHandle } from '../../gateway/db/database.js'
import { createPresenceConsumer } from '../../gateway/machines/presence.consumer.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'

// Bad status and telemetry are acknowledged at once (telemetry is QoS 0), so while the database is
// away nothing but the consumer's own cap bounds what it holds for the rejected table.

describe('presence consumer while the database is away', () => {
  let database: TestDatabase
  let away: DatabaseHandle

  beforeAll(async () => {
    database = await createTestDatabase()
    // Nothing listens on port 1: every query fails at once, as with a database that is down.
    away = await openDatabase({ url: 'postgres://postgres@127.0.0.1:1/none', dataDir: '', poolSize: 1 })
  })

  afterAll(async () => {
    await away?.close()
    await database?.drop()
  })

  it('holds at most 10,000 bad messages, counts the rest, and stores what it held once the database is back', async () => {
    const lines: { msg?: string; count?: number }[] = []
    const logger = pino({ level: 'warn' }, { write: (line: string) => lines.push(JSON.parse(line)) })
    let db = away.db
    const presence = createPresenceConsumer({ get db() { return db }, logger })
    for (let i = 0; i < 12_000; i++) presence.accept('vending/VM-001/telemetry', 'VM-001', 'telemetry', Buffer.from(`junk ${i}`))
    await presence.flush() // fails: the messages go back to the buffer
    presence.accept('vending/VM-001/status', 'VM-001', 'status', Buffer.from('{"v":1}'))
    expect(lines.some((l) => /not being stored/.test(l.msg ?? ''))).toBe(true)

    db = database.handle.db
    await presence.flush()
    const stored = await sql<{ n: number }>`select count(*)::int as n from rejected_messages where machine_id = 'VM-001'`.execute(db)
    expect(stored.rows[0]!.n).toBe(10_000)
    expect(lines.find((l) => /went unstored/.test(l.msg ?? ''))?.count).toBe(2_001)
  })
})
