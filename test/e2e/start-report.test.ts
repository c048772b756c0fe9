import pg from 'pg'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { freePort, killAllProcesses, signalAndWait, startGatewayProcess } from '../support/processes.js'

// A start that waits (here: another session holds the migration lock, as a migration in progress
// or a session stuck in it would) says every 10 s what it waits for, and goes on once it can.

describe('a gateway start that waits', () => {
  let database: TestDatabase

  beforeAll(async () => {
    database = await createTestDatabase()
  }, 60_000)
  afterAll(async () => {
    await killAllProcesses()
    await database?.drop()
  })

  it('says what it is waiting for until it has started', async () => {
    const holder = new pg.Client({ connectionString: database.url })
    await holder.connect()
    try {
      await holder.query('begin')
      await holder.query('lock table kysely_migration_lock in access exclusive mode')
      const [httpPort, mqttPort] = [await freePort(), await freePort()]
      // No broker: the start does not wait for one (readiness does).
      const gateway = startGatewayProcess({ databaseUrl: database.url, mqttUrl: `mqtt://127.0.0.1:${mqttPort}`, httpPort, password: 'start-report-password' })
      const report = JSON.parse(await gateway.waitForLine(/"gateway still starting"/, 60_000)) as { stage: string; waitedS: number }
      expect(report.stage).toBe('migrating the database')
      expect(report.waitedS).toBeGreaterThanOrEqual(9)
      expect(gateway.tail(200)).not.toMatch(/"gateway started"/)
      await holder.query('commit')
      await gateway.waitForLine(/"gateway started"/, 60_000)
      expect(await signalAndWait(gateway, 'SIGTERM', 25_000)).toEqual({ code: 0, signal: null })
    } finally {
      await holder.end()
    }
  }, 150_000)
})
