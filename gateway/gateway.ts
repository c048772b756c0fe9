import type { Logger } from 'pino'
import { parseMachineTopic } from '../protocol/index.js'
import type { GatewayConfig } from './config.js'
import type { DatabaseHandle } from './db/database.js'
import { migrateToLatest } from './db/migrate.js'
import { createDisplayPublisher } from './display/display.publisher.js'
import { createFiscalizer } from './fiscalizer/fiscalizer.worker.js'
import { createHttpServer } from './http/http.server.js'
import { createSaleConsumer } from './ingest/sale.consumer.js'
import { createPresenceConsumer } from './machines/presence.consumer.js'
import { connectGatewayMqtt, type GatewayMqtt } from './mqtt/gateway-mqtt.js'

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
  let dbHealthy = true
  let migrated = false

  async function start() {
    await migrateToLatest(db)
    migrated = true
    mqtt = connectGatewayMqtt({
      url: config.mqttUrl, gatewayId: config.gatewayId, username: config.mqttUsername,
      password: config.mqttPassword, topicPrefix: config.topicPrefix, logger: logger.child({ component: 'mqtt' }),
    })
    const publisher = createDisplayPublisher({ db, client: mqtt.publisher, topicPrefix: config.topicPrefix, logger: logger.child({ component: 'display' }) })
    const fiscalizer = createFiscalizer({
      db, batchMax: config.batchMax, publicUrl: config.publicUrl, logger: logger.child({ component: 'fiscalizer' }),
      onCommitted: (displays) => displays.forEach(publisher.publish),
      ...(deps.now ? { now: deps.now } : {}),
    })
    const sales = createSaleConsumer({
      db, publisher, logger: logger.child({ component: 'ingest' }),
      chunkMax: Math.max(config.batchMax, 500), windowMs: config.batchWindowMs, highWater: 5000,
      onStored: (kassaIds) => fiscalizer.kick(kassaIds),
      onHealth: (ok) => { dbHealthy = ok },
    })
    const presence = createPresenceConsumer({ db, logger: logger.child({ component: 'presence' }) })
    const ingest = mqtt.ingest
    // Replaces mqtt.js' default so the PUBACK waits for `done` (held only under backpressure).
    ingest.handleMessage = (packet, done) => {
      const topic = packet.topic
      const payload = packet.payload as Uint8Array
      const parsed = parseMachineTopic(config.topicPrefix, topic)
      if (parsed?.channel === 'status' || parsed?.channel === 'telemetry') {
        presence.accept(topic, parsed.machineId, parsed.channel, payload)
        done()
      } else {
        sales.accept(topic, parsed?.machineId ?? null, payload, () => done())
      }
    }
    const http = createHttpServer({
      db, config, logger: logger.child({ component: 'http' }),
      readiness: () => ({ migrated, database: dbHealthy, broker: mqtt?.ready() ?? false }),
    })
    const httpPort = await http.listen()
    publisher.start()
    presence.start()
    fiscalizer.start()
    stopParts = async () => {
      // Stop reading sales first, so nothing new arrives while the rest drains.
      await new Promise<void>((resolve) => ingest.end(false, {}, () => resolve()))
      await sales.stop()
      await fiscalizer.stop()
      await presence.stop()
      await publisher.stop()
      await mqtt?.close()
      await http.close()
    }
    return { httpPort, fiscalizer, sales, publisher, mqtt }
  }

  let stopParts: () => Promise<void> = async () => {}
  async function stop(): Promise<void> {
    await stopParts()
    stopParts = async () => {}
  }

  return { start, stop }
}
export type Gateway = ReturnType<typeof createGateway>
