// Composition root of `npm run gateway`: config, logger, database, gateway, shutdown.
import { describeStartFailure, type StartFailureAdvice } from '../protocol/start-failure.js'
import { ConfigError, loadGatewayConfig, wantsStacks } from './config.js'
import { openDatabase } from './db/database.js'
import { createGateway } from './gateway.js'
import { createLogger } from './logger.js'

const advice: StartFailureAdvice = { refused: 'is PostgreSQL running there? Check the host and port in DATABASE_URL' }

async function main(): Promise<void> {
  let config
  try {
    config = loadGatewayConfig()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`gateway: ${err.message}\n`)
      process.exit(2)
    }
    throw err
  }
  advice.ports = { [config.httpPort]: 'HTTP_PORT' }
  const logger = createLogger({ level: config.logLevel, name: 'gateway' })
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir })
  if (database.kind === 'pglite') logger.warn({ dataDir: config.dataDir }, 'no DATABASE_URL: using embedded PGlite (one process only)')
  const gateway = createGateway({ config, database, logger })
  const { httpPort } = await gateway.start()
  logger.info({ httpPort, mqtt: config.mqttUrl, gatewayId: config.gatewayId }, 'gateway started')

  let stopping = false
  const shutdown = (signal: string) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping: no new sales, finishing the batch, flushing displays')
    // A bound on shutdown: an orchestrator kills us anyway after its grace period.
    const force = setTimeout(() => { logger.error('shutdown took too long; exiting'); process.exit(1) }, 20_000)
    force.unref()
    gateway.stop()
      .then(() => database.close())
      .then(() => { logger.info('stopped'); process.exit(0) })
      .catch((err) => { logger.error({ err }, 'error while stopping'); process.exit(1) })
  }
  process.on('SIGINT', () => shutdown('SIGINT'))
  process.on('SIGTERM', () => shutdown('SIGTERM'))
}

main().catch((err) => {
  process.stderr.write(`gateway: ${describeStartFailure(err, { debug: wantsStacks(), advice })}\n`)
  process.exit(1)
})
