import { spawn, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import mqtt, { type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createBroker, type Broker } from '../../broker/broker.js'
import { BROKER_LIMIT_DEFAULTS, type BrokerConfig } from '../../broker/config.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'
import { decodeBucketState } from '../../broker/rate-limit.js'
import { hashSecret, newSecret } from '../../protocol/index.js'
import { startPrivateRedis, type PrivateRedis } from '../../scripts/lib/redis-server.js'
import { waitFor } from '../support/wait.js'

// A machine's publish budget follows it from broker to broker through a private Redis: written
// while it drains (so a SIGKILLed broker's machines take their spent budget along) and when it
// disconnects, read when it logs in elsewhere. Redis away, brokers start and logins go on under
// local budgets.

// A token per 100 s: the budget seen by the second broker is what the first spent, not refilled.
const RATE_PER_S = 0.01
const BURST = 20
const secret = newSecret()
const MACHINES = ['VM-1', 'VM-2', 'VM-3', 'VM-4']
let redis: PrivateRedis
let reader: Redis
let processA: ChildProcess | undefined
let urlA = ''
const directory = new MemoryMachineDirectory()
const brokers: Broker[] = []
const urls: string[] = []
const clients: MqttClient[] = []
/** Messages broker 1 logged at warn and above. */
const logged: string[] = []

function config(redisUrl: string): BrokerConfig {
  return {
    host: '127.0.0.1', port: 0, wsPort: undefined, tls: undefined, gatewayPassword: 'budget-test-gateway',
    databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent', credentialsPollMs: 60_000,
    limits: { ...BROKER_LIMIT_DEFAULTS, ratePerS: RATE_PER_S, rateBurst: BURST }, redisUrl,
  }
}

/** Broker A runs as a process of its own, so the test can SIGKILL it. */
async function startProcessBroker(machines: Record<string, string>): Promise<string> {
  const file = fileURLToPath(new URL('../support/memory-broker.process.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', file, JSON.stringify({ redisUrl: redis.url, ratePerS: RATE_PER_S, rateBurst: BURST, machines })], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  processA = child
  const port = await new Promise<number>((resolve, reject) => {
    let out = ''
    child.stdout!.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const line = /\{"port":(\d+)\}\n/.exec(out)
      if (line) resolve(Number(line[1]))
    })
    child.once('exit', (code) => reject(new Error(`the broker process exited (${code}) before it listened`)))
  })
  return `mqtt://127.0.0.1:${port}`
}

async function machine(url: string, id: string): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { clientId: id, username: id, password: secret, reconnectPeriod: 0 })
  client.on('error', () => {})
  clients.push(client)
  return client
}

/** The level another broker would start `id` from, as written to Redis. */
async function sharedTokens(id: string): Promise<number | undefined> {
  return decodeBucketState(await reader.get(`publish-budget:vending:${id}`))?.tokens
}

/** Sends `count` QoS 1 publishes at once, waits until the broker has passed or held back each, and returns how many passed. */
async function passedAtOnce(client: MqttClient, broker: Broker, id: string, count: number): Promise<number> {
  const delayedBefore = broker.stats().rateDelayed
  let acked = 0
  for (let i = 0; i < count; i++) client.publish(`vending/${id}/telemetry`, '{}', { qos: 1 }, (err) => { if (!err) acked++ })
  const heldBack = () => broker.stats().rateDelayed - delayedBefore
  await waitFor(() => acked + heldBack() === count, `${id}'s publishes to be admitted`).catch((err: unknown) => {
    throw new Error(`${String(err)}: ${acked} passed, ${heldBack()} held back of ${count}`)
  })
  return acked
}

beforeAll(async () => {
  const secretHash = await hashSecret(secret)
  redis = await startPrivateRedis()
  reader = new Redis(redis.url, { maxRetriesPerRequest: 1 })
  reader.on('error', () => {})
  for (const id of MACHINES) directory.put(id, { secretHash, disabled: false })
  urlA = await startProcessBroker(Object.fromEntries(MACHINES.map((id) => [id, secretHash])))
  for (let i = 0; i < 2; i++) {
    const logger = i === 1
      ? pino({ level: 'warn' }, { write: (line: string) => { logged.push((JSON.parse(line) as { msg: string }).msg) } })
      : pino({ level: 'silent' })
    const broker = createBroker({ config: config(redis.url), directory, logger })
    brokers.push(broker)
    urls.push(`mqtt://127.0.0.1:${(await broker.start()).port}`)
  }
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)))
})

afterAll(async () => {
  if (processA && processA.exitCode === null && processA.signalCode === null) {
    const exited = new Promise((resolve) => processA!.once('exit', resolve))
    processA.kill('SIGKILL')
    await exited
  }
  await Promise.all(brokers.map((b) => b.stop()))
  reader?.disconnect()
  await redis?.stop()
})

describe("a machine's publish budget across brokers on Redis", () => {
  it('gives a fresh machine its whole burst on any broker', async () => {
    const vm = await machine(urls[0]!, 'VM-2')
    expect(await passedAtOnce(vm, brokers[0]!, 'VM-2', BURST + 5)).toBe(BURST)
  })

  it('holds back on another broker a machine that drained its budget on a broker SIGKILLed since', async () => {
    const onA = await machine(urlA, 'VM-1')
    for (let i = 0; i < 15; i++) await onA.publishAsync('vending/VM-1/telemetry', '{}', { qos: 1 })
    // Written by A's periodic flush while the machine is still connected: nothing else wrote it.
    await waitFor(async () => ((await sharedTokens('VM-1')) ?? BURST) <= 5.1, "A to share VM-1's drained bucket")
    const exited = new Promise((resolve) => processA!.once('exit', resolve))
    processA!.kill('SIGKILL')
    await exited

    const onB = await machine(urls[0]!, 'VM-1')
    // 5 tokens left of 20: 5 pass at once and the 6th is held back, as A would have done.
    expect(await passedAtOnce(onB, brokers[0]!, 'VM-1', 8)).toBe(5)
  })

  it('carries the budget of a machine that disconnects cleanly to the broker it logs in to next', async () => {
    const first = await machine(urls[1]!, 'VM-3')
    // 6 of 20 spent: above half the burst, so only the disconnect writes it.
    for (let i = 0; i < 6; i++) await first.publishAsync('vending/VM-3/telemetry', '{}', { qos: 1 })
    expect(await sharedTokens('VM-3')).toBeUndefined()
    await first.endAsync()
    await waitFor(async () => (await sharedTokens('VM-3')) !== undefined, "VM-3's budget to be written on disconnect")
    expect(await sharedTokens('VM-3')).toBeCloseTo(14, 1)

    const again = await machine(urls[0]!, 'VM-3')
    expect(await passedAtOnce(again, brokers[0]!, 'VM-3', BURST)).toBe(14)
  })

  it('lets a machine log in and publish under a local budget while Redis is away', async () => {
    reader.disconnect()
    await redis.stop()
    await waitFor(() => brokers.every((b) => !b.busConnected()), 'the brokers to notice Redis is gone')
    const vm = await machine(urls[1]!, 'VM-4')
    expect(vm.connected).toBe(true)
    expect(await passedAtOnce(vm, brokers[1]!, 'VM-4', BURST + 5)).toBe(BURST)
    // Once per outage, however many reconnect attempts and logins fail meanwhile.
    const outage = (m: string) => m.startsWith('Redis unreachable: publish budgets')
    await waitFor(() => logged.some(outage), 'the outage to be logged')
    const again = await machine(urls[1]!, 'VM-1')
    expect(again.connected).toBe(true)
    expect(logged.filter(outage)).toHaveLength(1)

    // A broker started while Redis is away starts all the same, its machines on local budgets.
    const late = createBroker({ config: config(redis.url), directory, logger: pino({ level: 'silent' }) })
    brokers.push(late)
    const lateUrl = `mqtt://127.0.0.1:${(await late.start()).port}`
    const onLate = await machine(lateUrl, 'VM-2')
    expect(await passedAtOnce(onLate, late, 'VM-2', BURST + 5)).toBe(BURST)
  })
})
