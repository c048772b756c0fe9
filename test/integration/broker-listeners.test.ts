import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { promisify } from 'node:util'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest'
import { createBroker, type Broker } from '../../broker/broker.js'
import { BROKER_GUARD_DEFAULTS, BROKER_LIMIT_DEFAULTS } from '../../broker/config.js'
import type { BrokerPorts } from '../../broker/listeners.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'
import { hashSecret, newSecret } from '../../protocol/index.js'
import { createTestCertificate, type TestCertificate } from '../support/certs.js'

// The same sale → display round trip over each listener: TCP, TLS and WebSocket.

const GATEWAY_PASSWORD = 'listeners-test-gateway'
const secret = newSecret()
let cert: TestCertificate
let broker: Broker
let ports: BrokerPorts
const clients: MqttClient[] = []

beforeAll(async () => {
  cert = await createTestCertificate()
  const directory = new MemoryMachineDirectory()
  directory.put('VM-L', { secretHash: await hashSecret(secret), disabled: false })
  broker = createBroker({
    config: {
      host: '127.0.0.1', port: 0, wsPort: 0, tls: { port: 0, certFile: cert.certFile, keyFile: cert.keyFile },
      gatewayPassword: GATEWAY_PASSWORD, databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent',
      limits: { ...BROKER_LIMIT_DEFAULTS }, credentialsPollMs: 1_000,
    },
    directory,
    logger: pino({ level: 'silent' }),
  })
  ports = await broker.start()
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)))
})

afterAll(async () => {
  await broker?.stop()
  await cert?.remove()
})

async function connect(url: string, options: IClientOptions): Promise<MqttClient> {
  const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options })
  clients.push(client)
  return client
}

async function roundTrip(url: string, tls: IClientOptions = {}): Promise<void> {
  const gw = await connect(url, { clientId: 'gateway-l-in', username: 'gateway', password: GATEWAY_PASSWORD, ...tls })
  const vm = await connect(url, { clientId: 'VM-L', username: 'VM-L', password: secret, ...tls })
  const sales: string[] = []
  const displays: string[] = []
  gw.on('message', (topic, payload) => sales.push(`${topic} ${payload.toString()}`))
  vm.on('message', (topic, payload) => displays.push(`${topic} ${payload.toString()}`))
  await gw.subscribeAsync('vending/+/sale', { qos: 1 })
  await vm.subscribeAsync('vending/VM-L/display', { qos: 1 })

  await vm.publishAsync('vending/VM-L/sale', 'sale-1', { qos: 1 })
  await vi.waitFor(() => expect(sales).toEqual(['vending/VM-L/sale sale-1']), { timeout: 5_000 })
  await gw.publishAsync('vending/VM-L/display', 'receipt-1', { qos: 1 })
  await vi.waitFor(() => expect(displays).toEqual(['vending/VM-L/display receipt-1']), { timeout: 5_000 })
}

describe('listeners', () => {
  it('completes a sale and its display over TCP', async () => {
    await roundTrip(`mqtt://127.0.0.1:${ports.port}`)
  })

  it('completes a sale and its display over TLS, with the certificate checked', async () => {
    expect(ports.tlsPort).toBeGreaterThan(0)
    await roundTrip(`mqtts://localhost:${ports.tlsPort}`, { ca: cert.cert, rejectUnauthorized: true })
  })

  it('completes a sale and its display over WebSocket at /mqtt', async () => {
    expect(ports.wsPort).toBeGreaterThan(0)
    await roundTrip(`ws://127.0.0.1:${ports.wsPort}/mqtt`)
  })

  it('refuses a login over WebSocket like over TCP', async () => {
    const err = await mqtt.connectAsync(`ws://127.0.0.1:${ports.wsPort}/mqtt`, {
      clientId: 'VM-L', username: 'VM-L', password: 'wrong', reconnectPeriod: 0,
    }).then(() => null, (e: { code?: number }) => e)
    expect(err?.code).toBe(5)
  })

  it('asks the kernel for a listen backlog a reconnect storm does not overflow, on every listener', async () => {
    // Node's default of 511 overflowed when 10,000 machines came back to a restarted broker: each
    // connection dropped there waits out TCP's retransmission timer (README.md#reconnect-storm).
    // `ss` shows a listening socket's backlog as its Send-Q; Linux caps it at net.core.somaxconn.
    const somaxconn = Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8'))
    const expected = Math.min(BROKER_GUARD_DEFAULTS.listenBacklog, somaxconn)
    expect(BROKER_GUARD_DEFAULTS.listenBacklog).toBeGreaterThan(511)
    for (const port of [ports.port, ports.tlsPort, ports.wsPort]) {
      const { stdout } = await promisify(execFile)('ss', ['-Hltn', `sport = :${port}`])
      const [, , sendQ] = stdout.trim().split(/\s+/)
      expect(Number(sendQ), `listener on ${port}: ${stdout}`).toBe(expected)
    }
  })

  it('fails to start on a port in use and leaves nothing open', async () => {
    const second = createBroker({
      config: {
        host: '127.0.0.1', port: 0, wsPort: ports.wsPort, tls: undefined, gatewayPassword: GATEWAY_PASSWORD,
        databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent', limits: { ...BROKER_LIMIT_DEFAULTS }, credentialsPollMs: 1_000,
      },
      directory: new MemoryMachineDirectory(),
      logger: pino({ level: 'silent' }),
    })
    await expect(second.start()).rejects.toMatchObject({ code: 'EADDRINUSE' })
    await second.stop() // nothing left to stop: start() released what it had opened
    expect(second.stats().sockets).toBe(0)
  })
})
