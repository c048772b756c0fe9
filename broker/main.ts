import { Kysely, PostgresDialect, sql } from 'kysely'
import pg from 'pg'
import { pino } from 'pino'
import { describeStartFailure } from '../protocol/start-failure.js'
import { portOwner } from '../protocol/port-owner.js'
import { createBroker } from './broker.js'
import { BrokerConfigError, loadBrokerConfig, wantsStacks, type BrokerConfig } from './config.js'
import { createMachineDirectoryRepository, type BrokerDatabase } from './machine-directory.repository.js'

// Composition root of `npm run broker`: config, logger, database, broker, shutdown.

/** Exit status for a bad environment, distinct from a crash (1). */
const EXIT_BAD_CONFIG = 2

function readConfig(): Readonly<BrokerConfig> | undefined {
  try {
    return loadBrokerConfig(process.env, { standalone: true })
  } catch (err) {
    if (!(err instanceof BrokerConfigError)) throw err
    process.stderr.write(`${err.message}\n`)
    process.exitCode = EXIT_BAD_CONFIG
    return undefined
  }
}

async function main(): Promise<void> {
  const config = readConfig()
  if (!config) return
  const logger = pino({
    level: config.logLevel,
    // Nothing here logs a secret on purpose; this is the net under mistakes.
    redact: { paths: ['password', '*.password', 'secret', '*.secret', 'gatewayPassword', '*.gatewayPassword'], censor: '[redacted]' },
  })
  const pool = new pg.Pool({ connectionString: config.databaseUrl, max: 4, keepAlive: true, connectionTimeoutMillis: 5_000 })
  // An idle client that loses its server emits 'error'; the next query reports it.
  pool.on('error', (err) => logger.warn({ err }, 'idle database connection lost'))
  const db = new Kysely<BrokerDatabase>({ dialect: new PostgresDialect({ pool }) })
  const broker = createBroker({ config, directory: createMachineDirectoryRepository(db), logger })

  let stopping = false
  const shutdown = (signal: NodeJS.Signals): void => {
    if (stopping) {
      logger.warn({ signal }, 'second signal: exiting without a clean stop')
      process.exit(1)
    }
    stopping = true
    logger.info({ signal }, 'stopping the broker')
    broker.stop()
      .then(() => db.destroy())
      .then(() => logger.info('broker stopped'), (err: unknown) => {
        logger.error({ err }, 'broker did not stop cleanly')
        process.exitCode = 1
      })
  }
  process.on('SIGINT', shutdown)
  process.on('SIGTERM', shutdown)

  try {
    // Logins need the machines table: a database that cannot be reached is a start failure, said now.
    await sql`select 1`.execute(db)
    const ports = await broker.start()
    logger.info({ ...ports, topicPrefix: config.topicPrefix }, 'broker listening')
  } catch (err) {
    const ports = { [config.port]: 'MQTT_PORT', ...(config.wsPort ? { [config.wsPort]: 'MQTT_WS_PORT' } : {}), ...(config.tls ? { [config.tls.port]: 'MQTT_TLS_PORT' } : {}) }
    process.stderr.write(`broker: ${describeStartFailure(err, { debug: wantsStacks(), portOwner, advice: { ports, refused: 'is PostgreSQL running there? Check the host and port in DATABASE_URL' } })}\n`)
    await db.destroy()
    process.exitCode = 1
    process.removeAllListeners('SIGINT').removeAllListeners('SIGTERM')
  }
}

await main()
