import { randomBytes } from 'node:crypto'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runFleet } from '../../device-sim/index.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { provisionFleet, startGateway, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// The gateway and the simulator are plain MQTT 3.1.1 clients: they work unchanged against the
// machine's Mosquitto on 1883 (anonymous, shared with others: a topic prefix of our own). Mosquitto
// stores nothing itself, so the gateway subscribes to the machines and stores their sales.
const MOSQUITTO = 'mqtt://127.0.0.1:1883'

describe('interoperability with Mosquitto', () => {
  const prefix = `vt${randomBytes(4).toString('hex')}`
  let database: TestDatabase
  let gw: Awaited<ReturnType<typeof startGateway>>
  let creds: Credentials[]

  beforeAll(async () => {
    database = await createTestDatabase()
    creds = await provisionFleet(database.handle.db, 5)
    gw = await startGateway(database.handle, MOSQUITTO, { MQTT_TOPIC_PREFIX: prefix, GATEWAY_ID: prefix, GATEWAY_INGEST: 'gateway' })
  })

  afterAll(async () => {
    await gw?.gateway.stop()
    await database?.drop()
  })

  it('receipts every sale of a simulated fleet through Mosquitto', async () => {
    const report = await runFleet({ url: MOSQUITTO, prefix, machines: creds, rate: 50, durationS: 2, drainTimeoutS: 20, telemetryIntervalS: 0 })
    expect(report.sent).toBeGreaterThanOrEqual(90)
    expect(report.receipted).toBe(report.sent)
    expect(report.unanswered).toBe(0)
    expect(report.duplicates).toBe(0)
    const documents = await database.handle.db.selectFrom('fiscal_documents').select('fd').where('type', '=', 3).execute()
    expect(documents).toHaveLength(report.sent)
  })

  it('stores a sale from an unknown machine as rejected and answers it', async () => {
    const client = await mqtt.connectAsync(MOSQUITTO, { protocolVersion: 4, clientId: `${prefix}-ghost` })
    try {
      const answers: string[] = []
      client.on('message', (_t, payload) => answers.push(payload.toString()))
      await client.subscribeAsync(`${prefix}/ghost/display`, { qos: 1 })
      const sale = { v: 1, saleId: 'g-1', at: new Date().toISOString(), kind: 'sale', items: [{ sku: 'A', name: 'Вода', price: 100, qty: 1, vat: 'vat22' }], payment: { method: 'card', amount: 100 } }
      await client.publishAsync(`${prefix}/ghost/sale`, JSON.stringify(sale), { qos: 1 })
      const answer = JSON.parse(await waitFor(() => answers[0], 'the rejected display')) as { type: string; reason: string }
      expect(answer).toMatchObject({ type: 'rejected', saleId: 'g-1', reason: 'unknown machine ghost' })
      const rows = await database.handle.db.selectFrom('rejected_messages').selectAll().where('machine_id', '=', 'ghost').execute()
      expect(rows.map((r) => r.reason)).toEqual(['unknown machine ghost'])
    } finally {
      await client.endAsync()
    }
  })
})
