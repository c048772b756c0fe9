// `npm start`: the whole system in one process on the embedded database: broker, gateway, a demo
// kassa with five machines, and a simulated fleet selling a few items a second.
import { createServer } from 'node:net'
import type { Kysely } from 'kysely'
import QRCode from 'qrcode'
import { BrokerConfigError, loadBrokerConfig, type BrokerConfig } from '../broker/config.js'
import { startFleet } from '../device-sim/fleet.js'
import { ConfigError, loadGatewayConfig, wantsStacks } from '../gateway/config.js'
import { dataDirFailureLine } from '../gateway/db/data-dir.messages.js'
import { describeStartFailure } from '../protocol/start-failure.js'
import { portOwner } from '../protocol/port-owner.js'
import { openDatabase } from '../gateway/db/database.js'
import { serveEmbedded } from '../gateway/db/embedded-server.js'
import { migrateToLatest } from '../gateway/db/migrate.js'
import { createGateway } from '../gateway/gateway.js'
import { createLogger } from '../gateway/logger.js'
import type { Database } from '../gateway/db/schema.js'
import { createIngestingBroker, type IngestingBroker } from './broker-node.js'
import { provisionDemo, provisionDemoAdmin } from './demo-fleet.js'

function loadConfigs() {
  try {
    return { gateway: loadGatewayConfig(process.env), broker: loadBrokerConfig(process.env) }
  } catch (err) {
    if (err instanceof ConfigError || err instanceof BrokerConfigError) {
      process.stderr.write(`start: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
}

/** The configured MQTT port, or a free one when it is taken (Mosquitto often holds 1883). */
async function startBrokerSomewhere(config: Readonly<BrokerConfig>, db: Kysely<Database>, logger: ReturnType<typeof createLogger>, telemetryHistory: Readonly<{ days: number; rowsPerMachine: number }>): Promise<{ broker: IngestingBroker; port: number }> {
  const make = (port: number) => createIngestingBroker({ config: { ...config, port }, db, logger, telemetryHistory })
  let broker = make(config.port)
  try {
    return { broker, port: (await broker.start()).port }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    broker = make(0)
    const port = (await broker.start()).port
    logger.warn(`MQTT port ${config.port} is taken (another broker?); listening on ${port} instead`)
    return { broker, port }
  }
}

/** The configured HTTP port, or a free one when it is taken or 0: known before the gateway starts, for receipt URLs. */
async function freePort(wanted: number, logger: ReturnType<typeof createLogger>): Promise<number> {
  const probe = (port: number) => new Promise<number>((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(port, () => {
      const address = server.address()
      server.close(() => resolve(typeof address === 'object' && address ? address.port : port))
    })
  })
  try {
    return await probe(wanted)
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err
    const port = await probe(0)
    logger.warn(`HTTP port ${wanted} is taken; listening on ${port} instead`)
    return port
  }
}

async function main(): Promise<void> {
  const configs = loadConfigs()
  const logger = createLogger({ level: configs.gateway.logLevel === 'info' ? 'warn' : configs.gateway.logLevel, pretty: process.stdout.isTTY })
  const say = (line: string) => process.stdout.write(`${line}\n`)
  // `--fresh`: move an embedded DATA_DIR aside (a damaged one, say) and start with an empty database.
  const fresh = process.argv.slice(2).includes('--fresh')
  const database = await openDatabase({ url: configs.gateway.databaseUrl, dataDir: configs.gateway.dataDir, role: 'npm start', fresh, genericPlans: true })
  await migrateToLatest(database.db).catch((err: unknown) => { throw database.explain(err) })
  const embedded = database.pglite && database.turns && database.lock ? await serveEmbedded(database.pglite, database.turns, database.lock) : null

  const { broker, port: mqttPort } = await startBrokerSomewhere(configs.broker, database.db, logger, configs.gateway.telemetryHistory)
  const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`
  database.lock?.announce({ mqttPort }) // `npm run sim` finds this broker through the lock
  const httpPort = await freePort(configs.gateway.httpPort, logger)
  const gatewayConfig = Object.freeze({
    ...configs.gateway, mqttUrl, mqttPassword: configs.broker.gatewayPassword, httpPort,
    publicUrl: configs.gateway.publicUrlGiven ? configs.gateway.publicUrl : `http://localhost:${httpPort}`,
  })
  const gateway = createGateway({ config: gatewayConfig, database, logger })
  const started = await gateway.start()
  database.lock?.announce({ mqttPort, httpPort: started.httpPort })
  const httpUrl = `http://localhost:${started.httpPort}`
  const machines = await provisionDemo(database.db, undefined, configs.broker.machineSecretKey === undefined ? {} : { machineSecretKey: configs.broker.machineSecretKey })
  const admin = await provisionDemoAdmin(database.db)

  say(`vending gateway is running (${database.kind === 'pglite' ? `embedded database in ${configs.gateway.dataDir}` : 'PostgreSQL'})`)
  say(`  MQTT broker   ${mqttUrl}`)
  say(`  console       ${httpUrl}/   (sign in as ${admin.username} / ${admin.password})`)
  say(`  operator API  Bearer ${gatewayConfig.operatorToken === 'dev-operator-token' ? 'dev-operator-token' : '$OPERATOR_TOKEN'}`)
  say(`  receipts      ${gatewayConfig.publicUrl}/r/{fn}/{fd}?fp=…`)
  if (embedded) say(`  fleet CLI     npm run fleet -- list   (reaches this process's database; npm run sim finds this broker)`)
  say(`  demo fleet    ${machines.map((m) => m.id).join(', ')} selling about 2 items a second; Ctrl-C stops everything`)
  say(`  audits        every minute; ${machines[1]?.id ?? 'one machine'} makes 3 cash vends it never reports (see the dashboard's reconciliation)`)
  say('')

  let first = true
  const fleet = startFleet({
    url: mqttUrl, prefix: gatewayConfig.topicPrefix, machines, rate: 2, durationS: Infinity, telemetryIntervalS: 30,
    // Audits every minute, and three cash vends VM-002 never reports: the dashboard's reconciliation
    // then shows them unreceipted, and its button issues their correction receipt.
    audits: { intervalS: 60 }, offline: { machines: machines.slice(1, 2).map((m) => m.id), vends: 3 },
    onReceipt: (machineId, display, latencyMs) => {
      if (first) {
        first = false
        void QRCode.toString(display.qr, { type: 'terminal', small: true }).then((art) => say(`first receipt's QR, as the machine shows it:\n${art}`))
      }
      const total = (display.fiscal.total / 100).toFixed(2)
      say(`receipt  ${machineId}  ${total} ₽  FD ${display.fiscal.fd}  ${Math.round(latencyMs)} ms  ${display.qr}  ${display.url}`)
    },
  })

  let stopping = false
  const shutdown = async () => {
    if (stopping) return
    stopping = true
    say('\nstopping…')
    await fleet.stop()
    await gateway.stop()
    await broker.stop()
    await embedded?.stop()
    await database.close()
    say('stopped')
    process.exit(0)
  }
  process.on('SIGINT', () => void shutdown())
  process.on('SIGTERM', () => void shutdown())
}

main().catch((err) => {
  const dataDirLine = dataDirFailureLine(err, 'npm start -- --fresh')
  if (dataDirLine) {
    process.stderr.write(`start: ${dataDirLine}\n`)
    process.exit(1)
  }
  const advice = { refused: 'is PostgreSQL running there? Check DATABASE_URL, or unset it for the embedded database' }
  process.stderr.write(`start: ${describeStartFailure(err, { debug: wantsStacks(), portOwner, advice })}\n`)
  process.exit(1)
})
