import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/redis-server.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { provisionFleet, startBroker, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// Presence is written to the database by the broker that sees the machine. A machine that moves to
// another broker is taken over there (its newest session wins), and the broker it left does not
// report it offline: its will is not stored.

describe('presence across brokers on Redis', () => {
  let database: TestDatabase
  let redis: PrivateRedis
  let creds: Credentials[]
  const clients: MqttClient[] = []

  beforeAll(async () => {
    database = await createTestDatabase()
    creds = await provisionFleet(database.handle.db, 1)
    redis = await startPrivateRedis()
  })

  afterAll(async () => {
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await redis?.stop()
    await database?.drop()
  })

  const connect = async (url: string) => {
    const { id, secret } = creds[0]!
    const status = (state: string) => JSON.stringify({ v: 1, state, at: new Date().toISOString() })
    const client = await mqtt.connectAsync(url, {
      clientId: id, username: id, password: secret, reconnectPeriod: 0,
      will: { topic: `vending/${id}/status`, payload: Buffer.from(status('offline')), qos: 1, retain: true },
    })
    client.on('error', () => {})
    clients.push(client)
    await client.publishAsync(`vending/${id}/status`, status('online'), { qos: 1, retain: true })
    return client
  }
  const online = async () => (await database.handle.db.selectFrom('machines').select('online').where('id', '=', creds[0]!.id).executeTakeFirstOrThrow()).online

  it('keeps a machine online when it moves to another broker', async () => {
    const a = await startBroker(database.handle.db, { redisUrl: redis.url })
    const b = await startBroker(database.handle.db, { redisUrl: redis.url })
    const first = await connect(a.url)
    await waitFor(async () => (await online()) === true, 'the machine online')
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()))
    const second = await connect(b.url)
    await firstClosed
    await waitFor(() => a.broker.stats().machines === 0, 'the first broker to let the machine go')
    // B writes its "online" (the machine leaves with DISCONNECT: no will); then A writes whatever
    // it holds: a will stored there would win.
    await second.endAsync()
    await b.broker.stop()
    await a.broker.stop()
    expect(await online()).toBe(true)
  })
})
