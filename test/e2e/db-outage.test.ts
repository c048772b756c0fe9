import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFleet } from '../../device-sim/fleet.js'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'
import { provisionChaosFleet } from '../../scripts/chaos/chaos-database.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { killAllProcesses, startTestCluster, type ChaosCluster } from '../support/processes.js'
import { createTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'
import { waitFor } from '../support/wait.js'

// The database goes away under load behind a proxy that forwards nothing and closes nothing (a
// partition: queries neither answer nor fail). The gateway must report not-ready, hold MQTT acks
// once `highWater` (5,000) sales wait in memory so its memory stays bounded, and carry on when the
// link returns, with every sale receipted once.

describe('a gateway cut off from PostgreSQL under load', () => {
  let database: TestDatabase
  let proxy: TcpProxy
  let cluster: ChaosCluster
  let machines: { id: string; secret: string }[]

  beforeAll(async () => {
    database = await createTestDatabase()
    machines = await provisionChaosFleet(database.handle, 50)
    proxy = await createTcpProxy({ host: '127.0.0.1', port: Number(new URL(database.url).port || 5432) })
    const viaProxy = new URL(database.url)
    viaProxy.port = String(proxy.port)
    cluster = await startTestCluster({ databaseUrl: database.url, gatewayDatabaseUrl: viaProxy.toString() })
  }, 120_000)

  afterAll(async () => {
    cluster?.killAll()
    await killAllProcesses()
    await proxy?.close()
    await database?.drop()
  })

  it('is not ready while cut off, stays within its memory bound, and loses nothing', async () => {
    const fleet = startFleet({
      url: cluster.mqttUrl, machines, rate: 400, durationS: 20, drainTimeoutS: 90, seed: 5, telemetryIntervalS: 0,
      retry: { initialMs: 2000, maxMs: 10_000 },
    })
    await waitFor(() => fleet.snapshot().receipted >= 500, '500 receipts before the cut', 60_000)
    const gateway = cluster.gateways[0]!
    const rssBefore = gateway.rss()!
    // Memory is sampled through the cut and the republish storm that follows it, to the end.
    let rssMax = rssBefore
    const sampler = setInterval(() => { rssMax = Math.max(rssMax, gateway.rss() ?? 0) }, 250)
    let notReady = false
    proxy.cut('blackhole')
    const until = Date.now() + 15_000
    while (Date.now() < until) {
      if ((await cluster.ready(0)) === false) notReady = true
      await new Promise((r) => setTimeout(r, 250))
    }
    const sentDuringCut = fleet.snapshot().sent
    proxy.heal()
    await waitFor(async () => (await cluster.ready(0)) === true, 'ready again after the cut', 30_000)

    const report = await fleet.done
    clearInterval(sampler)
    expect(notReady).toBe(true)
    expect(gateway.alive).toBe(true) // it waited; it did not crash
    // More sales than `highWater` (5,000) arrived during the cut, with their republished copies.
    expect(sentDuringCut).toBeGreaterThan(6_000)
    // Bounded: before the display publisher was capped its memory grew by 300 MiB and more after
    // such a cut, and kept growing while the machines' copies piled up.
    expect((rssMax - rssBefore) / 2 ** 20).toBeLessThan(200)
    expect(report.unanswered).toBe(0)
    expect(report.receipted).toBe(report.sent)
    expect(report.duplicates + report.conflicts + report.rejected).toBe(0)
    const verify = await verifyFiscalData(database.handle.db)
    expect(verify.failures).toEqual([])
    expect(verify.receipts).toBe(report.sent)
    console.log(`db outage: RSS ${Math.round(rssBefore / 2 ** 20)} → max ${Math.round(rssMax / 2 ** 20)} MiB, sent ${report.sent}, republished ${report.republished}, p99 ${report.latencyMs.p99} ms`)
  }, 240_000)

  it('reports not-ready from its own probe when no sales arrive, and ready when the database returns', async () => {
    await waitFor(async () => (await cluster.ready(0)) === true, 'ready with no traffic', 30_000)
    proxy.cut('blackhole')
    const cutAt = Date.now()
    await waitFor(async () => (await cluster.ready(0)) === false, 'not ready during a cut with no sales', 15_000)
    const notReadyAfterMs = Date.now() - cutAt
    proxy.heal()
    await waitFor(async () => (await cluster.ready(0)) === true, 'ready again after the cut', 60_000)
    expect(cluster.gateways[0]!.alive).toBe(true)
    // The probe runs every 2 s and gives a query 3 s: the verdict changes within about 5 s.
    console.log(`db outage, no traffic: not ready ${notReadyAfterMs} ms after the cut`)
  }, 120_000)
})
