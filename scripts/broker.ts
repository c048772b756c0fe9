import { sql, type Kysely } from 'kysely'
import { pino } from 'pino'
import { BrokerConfigError, loadBrokerConfig, wantsStacks, type BrokerConfig } from '../broker/config.js'
import { ConfigError, loadGatewayConfig } from '../gateway/config.js'
import { openDatabase } from '../gateway/db/database.js'
import { createBroker } from '../broker/broker.js'
import { createMachineDirectoryRepository, type BrokerDatabase } from '../broker/machine-directory.repository.js'
import { describeStartFailure } from '../protocol/start-failure.js'
import { portOwner } from '../protocol/port-owner.js'
import { createIngestingBroker } from './broker-node.js'

// Composition root of `npm run broker`: config, logger, database, a broker that stores its
// machines' sales, status and telemetry (broker-node.ts), shutdown.

/** Exit status for a bad environment, distinct from a crash (1). */
const EXIT_BAD_CONFIG = 2

function readConfig(): { broker: Readonly<BrokerConfig>; telemetryHistory: Readonly<{ days: number; rowsPerMachine: number }> } | undefined {
  try {
    const broker = loadBrokerConfig(process.env, { standalone: true })
    // The telemetry history's bounds are the gateway's variables; nothing else of its config applies here.
    const { TELEMETRY_HISTORY_DAYS, TELEMETRY_HISTORY_ROWS } = process.env
    return { broker, telemetryHistory: loadGatewayConfig({ TELEMETRY_HISTORY_DAYS, TELEMETRY_HISTORY_ROWS }).telemetryHistory }
  } catch (err) {
    if (!(err instanceof BrokerConfigError) && !(err instanceof ConfigError)) throw err
    process.stderr.write(`${err.message}\n`)
    process.exitCode = EXIT_BAD_CONFIG
    return undefined
  }
}

async function main(): Promise<void> {
  const configs = readConfig()
  if (!configs) return
  const config = configs.broker
  const logger = pino({
    level: config.logLevel,
    // Nothing here logs a secret on purpose; this is the net under mistakes.
    redact: { paths: ['password', '*.password', 'secret', '*.secret', 'gatewayPassword', '*.gatewayPassword'], censor: '[redacted]' },
  })
  const database = await openDatabase({ url: config.databaseUrl, dataDir: '.', poolSize: 6, genericPlans: true })
  const broker = config.ingest === false
    ? createBroker({ config, directory: createMachineDirectoryRepository(database.db as unknown as Kysely<BrokerDatabase>), logger })
    : createIngestingBroker({ config, db: database.db, logger, telemetryHistory: configs.telemetryHistory })

  let stopping = false
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean stop')
      process.exit(1)
    }
    stopping = true
    logger.info({ signal }, 'stopping the broker')
    broker.stop()
      .then(() => database.close())
      .then(() => logger.info('broker stopped'), (err: unknown) => {
        logger.error({ err }, 'broker did not stop cleanly')
        process.exitCode = 1
      })
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)

  try {
    // Logins need the machines table: a database that cannot be reached is a start failure, said now.
    await sql`select 1`.execute(database.db)
    const ports = await broker.start()
    logger.info({ ...ports, topicPrefix: config.topicPrefix }, 'broker listening')
  } catch (err) {
    const ports = { [config.port]: 'MQTT_PORT', ...(config.wsPort ? { [config.wsPort]: 'MQTT_WS_PORT' } : {}), ...(config.tls ? { [config.tls.port]: 'MQTT_TLS_PORT' } : {}) }
    process.stderr.write(`broker: ${describeStartFailure(err, { debug: wantsStacks(), portOwner, advice: { ports, refused: 'is PostgreSQL running there? Check the host and port in DATABASE_URL' } })}\n`)
    await database.close()
    process.exitCode = 1
    process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM')
  }
}

await main()
