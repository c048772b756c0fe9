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
/** A bound on stopping, once asked: an orchestrator kills us anyway after its grace period. */
const STOP_BOUND_MS = 20_000

/** A stop asked for while the gateway was starting: the signal, when, and the bound's timer. */
interface StopAsked { signal: NodeJS.Signals; at: number; bound: NodeJS.Timeout }

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
  // A stop asked for during the start takes effect once the start is done: there is then a
  // gateway to stop cleanly, and until then there is no batch or display in flight.
  // The bound runs from the signal: the start and the stop share it.
  let stopAsked: StopAsked | null = null
  signals.onStop((signal) => {
    if (stopAsked !== null) return
    const bound = setTimeout(() => { logger.error({ stage }, 'the start did not finish in time to stop; exiting'); process.exit(1) }, STOP_BOUND_MS)
    bound.unref()
    stopAsked = { signal, at: Date.now(), bound }
    logger.info({ signal, stage }, 'stop asked for while starting: stopping once started')
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

  let stopping = false
  const shutdown = (signal: string, askedAt = Date.now()) => {
    if (stopping) return
    stopping = true
    logger.info({ signal }, 'stopping: no new sales, finishing the batch, flushing displays')
    const force = setTimeout(() => { logger.error('shutdown took too long; exiting'); process.exit(1) }, Math.max(0, askedAt + STOP_BOUND_MS - Date.now()))
    force.unref()
    gateway.stop()
      .then(() => embedded?.stop())
      .then(() => database.close())
      .then(() => { logger.info('stopped'); process.exit(0) })
      .catch((err) => { logger.error({ err }, 'error while stopping'); process.exit(1) })
  }
  signals.onStop((signal) => shutdown(signal))
  // Set by the handler above, which the compiler's narrowing of `stopAsked` does not follow.
  const asked = stopAsked as StopAsked | null
  if (asked !== null) {
    clearTimeout(asked.bound)
    shutdown(asked.signal, asked.at)
  }
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
