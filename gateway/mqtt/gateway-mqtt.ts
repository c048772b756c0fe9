import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import type { Logger } from 'pino'
import { GATEWAY_HEARTBEAT_MS, encodeGatewayAlive, fleetFilter, gatewayAliveTopic, storedKickTopic } from '../../protocol/index.js'
import { logConnection } from './connection-log.js'

export interface GatewayMqttOptions {
  url: string
  gatewayId: string
  username: string
  password: string
  topicPrefix: string
  /** 'gateway': subscribe to every machine's uplink (GATEWAY_INGEST); 'broker': to the brokers' kicks. */
  ingest: 'broker' | 'gateway'
  logger: Logger
}

export interface GatewayMqtt {
  /**
   * Subscribed to the brokers' kicks (sales stored for these kassas, protocol/stored-kick.ts): the
   * brokers store machines' sales, status and telemetry. With GATEWAY_INGEST=gateway, a persistent
   * session (clean: false) subscribed to every machine's sale, telemetry, status and audits instead.
   */
  ingest: MqttClient
  /** Publishes display messages; a separate connection so a slow ingest never delays a PUBACK. */
  publisher: MqttClient
  /** Stops the heartbeats and says it is leaving (first thing of a clean stop). */
  leave(): Promise<void>
  /** Connected and subscribed: part of readiness. */
  ready(): boolean
  close(): Promise<void>
}

function withNoDelay(client: MqttClient): MqttClient {
  // TCP_NODELAY: a sale → display round trip through Aedes drops from ~88 ms to ~0.3 ms at the median (docs/performance.md#tcp_nodelay-on-every-socket).
  client.on('connect', () => {
    const stream = client.stream as { setNoDelay?: (v: boolean) => void }
    stream.setNoDelay?.(true)
  })
  return client
}

/** Two connections with the gateway's service credentials. */
export function connectGatewayMqtt(options: GatewayMqttOptions): GatewayMqtt {
  const log = options.logger
  const subscribesUplink = options.ingest === 'gateway'
  const base: IClientOptions = {
    protocolVersion: 4,
    username: options.username,
    password: options.password,
    reconnectPeriod: 500,
    connectTimeout: 10_000,
    keepalive: 30,
  }
  const ingest = withNoDelay(mqtt.connect(options.url, {
    ...base,
    clientId: `gateway-${options.gatewayId}-in`,
    // Kicks are QoS 0 and the poll covers a lost one: nothing for a session to keep. Sales are kept.
    clean: !subscribesUplink,
    // Resubscribe also when the broker lost the session (Aedes keeps sessions in memory).
    resubscribe: true,
  }))
  const publisher = withNoDelay(mqtt.connect(options.url, { ...base, clientId: `gateway-${options.gatewayId}-out`, clean: true }))

  let subscribed = false
  const filters = subscribesUplink
    ? Object.fromEntries((['sale', 'telemetry', 'status', 'audit'] as const).map((c) => [fleetFilter(options.topicPrefix, c), { qos: 1 as const }]))
    : Object.fromEntries([
      storedKickTopic(options.topicPrefix), storedKickTopic(options.topicPrefix, options.gatewayId), gatewayAliveTopic(options.topicPrefix),
    ].map((topic) => [topic, { qos: 0 as const }]))
  ingest.on('connect', () => {
    ingest.subscribe(filters, (err, granted) => {
      const refused = granted?.filter((g) => g.qos === 128) ?? []
      if (err || refused.length > 0) {
        log.error({ err, refused }, 'broker refused the gateway subscriptions')
        return
      }
      subscribed = true
    })
  })
  ingest.on('close', () => { subscribed = false })
  // Heartbeats, so brokers address each kassa's kick to one gateway (protocol/gateway-ring.ts).
  // Only with the project's brokers: another broker neither kicks nor routes these topics.
  const alive = () => {
    if (publisher.connected) publisher.publish(gatewayAliveTopic(options.topicPrefix), encodeGatewayAlive(options.gatewayId), { qos: 0 })
  }
  const heartbeat = subscribesUplink ? null : setInterval(alive, GATEWAY_HEARTBEAT_MS)
  if (!subscribesUplink) publisher.on('connect', alive)
  for (const [name, client] of [['ingest', ingest], ['publisher', publisher]] as const) {
    logConnection(client, { logger: log, name, url: options.url })
  }

  return {
    ingest,
    publisher,
    async leave() {
      if (!heartbeat) return
      clearInterval(heartbeat)
      publisher.removeListener('connect', alive)
      // Its kassas move to the other gateways now, not when its heartbeats time out.
      // Bounded: a connection lost while the packet is written never calls back, and a stop must end.
      if (publisher.connected) {
        await new Promise<void>((resolve) => {
          const bound = setTimeout(resolve, 1000)
          publisher.publish(gatewayAliveTopic(options.topicPrefix), encodeGatewayAlive(options.gatewayId, true), { qos: 0 }, () => {
            clearTimeout(bound)
            resolve()
          })
        })
      }
    },
    ready: () => subscribed && ingest.connected && publisher.connected,
    close: async () => {
      // The display publisher has already waited its bound for PUBACKs (display.publisher.ts stop);
      // a graceful end would wait for every one still in flight, with a backlogged broker past the
      // shutdown bound (seen in the chaos run: exit 1 after 20 s). Those rows stay unsent and the
      // sweeper of any gateway resends them.
      if (heartbeat) clearInterval(heartbeat)
      // The ingest connection ends at once too: a graceful end of a client between reconnect
      // attempts (its broker gone) may never finish, and what it has not acknowledged is sent again.
      await Promise.all([ingest.endAsync(true), publisher.endAsync(true)])
    },
  }
}
