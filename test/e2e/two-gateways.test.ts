import { mkdtemp, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runFleet } from '../../device-sim/fleet.js'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'
import { CHAOS_KASSA, provisionChaosFleet } from '../../scripts/chaos/chaos-database.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { killAllProcesses, startTestCluster, type ChaosCluster } from '../support/processes.js'

// Two gateway processes on one database and one broker. Aedes has no shared subscriptions, so
// each gateway receives every sale: ingest must deduplicate, and the FN row lock must keep one
// signer per FN, with no duplicate receipt, no gap and no deadlock.

describe('two gateways on one database', () => {
  let database: TestDatabase
  let cluster: ChaosCluster
  let logDir: string
  let machines: { id: string; secret: string }[]

  beforeAll(async () => {
    database = await createTestDatabase()
    machines = await provisionChaosFleet(database.handle, 50)
    logDir = await mkdtemp(join(tmpdir(), 'vt-two-gw-'))
    cluster = await startTestCluster({ databaseUrl: database.url, gateways: 2, logDir })
  }, 120_000)

  afterAll(async () => {
    cluster?.killAll()
    await killAllProcesses()
    await database?.drop()
    if (logDir) await rm(logDir, { recursive: true, force: true })
  })

  it('turns 5,000 sales into 5,000 receipts, gapless, each once', async () => {
    const report = await runFleet({
      url: cluster.mqttUrl, machines, rate: 500, durationS: 10, drainTimeoutS: 90, seed: 7, telemetryIntervalS: 0,
    })
    expect(report.sent).toBe(5000)
    expect(report.unanswered).toBe(0)
    expect(report.receipted).toBe(5000)
    expect(report.duplicates + report.conflicts + report.rejected).toBe(0)

    const db = database.handle.db
    const docs = await sql<{ receipts: number; sales: number; maxFd: number; count: number }>`
      select count(*) filter (where type = 3)::int as receipts, count(distinct sale_row_id)::int as sales,
             max(fd)::int as "maxFd", count(*)::int as count
      from fiscal_documents where fn = ${CHAOS_KASSA.fn}`.execute(db)
    const row = docs.rows[0]!
    expect(row.receipts).toBe(5000)
    expect(row.sales).toBe(5000) // one receipt per sale
    expect(row.maxFd).toBe(row.count) // FDs 1…N (receipts and shift reports) with no gap
    // Each (fn, fd) issued once: N documents numbered 1…N under the (fn, fd) primary key, and no
    // signer ever tried a number another had used (the key would have refused it, and it would be logged).
    const issued = await sql<{ pairs: number }>`select count(distinct (fn, fd))::int as pairs from fiscal_documents where fn = ${CHAOS_KASSA.fn}`.execute(db)
    expect(issued.rows[0]!.pairs).toBe(row.count)
    const verify = await verifyFiscalData(db)
    expect(verify.failures).toEqual([])
    expect(verify.receipts).toBe(5000)

    const stops = await cluster.stop()
    for (const s of stops) expect(s.exit, s.gateway).toEqual({ code: 0, signal: null })
    const logs = await Promise.all(['gw1', 'gw2'].map((g) => readFile(join(logDir, `${g}.log`), 'utf8')))
    for (const log of logs) expect(log).not.toMatch(/40P01|deadlock|fiscal_documents_pk/)
  }, 240_000)
})
