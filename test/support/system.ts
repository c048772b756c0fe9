import pino from 'pino'
import type { Kysely } from 'kysely'
import { createBroker, type Broker } from '../../broker/broker.js'
import type { BrokerPorts } from '../../broker/listeners.js'
import { BROKER_LIMIT_DEFAULTS, type BrokerConfig } from '../../broker/config.js'
import { createMachineDirectoryRepository, type BrokerDatabase } from '../../broker/machine-directory.repository.js'
import { loadGatewayConfig, type GatewayConfig } from '../../gateway/config.js'
import type { DatabaseHandle } from '../../gateway/db/database.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { createGateway } from '../../gateway/gateway.js'
import { afterAll, beforeAll } from 'vitest'
import { createTestDatabase, type TestDatabase } from './database.js'
import { connectMachine, type TestMachine } from './machine-client.js'
import { createIngestingBroker, type IngestCounters, type IngestingBroker } from '../../scripts/broker-node.js'
import { waitFor } from './wait.js'

export const TEST_KASSA = {
  id: 'K1', name: 'ООО «Вендинг»', inn: '7707083893', reg: '0000000001012345',
  fn: '9999078900001234', sno: 'usn_income', tz: 'Europe/Moscow',
} as const

export const logger = pino({ level: process.env.TEST_LOG_LEVEL ?? 'silent' })

/**
 * A broker that stores its machines' sales, as `npm run broker` runs it; `stop()` also ends its
 * ingest. `{ ingest: false }`: a broker that only routes, for a gateway with GATEWAY_INGEST=gateway.
 */
export async function startBroker(db: Kysely<any>, overrides: Partial<BrokerConfig> = {}, options: { ingest?: boolean } = {}): Promise<{ broker: Broker; ingest: IngestCounters | null; sales: IngestingBroker['sales'] | null; url: string; port: number; ports: BrokerPorts }> {
  const config: BrokerConfig = {
    host: '127.0.0.1', port: 0, wsPort: undefined, tls: undefined, gatewayPassword: 'test-gateway-password',
    databaseUrl: undefined, topicPrefix: 'vending', logLevel: 'silent', limits: { ...BROKER_LIMIT_DEFAULTS, ratePerS: 200, rateBurst: 400 },
    credentialsPollMs: 200, ...overrides,
  }
  if (options.ingest === false) {
    const broker = createBroker({ config, directory: createMachineDirectoryRepository(db as Kysely<BrokerDatabase>), logger })
    const ports = await broker.start()
    return { broker, ingest: null, sales: null, url: `mqtt://127.0.0.1:${ports.port}`, port: ports.port, ports }
  }
  const node = createIngestingBroker({ config, db, logger })
  const ports = await node.start()
  const broker: Broker = { ...node.broker, stop: () => node.stop() }
  return { broker, ingest: node.ingest, sales: node.sales, url: `mqtt://127.0.0.1:${ports.port}`, port: ports.port, ports }
}

export function gatewayConfig(mqttUrl: string, overrides: Record<string, string> = {}): Readonly<GatewayConfig> {
  return loadGatewayConfig({
    MQTT_URL: mqttUrl, GATEWAY_MQTT_PASSWORD: 'test-gateway-password', HTTP_PORT: '0', HTTP_HOST: '127.0.0.1',
    PUBLIC_URL: 'http://receipts.test', OPERATOR_TOKEN: 'test-operator-token-0123456789', LOG_LEVEL: 'silent', ...overrides,
  })
}

export async function startGateway(database: DatabaseHandle, mqttUrl: string, overrides: Record<string, string> = {}, now?: () => Date) {
  const config = gatewayConfig(mqttUrl, overrides)
  const gateway = createGateway({ config, database, logger, ...(now ? { now } : {}) })
  const parts = await gateway.start()
  await waitFor(() => parts.mqtt.ready(), 'the gateway to connect and subscribe')
  return { gateway, config, ...parts }
}

export interface Credentials { id: string; secret: string }

/** Provisions the test kassa and `count` machines through the fleet commands, as an operator would. */
export async function provisionFleet(db: Kysely<any>, count: number, options: { prefix?: string; kassa?: Partial<Record<keyof typeof TEST_KASSA, string>> & { docLimit?: number } } = {}): Promise<Credentials[]> {
  const kassa = { ...TEST_KASSA, ...options.kassa }
  await runFleetCommand(db, 'add-kassa', { ...kassa, 'fn-model': 'fn-36', 'doc-limit': kassa.docLimit ?? 250_000 })
  const machines: Credentials[] = []
  for (let i = 1; i <= count; i++) {
    const id = `${options.prefix ?? 'VM-'}${String(i).padStart(3, '0')}`
    const { output } = await runFleetCommand(db, 'add-machine', { id, kassa: kassa.id, address: 'г. Москва, ул. Тверская, 1', place: 'Вестибюль, 1 этаж' })
    machines.push(output as Credentials)
  }
  return machines
}

export interface TestSystem {
  database: TestDatabase
  broker: Awaited<ReturnType<typeof startBroker>>
  gw: Awaited<ReturnType<typeof startGateway>>
  creds: Credentials[]
  machines: TestMachine[]
}

/**
 * A database, broker and in-process gateway with `count` provisioned machines connected, started
 * before the file's tests and stopped after them. Read its fields inside tests (they are set in beforeAll).
 */
export function useSystem(count: number): TestSystem {
  const system = { machines: [] as TestMachine[] } as TestSystem
  beforeAll(async () => {
    system.database = await createTestDatabase()
    system.creds = await provisionFleet(system.database.handle.db, count)
    system.broker = await startBroker(system.database.handle.db)
    system.gw = await startGateway(system.database.handle, system.broker.url)
    for (const c of system.creds) system.machines.push(await connectMachine(system.broker.url, c))
  })
  afterAll(async () => {
    await Promise.all(system.machines.map((m) => m.close()))
    await system.gw?.gateway.stop()
    await system.broker?.broker.stop()
    await system.database?.drop()
  })
  return system
}
