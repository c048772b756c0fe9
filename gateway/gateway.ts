import type { Logger } from 'pino'
import { Counter, Registry } from 'prom-client'
import { GATEWAY_HEARTBEAT_MS, LiveGateways, addressedKickGateway, decodeGatewayAlive, decodeStoredKick, gatewayAliveTopic, storedKickTopic } from '../protocol/index.js'
import { recordActive } from './alerts/alert-history.repository.js'
import { createAlertEvaluator } from './alerts/alert.evaluator.js'
import { channelsOf } from './alerts/notify/channels.js'
import { createNotificationDispatcher } from './alerts/notify/notification.dispatcher.js'
import { ATOL_PROVIDER, createAtolClientRegistry } from './atol/atol-clients.js'
import { createFleetSnapshotLoader } from './alerts/fleet-snapshot.js'
import type { GatewayConfig } from './config.js'
import { openDatabase, type DatabaseHandle } from './db/database.js'
import { createDatabaseProbe } from './db/health.js'
import { migrateToLatest } from './db/migrate.js'
import { createStatisticsKeeper } from './db/statistics.js'
import { createDisplayPublisher } from './display/display.publisher.js'
import { createAtolPoller } from './fiscalizer/atol.poller.js'
import { createFiscalizer } from './fiscalizer/fiscalizer.worker.js'
import { registerAtolCallbackRoute } from './http/atol-callback.route.js'
import { createSubscribedIngest } from './ingest/subscribed-ingest.js'
import { createHttpServer } from './http/http.server.js'
import { createGatewayMetrics } from './metrics/gateway.metrics.js'
import { connectGatewayMqtt, type GatewayMqtt } from './mqtt/gateway-mqtt.js'

/** Database connections of the HTTP server (pages, operator API), apart from the gateway's own pool. */
const HTTP_POOL_SIZE = 4

export interface GatewayDeps {
  config: Readonly<GatewayConfig>
  database: DatabaseHandle
  logger: Logger
  now?: () => Date
}

/**
 * The gateway wired from its parts. Nothing happens until `start()`; `stop()` releases in reverse
 * order: stop taking sales, finish the batch in flight, flush displays, close connections.
 */
export function createGateway(deps: GatewayDeps) {
  const { config, database, logger } = deps
  const db = database.db
  let mqtt: GatewayMqtt | null = null
  /** The database as ingest's writes found it (GATEWAY_INGEST=gateway), and as the probe finds it: ready needs both. */
  let ingestHealthy = true
  let probeHealthy = true
  let migrated = false

  /** Starts every part; `onStage` hears what each wait of the start-up is for (main.ts reports a slow one). */
  async function start(onStage: (stage: string) => void = () => undefined) {
    onStage('migrating the database')
    await migrateToLatest(db)
    migrated = true
    onStage('reading the database server\'s settings')
    const statistics = await createStatisticsKeeper({ db, kind: database.kind, logger: logger.child({ component: 'statistics' }) })
    mqtt = connectGatewayMqtt({
      url: config.mqttUrl, gatewayId: config.gatewayId, username: config.mqttUsername,
      password: config.mqttPassword, topicPrefix: config.topicPrefix, ingest: config.ingest, logger: logger.child({ component: 'mqtt' }),
    })
    // Fleet health: alerts over the shared state, metrics on a registry of this gateway's own.
    const now = deps.now ?? (() => new Date())
    const alerts = createAlertEvaluator({
      load: createFleetSnapshotLoader(db, { auditSettleMs: config.auditSettleS * 1000 }), thresholds: config.alerts, intervalMs: config.alerts.intervalMs, now,
      logger: logger.child({ component: 'alerts' }),
      // History in the database: raised, acknowledged, cleared; what the notifications send from.
      onEvaluated: async (t, at) => { await recordActive(db, [...t.active.values()], at) },
    })
    const channels = channelsOf(config.notify)
    const notifications = channels.length === 0 ? null : createNotificationDispatcher({
      db, channels, routes: config.notify.routes, policy: { repeatMs: config.notify.repeatMs, retryMs: config.notify.retryMs },
      publicUrl: config.publicUrl, logger: logger.child({ component: 'notify' }), now, exclusive: database.kind === 'postgres',
    })
    const registry = new Registry()
    const metrics = createGatewayMetrics({
      registry, db, logger: logger.child({ component: 'metrics' }), alerts: alerts.active,
      mqtt: () => ({ ingest: mqtt?.ingest.connected ?? false, publisher: mqtt?.publisher.connected ?? false, subscribed: mqtt?.ready() ?? false }),
      displaysInFlight: () => publisher.inflight(),
    })
    const publisher = createDisplayPublisher({
      db, client: mqtt.publisher, topicPrefix: config.topicPrefix, logger: logger.child({ component: 'display' }), onSent: metrics.displaySent, onResent: metrics.displaysResent,
      // Only a gateway that stores sales answers their repeats from memory; a broker that stores them
      // answers a repeat from the database.
      ...(config.ingest === 'gateway' ? {} : { recentReceipts: 0 }),
    })
    // Cloud kassas (ATOL Online v5): the fiscalizer submits their sales, this loop sends and polls them.
    const atol = createAtolPoller({
      db, logger: logger.child({ component: 'atol' }), clients: createAtolClientRegistry({ providerSecret: config.providerSecret }),
      publicUrl: config.publicUrl, ...config.atol, ...(deps.now ? { now: deps.now } : {}),
      onCommitted: (displays) => {
        metrics.committed(displays, { taken: 0 })
        displays.forEach(publisher.publish)
      },
    })
    // With the brokers storing sales, each kassa is this gateway's or another's (protocol/gateway-ring.ts).
    const ring = config.ingest === 'gateway' ? null : new LiveGateways({ self: config.gatewayId })
    const fiscalizer = createFiscalizer({
      // Cut off from its broker, it owns nothing (its displays could not leave; the others, still
      // counting it for a moment, are kicked instead); its poll still takes sales left waiting.
      ...(ring ? { owns: (kassaId: string) => mqtt?.ready() === true && ring.owns(kassaId) } : {}),
      db, batchMax: config.batchMax, roundWindowMs: config.batchWindowMs, publicUrl: config.publicUrl, logger: logger.child({ component: 'fiscalizer' }),
      onCommitted: (displays, batch) => {
        metrics.committed(displays, batch)
        publisher.publishCommitted(displays, batch.range)
      },
      ...(deps.now ? { now: deps.now } : {}),
      signers: { [ATOL_PROVIDER]: atol.runBatch },
    })
    // Ingest reports the database's health as it writes; the probe covers a gateway with no sales.
    // Embedded PGlite lives in this process: there is no link to lose and nothing to probe.
    const databaseProbe = config.databaseUrl && database.kind === 'postgres'
      ? createDatabaseProbe({ url: config.databaseUrl, onHealth: (ok) => { probeHealthy = ok } })
      : null
    // Sales (and audits) are stored by the broker holding the machine's connection; its kick after
    // each batch, addressed to the kassa's owner, starts the fiscalizer at once; the fiscalizer's
    // poll covers a lost one and a dead owner. Or, for a broker that does not store them, by this
    // gateway (GATEWAY_INGEST=gateway).
    const ingest = mqtt.ingest
    const kickTopic = storedKickTopic(config.topicPrefix)
    const aliveTopic = gatewayAliveTopic(config.topicPrefix)
    const subscribed = config.ingest === 'gateway'
      ? createSubscribedIngest({
        db, client: ingest, publisher, topicPrefix: config.topicPrefix, logger, now,
        chunkMax: Math.max(config.batchMax, 500), windowMs: config.batchWindowMs, telemetryHistory: config.telemetryHistory,
        onStored: (stored) => fiscalizer.kick(stored.map((s) => s.kassa_id), stored), onHealth: (ok) => { ingestHealthy = ok }, onWritten: metrics.salesWritten,
      })
      : null
    if (ring) {
      ingest.on('message', (topic, payload) => {
        if (topic === aliveTopic) {
          const alive = decodeGatewayAlive(payload)
          if (alive) ring.seen(alive.id, alive.leaving)
        } else if (topic === kickTopic) {
          // From a broker that knows no gateway yet: the kassas this gateway owns.
          const kick = decodeStoredKick(payload)
          fiscalizer.kick(kick.kassas.filter((id) => ring.owns(id)), kick.sales)
        } else if (addressedKickGateway(config.topicPrefix, topic) === config.gatewayId) {
          const kick = decodeStoredKick(payload)
          fiscalizer.kick(kick.kassas, kick.sales)
        }
      })
    }
    // HTTP reads through a small pool of its own, so a flood of page requests never holds the
    // connections ingest and the fiscalizer need (embedded PGlite is one connection anyway).
    onStage('opening the HTTP pool of the database')
    const httpDatabase = database.kind === 'postgres' && config.databaseUrl
      ? await openDatabase({ url: config.databaseUrl, dataDir: config.dataDir, poolSize: HTTP_POOL_SIZE })
      : null
    const http = createHttpServer({
      db: httpDatabase?.db ?? db, config, logger: logger.child({ component: 'http' }),
      readiness: () => ({ migrated, database: ingestHealthy && probeHealthy, broker: mqtt?.ready() ?? false }),
      alerts: alerts.active, metrics: registry, now, notifications,
    })
    const callbacks = new Counter({
      name: 'gateway_atol_callbacks_total', labelNames: ['outcome'], registers: [registry],
      help: 'Provider callbacks by outcome: confirmed by the provider, forged (disagreed with it), unverified, unknown uuid',
    })
    registerAtolCallbackRoute(http.app, atol, (outcome) => callbacks.inc({ outcome }))
    onStage('listening for HTTP')
    const httpPort = await http.listen()
    publisher.start()
    subscribed?.start()
    databaseProbe?.start()
    fiscalizer.start()
    // A gateway that stops being heard from hands its kassas to the others: they look at once.
    let members = ring?.list().join() ?? ''
    const ringWatch = ring && setInterval(() => {
      const now = ring.list().join()
      if (now !== members) fiscalizer.poll()
      members = now
    }, GATEWAY_HEARTBEAT_MS)
    atol.start()
    statistics.start()
    alerts.start()
    notifications?.start()
    stopParts = async () => {
      // Stop reading first, so nothing new arrives while the rest drains; the other gateways take
      // this one's kassas from now on.
      if (ringWatch) clearInterval(ringWatch)
      await mqtt?.leave()
      await new Promise<void>((resolve) => ingest.end(false, {}, () => resolve()))
      await subscribed?.stop()
      await fiscalizer.stop()
      await atol.stop()
      await alerts.stop()
      await notifications?.stop()
      await statistics.stop()
      await databaseProbe?.stop()
      await publisher.stop()
      await mqtt?.close()
      await http.close()
      await httpDatabase?.close()
    }
    return { httpPort, fiscalizer, sales: subscribed?.sales ?? null, publisher, mqtt, alerts, registry, atol, notifications }
  }

  let stopParts: () => Promise<void> = async () => {}
  async function stop(): Promise<void> {
    await stopParts()
    stopParts = async () => {}
  }

  return { start, stop }
}
export type Gateway = ReturnType<typeof createGateway>
