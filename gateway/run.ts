// Composition root of `npm run gateway` (entry: main.ts): config, logger, database, gateway, shutdown.
import { describeStartFailure, type StartFailureAdvice } from '../protocol/start-failure.js'
import { portOwner } from '../protocol/port-owner.js'
import { ConfigError, loadGatewayConfig, wantsStacks } from './config.js'
import { dataDirFailureLine } from './db/data-dir.messages.js'
import { openDatabase } from './db/database.js'
import { serveEmbedded } from './db/embedded-server.js'
import type { StopSignals } from './early-signals.js'
import { createGateway } from './gateway.js'
import { createLogger } from './logger.js'

const advice: StartFailureAdvice = { refused: 'is PostgreSQL running there? Check the host and port in DATABASE_URL' }
/**
 * While the start takes longer than this, the gateway says every time what it is waiting for (a
 * database lock, a server that accepts the connection and never answers): a start that hangs says where.
 */
const STARTING_REPORT_MS = 10_000
/**
 * A bound on stopping, from the signal (a start still in progress included): an orchestrator
 * kills us anyway after its grace period.
 */
const STOP_BOUND_MS = 20_000

async function main(signals: StopSignals): Promise<void> {
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
  logger.info({ mqtt: config.mqttUrl, gatewayId: config.gatewayId }, 'gateway starting')
  const startedAt = Date.now()
  let stage = 'opening the database'
  // The first signal arms the bound and stops the gateway, or, during the start, is kept until the
  // start is done: there is then a gateway to stop cleanly, and until then no batch or display in
  // flight. (A holder object, since the compiler does not follow assignments made in a handler.)
  const stop: { asked: NodeJS.Signals | null; now: ((signal: NodeJS.Signals) => void) | null } = { asked: null, now: null }
  signals.onStop((signal) => {
    if (stop.asked !== null) return
    stop.asked = signal
    setTimeout(() => { logger.error({ stage }, 'not stopped within the bound; exiting'); process.exit(1) }, STOP_BOUND_MS).unref()
    if (stop.now) stop.now(signal)
    else logger.info({ signal, stage }, 'stop asked for while starting: stopping once started')
  })
  const starting = setInterval(() => logger.warn({ stage, waitedS: Math.round((Date.now() - startedAt) / 1000) }, 'gateway still starting'), STARTING_REPORT_MS)
  starting.unref()
  // `--fresh`: move an embedded DATA_DIR aside (a damaged one, say) and start with an empty database.
  const fresh = process.argv.slice(2).includes('--fresh')
  const database = await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, role: 'npm run gateway', fresh, genericPlans: true })
  if (database.kind === 'pglite') logger.warn({ dataDir: config.dataDir }, 'no DATABASE_URL: using embedded PGlite (one process only)')
  const gateway = createGateway({ config, database, logger })
  const { httpPort } = await gateway.start((s) => { stage = s }).catch((err: unknown) => { throw database.explain(err) })
  // The fleet CLI reaches the embedded database through this process (embedded-server.ts).
  stage = 'serving the embedded database to the fleet CLI'
  const embedded = database.pglite && database.turns && database.lock ? await serveEmbedded(database.pglite, database.turns, database.lock) : null
  database.lock?.announce({ httpPort })
  clearInterval(starting)
  logger.info({ httpPort, mqtt: config.mqttUrl, gatewayId: config.gatewayId }, 'gateway started')

  const shutdown = (signal: NodeJS.Signals) => {
    stage = 'stopping'
    logger.info({ signal }, 'stopping: no new sales, finishing the batch, flushing displays')
    gateway.stop()
      .then(() => embedded?.stop())
      .then(() => database.close())
      .then(() => { logger.info('stopped'); process.exit(0) })
      .catch((err) => { logger.error({ err }, 'error while stopping'); process.exit(1) })
  }
  stop.now = shutdown
  if (stop.asked !== null) shutdown(stop.asked)
}

/** Starts the gateway; on a failure to start, one line on stderr and exit 1. */
export function runGateway(signals: StopSignals): void {
  main(signals).catch((err) => {
    const dataDirLine = dataDirFailureLine(err, 'npm run gateway -- --fresh')
    if (dataDirLine) {
      process.stderr.write(`gateway: ${dataDirLine}\n`)
      process.exit(1)
    }
    process.stderr.write(`gateway: ${describeStartFailure(err, { debug: wantsStacks(), portOwner, advice })}\n`)
    process.exit(1)
  })
}
