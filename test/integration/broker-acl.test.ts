import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createBroker, type Broker } from '../../broker/broker.js'
import { BROKER_LIMIT_DEFAULTS, type BrokerConfig } from '../../broker/config.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'
import { hashSecret, newSecret } from '../../protocol/index.js'

// Topic rules on a real Aedes broker with real mqtt.js clients: a machine speaks only for itself.

const GATEWAY_PASSWORD = 'acl-test-gateway'
const secret = newSecret()
const directory = new MemoryMachineDirectory()
let broker: Broker
let url: string
const clients: MqttClient[] = []

function config(): BrokerConfig {
  return {
    host: '127.0.0.1', port: 0, wsPort: undefined, tls: undefined, gatewayPassword: GATEWAY_PASSWORD,
    databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent', limits: { ...BROKER_LIMIT_DEFAULTS }, credentialsPollMs: 100,
  }
}

async function connect(options: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options })
  client.on('error', () => {}) // refusals are asserted through events and return values
  clients.push(client)
  return client
}
const machine = (id: string, extra: IClientOptions = {}) => connect({ clientId: id, username: id, password: secret, ...extra })
const gateway = (id = 'gateway-acl-in') => connect({ clientId: id, username: 'gateway', password: GATEWAY_PASSWORD })

/** Messages a client receives, as `topic payload` lines. */
function inbox(client: MqttClient): string[] {
  const got: string[] = []
  client.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`))
  return got
}
/** SUBACK return codes, in the order of `filters` (mqtt.js rejects when any is 0x80). */
async function suback(client: MqttClient, filters: string[]): Promise<number[]> {
  const subs = Object.fromEntries(filters.map((f) => [f, { qos: 1 as const }]))
  try {
    return (await client.subscribeAsync(subs)).map((g) => g.qos)
  } catch (err) {
    const granted = (err as { packet?: { granted?: number[] } }).packet?.granted
    if (!granted) throw err
    return granted
  }
}
const closed = (client: MqttClient) => new Promise<void>((resolve) => client.once('close', () => resolve()))

beforeAll(async () => {
  const secretHash = await hashSecret(secret)
  for (const id of ['VM-A', 'VM-B', 'VM-W', 'VM-X']) directory.put(id, { secretHash, disabled: false })
  broker = createBroker({ config: config(), directory, logger: pino({ level: 'silent' }) })
  url = `mqtt://127.0.0.1:${(await broker.start()).port}`
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)))
})

afterAll(async () => {
  await broker?.stop()
})

describe('publishing', () => {
  it("closes a machine that publishes to another machine's sale topic; the message reaches no one", async () => {
    const gw = await gateway()
    const got = inbox(gw)
    await gw.subscribeAsync('vending/+/sale', { qos: 1 })
    const a = await machine('VM-A')
    const b = await machine('VM-B')
    const before = broker.stats().forbiddenPublishes

    const aClosed = closed(a)
    a.publish('vending/VM-B/sale', 'forged by A', { qos: 1 })
    await aClosed
    // B's own sale is published after A's forged one; once it has arrived, A's would have too.
    await b.publishAsync('vending/VM-B/sale', 'real from B', { qos: 1 })
    await vi.waitFor(() => expect(got).toContain('vending/VM-B/sale real from B'), { timeout: 5_000 })
    expect(got).toEqual(['vending/VM-B/sale real from B'])
    expect(broker.stats().forbiddenPublishes).toBe(before + 1)
  })

  it('refuses $SYS and the display channel to machines', async () => {
    for (const topic of ['$SYS/broker/new/clients', 'vending/VM-A/display']) {
      const a = await machine('VM-A')
      const aClosed = closed(a)
      a.publish(topic, 'x', { qos: 0 })
      await aClosed
    }
  })
})

describe('subscribing', () => {
  it("answers 0x80 to another machine's display and to wildcards, and delivers only the machine's own display", async () => {
    const a = await machine('VM-A')
    const b = await machine('VM-B')
    const aGot = inbox(a)
    const bGot = inbox(b)
    const before = broker.stats().forbiddenSubscribes
    const granted = await suback(a, ['vending/VM-B/display', 'vending/#', 'vending/+/display', 'vending/VM-A/display'])
    expect(granted).toEqual([128, 128, 128, 1])
    expect(a.connected).toBe(true) // a refused subscription does not end the connection
    expect(broker.stats().forbiddenSubscribes).toBe(before + 3)
    await b.subscribeAsync('vending/VM-B/display', { qos: 1 })

    const gw = await gateway('gateway-acl-out')
    await gw.publishAsync('vending/VM-B/display', 'for B', { qos: 1 })
    await gw.publishAsync('vending/VM-A/display', 'for A', { qos: 1 })
    await vi.waitFor(() => expect(aGot).toContain('vending/VM-A/display for A'), { timeout: 5_000 })
    await vi.waitFor(() => expect(bGot).toContain('vending/VM-B/display for B'), { timeout: 5_000 })
    expect(aGot).toEqual(['vending/VM-A/display for A'])
  })

  it('refuses # and $SYS to the gateway too', async () => {
    const gw = await gateway()
    expect(await suback(gw, ['#', '$SYS/#', 'vending/+/status'])).toEqual([128, 128, 1])
  })
})

describe('presence', () => {
  const offline = JSON.stringify({ v: 1, state: 'offline', at: '2026-11-28T12:00:00.000Z' })

  it("publishes a machine's offline will, retained, when its connection drops", async () => {
    const gw = await gateway()
    const got = inbox(gw)
    await gw.subscribeAsync('vending/+/status', { qos: 1 })
    const w = await machine('VM-W', { will: { topic: 'vending/VM-W/status', payload: Buffer.from(offline), qos: 1, retain: true } })
    w.stream.destroy() // no DISCONNECT: the broker must speak for it
    await vi.waitFor(() => expect(got).toContain(`vending/VM-W/status ${offline}`), { timeout: 5_000 })

    const late = await gateway('gateway-acl-late')
    const retained = inbox(late)
    await late.subscribeAsync('vending/VM-W/status', { qos: 1 })
    await vi.waitFor(() => expect(retained).toEqual([`vending/VM-W/status ${offline}`]), { timeout: 5_000 })
  })

  it("refuses a login whose will names another machine's topic, so that will never goes out", async () => {
    const gw = await gateway()
    const got = inbox(gw)
    await gw.subscribeAsync('vending/+/status', { qos: 1 })
    const err = await mqtt.connectAsync(url, {
      clientId: 'VM-X', username: 'VM-X', password: secret, reconnectPeriod: 0,
      will: { topic: 'vending/VM-A/status', payload: Buffer.from(offline), qos: 1, retain: true },
    }).then(() => null, (e: { code?: number }) => e)
    expect(err?.code).toBe(5)
    // A later status from X itself arrives; the forged will, had it gone out, would have come first.
    const x = await machine('VM-X')
    await x.publishAsync('vending/VM-X/status', 'online', { qos: 1 })
    await vi.waitFor(() => expect(got).toContain('vending/VM-X/status online'), { timeout: 5_000 })
    expect(got.filter((m) => m.startsWith('vending/VM-A/'))).toEqual([])
  })
})
