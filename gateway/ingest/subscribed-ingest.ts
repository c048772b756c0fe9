import type { Kysely } from 'kysely'
import type { MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { machineTopic, parseMachineTopic } from '../../protocol/index.js'
import { createAuditConsumer } from '../audit/audit.consumer.js'
import type { Database } from '../db/schema.js'
import type { DisplayPublisher } from '../display/display.publisher.js'
import { createPresenceConsumer } from '../machines/presence.consumer.js'
import { createTelemetryHistory } from '../operator/telemetry-history.writer.js'
import { createSaleConsumer, type SaleConsumerDeps } from './sale.consumer.js'

// GATEWAY_INGEST=gateway: the gateway subscribes to every machine's sale, status, telemetry and audit and
// stores them itself, for a broker that does not (Mosquitto or any other MQTT 3.1.1 broker). With
// the project's brokers the broker holding a machine's connection stores them (broker-node.ts in
// scripts/), and gateways only fiscalize.

export interface SubscribedIngestDeps {
  db: Kysely<Database>
  /** The persistent-session client subscribed to the machines' uplink. */
  client: MqttClient
  publisher: DisplayPublisher
  topicPrefix: string
  logger: Logger
  chunkMax: number
  windowMs: number
  telemetryHistory: Readonly<{ days: number; rowsPerMachine: number }>
  now: () => Date
  onStored: SaleConsumerDeps['onStored']
  onHealth: NonNullable<SaleConsumerDeps['onHealth']>
  onWritten: NonNullable<SaleConsumerDeps['onWritten']>
}

export function createSubscribedIngest(deps: SubscribedIngestDeps) {
  const { logger } = deps
  const history = createTelemetryHistory({
    db: deps.db, logger: logger.child({ component: 'telemetry-history' }), now: deps.now,
    days: deps.telemetryHistory.days, rowsPerMachine: deps.telemetryHistory.rowsPerMachine,
  })
  const sales = createSaleConsumer({
    db: deps.db, publisher: deps.publisher, now: deps.now, logger: logger.child({ component: 'ingest' }),
    chunkMax: deps.chunkMax, windowMs: deps.windowMs, highWater: 5000,
    onStored: deps.onStored, onHealth: deps.onHealth, onWritten: deps.onWritten,
  })
  const audits = createAuditConsumer({
    db: deps.db, logger: logger.child({ component: 'audits' }),
    // No outbox row: a lost answer is made good by the machine's republish, answered the same.
    answer: (machineId, message) => deps.client.publish(machineTopic(deps.topicPrefix, machineId, 'display'), JSON.stringify(message), { qos: 1 }, () => undefined),
  })
  const presence = createPresenceConsumer({ db: deps.db, logger: logger.child({ component: 'presence' }), onTelemetry: history.record })
  // Replaces mqtt.js' default so the PUBACK waits for `done` (held only under backpressure).
  deps.client.handleMessage = (packet, done) => {
    const topic = packet.topic
    const payload = packet.payload as Uint8Array
    const parsed = parseMachineTopic(deps.topicPrefix, topic)
    if (parsed?.channel === 'status' || parsed?.channel === 'telemetry') {
      presence.accept(topic, parsed.machineId, parsed.channel, payload)
      done()
    } else if (parsed?.channel === 'audit') {
      audits.accept(topic, parsed.machineId, payload)
      done()
    } else {
      sales.accept(topic, parsed?.machineId ?? null, payload, () => done())
    }
  }
  return {
    sales,
    start(): void {
      presence.start()
      history.start()
    },
    /** After the client stopped reading: writes what was read. */
    async stop(): Promise<void> {
      await sales.stop()
      await audits.stop()
      await presence.stop()
      await history.stop()
    },
  }
}
