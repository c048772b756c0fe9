import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { createBroker, type Broker } from '../broker/broker.js'
import type { BrokerConfig } from '../broker/config.js'
import { createMachineDirectoryRepository, type BrokerDatabase } from '../broker/machine-directory.repository.js'
import { createAuditConsumer } from '../gateway/audit/audit.consumer.js'
import type { Database } from '../gateway/db/schema.js'
import { createSaleConsumer } from '../gateway/ingest/sale.consumer.js'
import type { RejectedMessage } from '../gateway/ingest/sale.repository.js'
import { createPresenceConsumer } from '../gateway/machines/presence.consumer.js'
import { createTelemetryHistory } from '../gateway/operator/telemetry-history.writer.js'
import {
  LiveGateways, decodeGatewayAlive, encodeStoredKick, gatewayAliveTopic, kickAddressees, machineTopic, storedKickTopic, type DisplayMessage, type StoredSale,
} from '../protocol/index.js'

// A broker that stores what its machines send: the composition root shared by `npm run broker`,
// `npm start`, the tests and the bench. The broker itself knows no business rule (it hands
// machines' uplink to hooks, broker/uplink.ts); here those hooks are wired to the gateway's ingest,
// presence and audit modules. So each sale is written once, by the process holding the machine's
// connection, and its PUBACK leaves after the batch commit: PUBACK means stored. After each batch
// the gateway that owns each kassa is told it has new work (protocol/stored-kick.ts, gateway-ring.ts).

export interface IngestingBrokerDeps {
  config: Readonly<BrokerConfig>
  db: Kysely<Database>
  logger: Logger
  telemetryHistory?: Readonly<{ days: number; rowsPerMachine: number }>
  /** Most sales a statement writes. */
  chunkMax?: number
  /** ms a batch may wait to fill during a burst (0: adaptive). */
  windowMs?: number
  /** A chunk was written (counters, metrics). */
  onWritten?: (outcome: { stored: number; repeated: number; rejected: readonly RejectedMessage[] }) => void
}

export interface IngestCounters {
  /** Sales stored, repeats answered, messages rejected, kicks sent. */
  stored: number
  repeated: number
  rejected: number
  kicks: number
}

export interface IngestingBroker {
  readonly broker: Broker
  readonly ingest: IngestCounters
  /** The sale consumer the broker's uplink feeds (tests hand it sales directly). */
  readonly sales: ReturnType<typeof createSaleConsumer>
  start(): ReturnType<Broker['start']>
  stop(): Promise<void>
}

const noop = () => {}

export function createIngestingBroker(deps: IngestingBrokerDeps): IngestingBroker {
  const prefix = deps.config.topicPrefix
  const counters: IngestCounters = { stored: 0, repeated: 0, rejected: 0, kicks: 0 }
  let broker: Broker | undefined
  const publish = (topic: string, payload: Buffer, qos: 0 | 1) =>
    broker?.aedes.publish({ cmd: 'publish', topic, payload, qos, retain: false, dup: false }, noop)
  // The gateways' heartbeats (through Redis from every broker): each kick goes to the kassa's owner.
  const gateways = new LiveGateways()

  const sales = createSaleConsumer({
    db: deps.db, logger: deps.logger.child({ component: 'ingest' }),
    // Repeats of answered sales and rejections are answered straight to the machine.
    publisher: {
      answerRepeat: () => false,
      publishDirect: (machineId: string, _saleId: string, display: DisplayMessage) =>
        publish(machineTopic(prefix, machineId, 'display'), Buffer.from(JSON.stringify(display)), 1),
    },
    chunkMax: deps.chunkMax ?? 500, windowMs: deps.windowMs ?? deps.config.ingestWindowMs ?? 0, highWater: 5000, ackWhenStored: true,
    // No repeat is answered from memory here, so no content is kept to recognise one.
    knownContent: 0,
    onStored: (stored) => {
      const byKassa = new Map<string, StoredSale[]>()
      for (const s of stored) {
        const list = byKassa.get(s.kassa_id)
        if (list) list.push(s)
        else byKassa.set(s.kassa_id, [s])
      }
      // No gateway heard from yet (this broker just started): to every gateway, each takes its own.
      // A kassa whose owner went quiet is also kicked at the next owner: its broker may have died.
      // Each kick carries its kassas' sales, which their owner signs without reading them back.
      for (const [owner, ids] of kickAddressees(byKassa.keys(), gateways.list(), (id) => gateways.suspect(id))) {
        counters.kicks++
        publish(storedKickTopic(prefix, owner ?? undefined), encodeStoredKick(ids, ids.flatMap((id) => byKassa.get(id)!)), 0)
      }
    },
    onWritten: (outcome) => {
      counters.stored += outcome.stored
      counters.repeated += outcome.repeated
      counters.rejected += outcome.rejected.length
      deps.onWritten?.(outcome)
    },
  })
  const history = createTelemetryHistory({
    db: deps.db, logger: deps.logger.child({ component: 'telemetry-history' }),
    days: deps.telemetryHistory?.days ?? 7, rowsPerMachine: deps.telemetryHistory?.rowsPerMachine ?? 1000,
  })
  const presence = createPresenceConsumer({ db: deps.db, logger: deps.logger.child({ component: 'presence' }), onTelemetry: history.record })

  const audits = createAuditConsumer({
    db: deps.db, logger: deps.logger.child({ component: 'audits' }),
    // No outbox row: a lost answer is made good by the machine's republish, answered the same.
    answer: (machineId, message) => publish(machineTopic(prefix, machineId, 'display'), Buffer.from(JSON.stringify(message)), 1),
  })

  broker = createBroker({
    config: deps.config, logger: deps.logger,
    directory: createMachineDirectoryRepository(deps.db as unknown as Kysely<BrokerDatabase>),
    uplink: {
      sale: (machineId, topic, payload, done) => sales.accept(topic, machineId, payload, done),
      presence: (machineId, channel, payload) => presence.accept(machineTopic(prefix, machineId, channel), machineId, channel, payload),
      audit: (machineId, topic, payload) => audits.accept(topic, machineId, payload),
    },
  })

  let started = false
  return {
    broker,
    ingest: counters,
    sales,
    async start() {
      const ports = await broker!.start()
      started = true
      broker!.aedes.subscribe(gatewayAliveTopic(prefix), (packet, done) => {
        const alive = decodeGatewayAlive(packet.payload as Buffer)
        if (alive) gateways.seen(alive.id, alive.leaving)
        done()
      }, noop)
      presence.start()
      history.start()
      return ports
    },
    async stop() {
      // Machines first (no new sales), then what was read is written.
      await broker!.stop()
      if (!started) return
      await sales.stop()
      await audits.stop()
      await presence.stop()
      await history.stop()
    },
  }
}
