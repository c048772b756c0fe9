import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runFleet } from '../../device-sim/index.js'
import { parseReceiptQr } from '../../protocol/index.js'
import { createTestCertificate, type TestCertificate } from '../support/certs.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale } from '../support/machine-client.js'
import { provisionFleet, startBroker, startGateway, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// The broker's limits and listeners with the real gateway behind them: what a machine sees is a receipt.
describe('the broker in front of the gateway', () => {
  let database: TestDatabase
  let cert: TestCertificate
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let creds: Credentials[]

  beforeAll(async () => {
    database = await createTestDatabase()
    cert = await createTestCertificate()
    creds = await provisionFleet(database.handle.db, 23)
    broker = await startBroker(database.handle.db, {
      wsPort: 0, tls: { port: 0, certFile: cert.certFile, keyFile: cert.keyFile },
      // The production defaults: 20 publishes/s per machine, burst 50.
      limits: { maxConnections: 20_000, ratePerS: 20, rateBurst: 50, machineMaxPayload: 16 * 1024, gatewayMaxPacket: 256 * 1024 },
    })
    gw = await startGateway(database.handle, broker.url)
  })

  afterAll(async () => {
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
    await cert?.remove()
  })

  it('completes a sale → receipt over TLS and over WebSocket', async () => {
    const urls = [
      [`mqtts://localhost:${broker.ports.tlsPort}`, { ca: cert.cert, rejectUnauthorized: true }],
      [`ws://127.0.0.1:${broker.ports.wsPort}/mqtt`, {}],
    ] as const
    for (const [i, [url, tls]] of urls.entries()) {
      const m = await connectMachine(url, creds[i]!, tls)
      try {
        const s = sale()
        await m.publishSale(s)
        const d = await waitFor(() => m.displaysFor(s.saleId)[0], `a receipt over ${url}`)
        expect(d.type).toBe('receipt')
        expect(d.type === 'receipt' && parseReceiptQr(d.qr)?.s).toBe(12000)
      } finally {
        await m.close()
      }
    }
  })

  it('cuts a flooding machine while every honest sale is receipted', async () => {
    const flooder = creds[2]!
    const client = await mqtt.connectAsync(broker.url, { clientId: flooder.id, username: flooder.id, password: flooder.secret, protocolVersion: 4, reconnectPeriod: 0 })
    let closed = false
    client.on('close', () => { closed = true })
    const before = broker.broker.stats().rateLimited
    const flood = (async () => {
      for (let i = 0; i < 10_000 && !closed; i++) client.publish(`vending/${flooder.id}/telemetry`, JSON.stringify({ v: 1, at: new Date().toISOString(), temperatureC: 4 }), { qos: 0 })
    })()
    const honest = creds.slice(3)
    const report = await runFleet({ url: broker.url, machines: honest, rate: 100, durationS: 3, drainTimeoutS: 30, telemetryIntervalS: 0 })
    await flood
    await waitFor(() => closed, 'the flooder to be disconnected')
    await client.endAsync(true)
    expect(report.sent).toBeGreaterThanOrEqual(250)
    expect(report.receipted).toBe(report.sent)
    expect(report.unanswered).toBe(0)
    expect(broker.broker.stats().rateLimited).toBeGreaterThan(before)
  })

  it('lets no machine sell for another: nothing is fiscalized and the intruder is cut off', async () => {
    const [a, b] = [creds[20]!, creds[21]!]
    const victim = await connectMachine(broker.url, b)
    const intruder = await mqtt.connectAsync(broker.url, { clientId: a.id, username: a.id, password: a.secret, protocolVersion: 4, reconnectPeriod: 0 })
    try {
      const closed = new Promise<void>((resolve) => intruder.once('close', () => resolve()))
      const before = broker.broker.stats().forbiddenPublishes
      const forged = sale()
      intruder.publish(`vending/${b.id}/sale`, JSON.stringify(forged), { qos: 1 })
      await closed
      expect(broker.broker.stats().forbiddenPublishes).toBe(before + 1)
      // A sale of B's own, published after, is receipted: so the forged one had its chance to arrive.
      const own = sale()
      await victim.publishSale(own)
      await waitFor(() => victim.displaysFor(own.saleId)[0], "B's own receipt")
      expect(victim.displaysFor(forged.saleId)).toEqual([])
      const rows = await database.handle.db.selectFrom('sales').select('sale_id').where('sale_id', 'in', [forged.saleId, own.saleId]).execute()
      expect(rows.map((r) => r.sale_id)).toEqual([own.saleId])
    } finally {
      await intruder.endAsync(true)
      await victim.close()
    }
  })
})
