import mqtt, { type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createBroker, type Broker } from '../../broker/broker.js'
import { BROKER_LIMIT_DEFAULTS } from '../../broker/config.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'
import { hashSecret, newSecret } from '../../protocol/index.js'

// The retained-message index (broker/retained-index.ts) on a real Aedes broker: a wildcard-free
// subscription is answered from the index, a wildcard one from the store's scan, and both must
// still deliver exactly the retained messages MQTT promises.

const GATEWAY_PASSWORD = 'retained-test-gateway'
const MACHINES = ['VM-R1', 'VM-R2', 'VM-R3']
const secret = newSecret()
let broker: Broker
let url: string
const clients: MqttClient[] = []

async function connect(clientId: string, username: string, password: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId, username, password, reconnectPeriod: 0 })
  clients.push(client)
  return client
}
const gateway = (id: string) => connect(`gateway-${id}`, 'gateway', GATEWAY_PASSWORD)

/** Retained messages a client receives, as `topic payload` lines. */
function retainedInbox(client: MqttClient): string[] {
  const got: string[] = []
  client.on('message', (topic, payload, packet) => { if (packet.retain) got.push(`${topic} ${payload.toString()}`) })
  return got
}

beforeAll(async () => {
  const directory = new MemoryMachineDirectory()
  const secretHash = await hashSecret(secret)
  for (const id of MACHINES) directory.put(id, { secretHash, disabled: false })
  const config = {
    host: '127.0.0.1', port: 0, wsPort: undefined, tls: undefined, gatewayPassword: GATEWAY_PASSWORD,
    databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent' as const, limits: { ...BROKER_LIMIT_DEFAULTS }, credentialsPollMs: 1000,
  }
  broker = createBroker({ config, directory, logger: pino({ level: 'silent' }) })
  url = `mqtt://127.0.0.1:${(await broker.start()).port}`
  // Each machine leaves its status retained, as device-sim machines do on connect.
  for (const id of MACHINES) {
    const m = await connect(id, id, secret)
    await m.publishAsync(`vending/${id}/status`, `online ${id}`, { qos: 1, retain: true })
  }
  // VM-R3 replaces its status: only the latest one is retained.
  await clients[2]!.publishAsync('vending/VM-R3/status', 'offline VM-R3', { qos: 1, retain: true })
})

afterEach(async () => {
  await Promise.all(clients.splice(MACHINES.length).map((c) => c.endAsync(true)))
})

afterAll(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)))
  await broker?.stop()
})

describe('retained messages', () => {
  it("gives a wildcard-free subscription the one retained message of its topic", async () => {
    const gw = await gateway('exact')
    const got = retainedInbox(gw)
    await gw.subscribeAsync('vending/VM-R2/status', { qos: 1 })
    await vi.waitFor(() => expect(got).toEqual(['vending/VM-R2/status online VM-R2']), { timeout: 5_000 })
  })

  it('gives the latest retained message of a topic that was replaced', async () => {
    const gw = await gateway('latest')
    const got = retainedInbox(gw)
    await gw.subscribeAsync('vending/VM-R3/status', { qos: 1 })
    await vi.waitFor(() => expect(got).toEqual(['vending/VM-R3/status offline VM-R3']), { timeout: 5_000 })
  })

  it("gives the gateway's wildcard subscription every machine's retained status", async () => {
    const gw = await gateway('wild')
    const got = retainedInbox(gw)
    await gw.subscribeAsync('vending/+/status', { qos: 1 })
    await vi.waitFor(() => expect(got).toHaveLength(3), { timeout: 5_000 })
    expect(got.sort()).toEqual(['vending/VM-R1/status online VM-R1', 'vending/VM-R2/status online VM-R2', 'vending/VM-R3/status offline VM-R3'])
  })

  it('answers exact and wildcard filters of one SUBSCRIBE together', async () => {
    const gw = await gateway('mixed')
    const got = retainedInbox(gw)
    await gw.subscribeAsync({ 'vending/VM-R1/status': { qos: 1 }, 'vending/+/status': { qos: 1 } })
    // VM-R1 matches both filters; Aedes sends one copy per matching filter, as the store alone did.
    await vi.waitFor(() => expect(got).toHaveLength(4), { timeout: 5_000 })
    expect(got.filter((l) => l.startsWith('vending/VM-R1/')).length).toBe(2)
  })
})
