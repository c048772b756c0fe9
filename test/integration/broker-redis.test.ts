import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createBroker, type Broker } from '../../broker/broker.js'
import { BROKER_LIMIT_DEFAULTS, type BrokerConfig } from '../../broker/config.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'
import { hashSecret, newSecret } from '../../protocol/index.js'
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/redis-server.js'
import { waitFor } from '../support/wait.js'

// Brokers sharing their routing through a private Redis (REDIS_URL): messages cross brokers, a
// machine logged in twice keeps its newest session, and Redis going away stops no broker.

const GATEWAY_PASSWORD = 'redis-test-gateway'
const secret = newSecret()
const directory = new MemoryMachineDirectory()
let redis: PrivateRedis
const brokers: Broker[] = []
const urls: string[] = []
const clients: MqttClient[] = []

function config(redisUrl: string): BrokerConfig {
  return {
    host: '127.0.0.1', port: 0, wsPort: undefined, tls: undefined, gatewayPassword: GATEWAY_PASSWORD,
    databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent', limits: { ...BROKER_LIMIT_DEFAULTS }, credentialsPollMs: 1_000,
    redisUrl,
  }
}

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options })
  client.on('error', () => {})
  clients.push(client)
  return client
}
const machine = (url: string, id: string) => connect(url, { clientId: id, username: id, password: secret })
const service = (url: string, id: string) => connect(url, { clientId: id, username: 'gateway', password: GATEWAY_PASSWORD })
const closed = (client: MqttClient) => new Promise<void>((resolve) => client.once('close', () => resolve()))
function inbox(client: MqttClient): string[] {
  const got: string[] = []
  client.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`))
  return got
}

beforeAll(async () => {
  const secretHash = await hashSecret(secret)
  for (const id of ['VM-1', 'VM-2', 'VM-3']) directory.put(id, { secretHash, disabled: false })
  redis = await startPrivateRedis()
  // Started together: the subscriber connections of all three race their first SUBSCRIBE.
  const started = await Promise.all([0, 1, 2].map(async () => {
    const broker = createBroker({ config: config(redis.url), directory, logger: pino({ level: 'silent' }) })
    brokers.push(broker)
    return `mqtt://127.0.0.1:${(await broker.start()).port}`
  }))
  urls.push(...started)
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)))
})

afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()))
  await redis?.stop()
})

/** Publishes until the machine has one (Redis subscriptions settle asynchronously after SUBACK). */
async function deliver(from: MqttClient, to: string[], topic: string, text: string): Promise<void> {
  await waitFor(async () => {
    await from.publishAsync(topic, text, { qos: 1 })
    return to.some((line) => line === `${topic} ${text}`)
  }, `${text} to arrive`, 20_000)
}

describe('brokers on Redis', () => {
  it("carries a gateway's display to the machine on another broker", async () => {
    const vm = await machine(urls[0]!, 'VM-1')
    const got = inbox(vm)
    await vm.subscribeAsync('vending/VM-1/display', { qos: 1 })
    const gw = await service(urls[1]!, 'gateway-redis-out')
    await deliver(gw, got, 'vending/VM-1/display', 'receipt 1')
    expect(got.filter((l) => l.startsWith('vending/VM-1/display'))[0]).toBe('vending/VM-1/display receipt 1')
  })

  it('keeps the newest session of a machine that logs in on a second broker', async () => {
    const first = await machine(urls[0]!, 'VM-2')
    const firstClosed = new Promise<void>((resolve) => first.once('close', () => resolve()))
    const second = await machine(urls[2]!, 'VM-2')
    await firstClosed
    expect(second.connected).toBe(true)
    await waitFor(() => brokers[0]!.stats().machines === 0, 'the first broker to drop VM-2')
    expect(brokers[2]!.stats().machines).toBeGreaterThanOrEqual(1)
  })

  it('refuses bad logins and forbidden publishes on every broker', async () => {
    for (const url of urls) {
      await expect(mqtt.connectAsync(url, { clientId: 'VM-1', username: 'VM-1', password: 'not-the-secret', reconnectPeriod: 0 }))
        .rejects.toThrow(/not authorized/i)
      const vm = await machine(url, 'VM-3')
      const cut = closed(vm)
      vm.publish('vending/VM-2/sale', 'forged by VM-3', { qos: 1 })
      await cut
    }
    for (const broker of brokers) expect(broker.stats()).toMatchObject({ authFailures: 1, forbiddenPublishes: 1 })
  })

  it("keeps a machine's publish budget across its reconnects", async () => {
    const broker = brokers[1]!
    const flooder = await machine(urls[1]!, 'VM-1')
    const cut = closed(flooder)
    for (let i = 0; i < 400; i++) flooder.publish('vending/VM-1/telemetry', '{}', { qos: 0 })
    await cut
    expect(broker.stats().rateLimited).toBe(1)
    // Back at once: the spent budget was not restored by the new connection.
    const delayed = broker.stats().rateDelayed
    const again = await machine(urls[1]!, 'VM-1')
    for (let i = 0; i < 5; i++) again.publish('vending/VM-1/telemetry', '{}', { qos: 0 })
    await waitFor(() => broker.stats().rateDelayed > delayed || broker.stats().rateLimited > 1, 'the reconnected machine to be held back')
  })

  it('stays up while Redis is away and delivers again once it is back', async () => {
    const vm = await machine(urls[2]!, 'VM-3')
    const got = inbox(vm)
    await vm.subscribeAsync('vending/VM-3/display', { qos: 1 })
    const gw = await service(urls[0]!, 'gateway-redis-out2')
    await deliver(gw, got, 'vending/VM-3/display', 'before')

    await redis.stop()
    await waitFor(() => brokers.every((b) => !b.busConnected()), 'every broker to notice Redis is gone')
    // Logins and publishes are still answered locally while the bus is away.
    const late = await machine(urls[1]!, 'VM-1')
    expect(late.connected).toBe(true)
    gw.publish('vending/VM-3/display', 'during', { qos: 1 })

    await redis.start()
    await waitFor(() => brokers.every((b) => b.busConnected()), 'every broker to reconnect to Redis', 20_000)
    await deliver(gw, got, 'vending/VM-3/display', 'after')
    expect(vm.connected && gw.connected).toBe(true)
  })
})
