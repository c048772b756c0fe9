import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createBroker, type Broker } from '../../broker/broker.js'
import { BROKER_LIMIT_DEFAULTS, type BrokerConfig, type BrokerLimits } from '../../broker/config.js'
import type { MachineDirectory } from '../../broker/machine-directory.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'
import { hashSecret, newSecret } from '../../protocol/index.js'

// Limits that keep one machine from hurting the rest: packet size, publish rate, connection count.

const GATEWAY_PASSWORD = 'limits-test-gateway'
const HONEST = Array.from({ length: 20 }, (_, i) => `VM-H${i}`)
const secret = newSecret()
const directory = new MemoryMachineDirectory()
const brokers: Broker[] = []
const clients: MqttClient[] = []
const logger = pino({ level: 'silent' })

function config(limits: Partial<BrokerLimits> = {}): BrokerConfig {
  return {
    host: '127.0.0.1', port: 0, wsPort: undefined, tls: undefined, gatewayPassword: GATEWAY_PASSWORD,
    databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent', limits: { ...BROKER_LIMIT_DEFAULTS, ...limits }, credentialsPollMs: 1_000,
  }
}

async function startBroker(limits: Partial<BrokerLimits> = {}, dir: MachineDirectory = directory): Promise<{ broker: Broker; url: string }> {
  const broker = createBroker({ config: config(limits), directory: dir, logger })
  brokers.push(broker)
  return { broker, url: `mqtt://127.0.0.1:${(await broker.start()).port}` }
}

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options })
  client.on('error', () => {}) // a cut-off client reports its broken pipe; the test asserts 'close'
  clients.push(client)
  return client
}
const machine = (url: string, id: string) => connect(url, { clientId: id, username: id, password: secret })
const gateway = (url: string) => connect(url, { clientId: 'gateway-limits-in', username: 'gateway', password: GATEWAY_PASSWORD })
const closed = (client: MqttClient) => new Promise<void>((resolve) => client.once('close', () => resolve()))
const connackCode = (url: string, options: IClientOptions) =>
  connect(url, options).then(() => 0, (err: { code?: number }) => err.code ?? -1)

beforeAll(async () => {
  const secretHash = await hashSecret(secret)
  for (const id of ['VM-BIG', 'VM-OK', 'VM-FLOOD', 'VM-C1', 'VM-C2', 'VM-C3', ...HONEST]) directory.put(id, { secretHash, disabled: false })
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)))
})

afterAll(async () => {
  await Promise.all(brokers.map((b) => b.stop()))
})

describe('packet size', () => {
  it('drops a machine sending a 1 MiB payload and keeps serving the others', async () => {
    const { broker, url } = await startBroker()
    const gw = await gateway(url)
    const got: string[] = []
    gw.on('message', (topic) => got.push(topic))
    await gw.subscribeAsync('vending/+/sale', { qos: 1 })
    const big = await machine(url, 'VM-BIG')
    const ok = await machine(url, 'VM-OK')

    const bigClosed = closed(big)
    big.publish('vending/VM-BIG/sale', Buffer.alloc(1024 * 1024, 0x61), { qos: 1 })
    await bigClosed
    expect(broker.stats().oversize).toBe(1)
    await ok.publishAsync('vending/VM-OK/sale', '{"v":1}', { qos: 1 })
    await vi.waitFor(() => expect(got).toEqual(['vending/VM-OK/sale']), { timeout: 5_000 })
  })

  it('accepts a machine payload of exactly 64 KiB (a 16 KiB+ sale reaches the gateway to be answered) and a larger packet from the gateway', async () => {
    const { broker, url } = await startBroker()
    const ok = await machine(url, 'VM-OK')
    await ok.publishAsync('vending/VM-OK/telemetry', Buffer.alloc(64 * 1024, 0x61), { qos: 1 })
    const gw = await gateway(url)
    await gw.publishAsync('vending/VM-OK/display', Buffer.alloc(64 * 1024, 0x61), { qos: 1 })
    expect(ok.connected && gw.connected).toBe(true)
    expect(broker.stats().oversize).toBe(0)
  })
})

describe('publish rate', () => {
  it('cuts a flooding machine while every sale of 20 honest machines reaches the gateway', async () => {
    const { broker, url } = await startBroker()
    const gw = await gateway(url)
    const honestSales = new Set<string>()
    gw.on('message', (topic, payload) => {
      if (topic !== 'vending/VM-FLOOD/sale') honestSales.add(`${topic} ${payload.toString()}`)
    })
    await gw.subscribeAsync('vending/+/sale', { qos: 1 })
    const honest = await Promise.all(HONEST.map((id) => machine(url, id)))
    const flooder = await machine(url, 'VM-FLOOD')

    const flooderClosed = closed(flooder)
    for (let i = 0; i < 10_000; i++) flooder.publish('vending/VM-FLOOD/sale', `{"flood":${i}}`, { qos: 1 }, () => {})
    await Promise.all(honest.map(async (client, m) => {
      for (let s = 0; s < 5; s++) await client.publishAsync(`vending/${HONEST[m]}/sale`, `sale-${s}`, { qos: 1 })
    }))

    await flooderClosed
    await vi.waitFor(() => expect(honestSales.size).toBe(HONEST.length * 5), { timeout: 10_000 })
    expect(broker.stats().rateLimited).toBe(1)
    expect(honest.every((c) => c.connected)).toBe(true)
  })
})

describe('connection cap', () => {
  it('answers CONNACK 3 to machines beyond the cap and still lets the gateway in', async () => {
    const { broker, url } = await startBroker({ maxConnections: 2 })
    await machine(url, 'VM-C1')
    await machine(url, 'VM-C2')
    expect(await connackCode(url, { clientId: 'VM-C3', username: 'VM-C3', password: secret })).toBe(3)
    await gateway(url)
    expect(broker.stats()).toMatchObject({ connectionsRefused: 1, machines: 2, connections: 3 })
  })
})

describe('directory failure', () => {
  it('answers CONNACK 3, "server unavailable", when the machines cannot be read', async () => {
    const failing: MachineDirectory = {
      find: () => Promise.reject(new Error('database down')),
      changedSince: () => Promise.resolve([]),
    }
    const { broker, url } = await startBroker({}, failing)
    expect(await connackCode(url, { clientId: 'VM-OK', username: 'VM-OK', password: secret })).toBe(3)
    expect(broker.stats().authErrors).toBe(1)
  })
})
