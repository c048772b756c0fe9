import pino from 'pino'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { connectGatewayMqtt, type GatewayMqtt } from '../../gateway/mqtt/gateway-mqtt.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { startBroker } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// The gateway's two broker connections through a real outage: the broker stopped, left down while
// mqtt.js retries every 500 ms, and started again on the same port.
describe('the gateway log during a broker outage', () => {
  let database: TestDatabase
  let mqtt: GatewayMqtt | null = null
  beforeAll(async () => {
    database = await createTestDatabase()
  })
  afterAll(async () => {
    await mqtt?.close()
    await database.drop()
  })

  it('says once that the broker is lost and once that it is back, however many retries fail between', { timeout: 60_000 }, async () => {
    const lines: { msg: string; client?: string; failedAttempts?: number }[] = []
    const logger = pino({ level: 'debug' }, { write: (line: string) => { lines.push(JSON.parse(line)) } })
    const first = await startBroker(database.handle.db)
    const { port, url } = first
    let broker = first.broker
    mqtt = connectGatewayMqtt({ url, gatewayId: 'outage', username: 'gateway', password: 'test-gateway-password', topicPrefix: 'vending', ingest: 'broker', logger })
    await waitFor(() => mqtt!.ready(), 'the gateway to connect and subscribe')

    // Failed reconnects of each connection while the broker is away, counted from the client's own events.
    const closes = { ingest: 0, publisher: 0 }
    mqtt.ingest.on('close', () => { closes.ingest += 1 })
    mqtt.publisher.on('close', () => { closes.publisher += 1 })
    const before = lines.length
    await broker.stop()
    await waitFor(() => closes.ingest >= 5 && closes.publisher >= 5, 'at least four failed reconnects of each connection')
    broker = (await startBroker(database.handle.db, { port })).broker
    await waitFor(() => mqtt!.ready() && lines.filter((l) => l.msg === 'broker connection back').length === 2, 'both connections back')
    // The gateway's connections end while the broker still answers: ending a client that is
    // between reconnect attempts is not what this test is about.
    await mqtt.close()
    mqtt = null
    await broker.stop()

    // Everything logged from the stop until both were back (the final stop's own lines excluded).
    const lastBack = lines.findLastIndex((l) => l.msg === 'broker connection back')
    const outage = lines.slice(before, lastBack + 1).filter((l) => l.client !== undefined).map((l) => `${l.client} ${l.msg}`)
    expect(outage.sort()).toEqual([
      'ingest broker connection back',
      'ingest broker connection lost; reconnecting (logged again once a minute while it lasts)',
      'publisher broker connection back',
      'publisher broker connection lost; reconnecting (logged again once a minute while it lasts)',
    ])
    const back = lines.filter((l) => l.msg === 'broker connection back')
    for (const l of back) expect(l.failedAttempts).toBeGreaterThanOrEqual(4)
  })
})
