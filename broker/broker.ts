import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Aedes, type AedesOptions, type Client } from 'aedes'
import type { Logger } from 'pino'
import type { Identity } from './acl.js'
import { createAuthenticator } from './auth.js'
import type { BrokerConfig } from './config.js'
import { createCredentialsWatcher } from './credentials.watcher.js'
import { installHooks, type BrokerCounters } from './hooks.js'
import { openListeners, type BrokerPorts, type Listeners } from './listeners.js'
import type { MachineCredentialsChange, MachineDirectory } from './machine-directory.js'
import { guardPacketSize } from './packet-size.guard.js'
import { PublishLimiter } from './rate-limit.js'
import { guardEmitterRecursion } from './mq-recursion.guard.js'
import { createRedisBus } from './redis-bus.js'
import { keepUplinkLocal, trackTakeovers, type UplinkHooks } from './uplink.js'
import { indexBrokerRetained } from './retained-index.js'

/** bytes a machine's packet may exceed its payload cap by: topic (≤ ~140), packet id, fixed header; CONNECT fits too. */
export const PACKET_HEADROOM = 1024
/** Sockets allowed beyond `maxConnections`, so the gateway can log in while the fleet fills the broker. */
export const SERVICE_RESERVE = 16
/** ms a new socket may take to send CONNECT (Aedes' default is 30 s) before its slot is freed. */
const CONNECT_TIMEOUT_MS = 10_000

export interface BrokerDeps {
  config: BrokerConfig
  directory: MachineDirectory
  logger: Logger
  /** ms clock for the rate limiter; tests may inject one. */
  now?: () => number
  /** Machines' sales, status and telemetry go here instead of to subscribers (uplink.ts). */
  uplink?: UplinkHooks
}

export interface BrokerStats extends BrokerCounters {
  /** Logged-in clients (machines and gateway). */
  connections: number
  machines: number
  /** Open sockets, logged in or not. */
  sockets: number
}

export interface Broker {
  start(): Promise<BrokerPorts>
  stop(): Promise<void>
  readonly aedes: Aedes
  stats(): BrokerStats
  /** Connected to the Redis bus between brokers; true for a broker on its own (no REDIS_URL). */
  busConnected(): boolean
  /** One credentials poll now (the watcher also runs on its own): for tests and operators' tools. */
  checkCredentials(): Promise<void>
}

export function createBroker(deps: BrokerDeps): Broker {
  const { config } = deps
  const { limits } = config
  const log = deps.logger.child({ component: 'broker' })
  const counters: BrokerCounters = {
    connectionsRefused: 0, authFailures: 0, authErrors: 0, forbiddenPublishes: 0, forbiddenSubscribes: 0,
    forwardsBlocked: 0, rateDelayed: 0, rateLimited: 0, oversize: 0, credentialClosures: 0,
  }
  const identities = new WeakMap<Client, Identity>()
  const liveMachines = new Map<string, Client>()
  const timers = new Set<NodeJS.Timeout>()
  const sockets = new Set<Duplex>()
  const authenticator = createAuthenticator({ directory: deps.directory, gatewayPassword: config.gatewayPassword, topicPrefix: config.topicPrefix })
  const limiter = new PublishLimiter({ ratePerS: limits.ratePerS, burst: limits.rateBurst })

  // Several brokers route through Redis (redis-bus.ts); without REDIS_URL, Aedes' in-memory emitter.
  const bus = config.redisUrl ? createRedisBus(config.redisUrl, log) : undefined
  // maxInflightInbound: QoS 2 publishes awaiting PUBREL per client. Machines use QoS 0/1, so a small cap.
  const aedes = new Aedes({
    connectTimeout: CONNECT_TIMEOUT_MS, maxInflightInbound: 64,
    ...(bus ? { mq: bus.mq as AedesOptions['mq'] } : {}),
  })
  // A long publish queue would otherwise drain as one recursion and overflow the stack (mq-recursion.guard.ts).
  if (!guardEmitterRecursion(aedes)) log.warn('mqemitter changed shape: publish bursts are not guarded against stack overflow (mq-recursion.guard.ts)')
  if (deps.uplink) keepUplinkLocal(aedes, config.topicPrefix)
  installHooks(aedes, {
    prefix: config.topicPrefix, limits, authenticator, limiter, identities, liveMachines, counters, timers,
    now: deps.now ?? Date.now, logger: log, uplink: deps.uplink, movedAway: trackTakeovers(aedes),
  })
  aedes.on('clientError', (client, err) => log.debug({ err, clientId: client.id }, 'client connection error'))
  aedes.on('connectionError', (_client, err) => log.debug({ err }, 'connection error before login'))
  // Aedes emits 'error' for persistence failures; unhandled, an EventEmitter error would end the process.
  const emitter: NodeJS.EventEmitter = aedes // 'error' is not among the events in Aedes' types
  emitter.on('error', (err: Error) => log.error({ err }, 'broker error'))

  function onCredentialsChange(change: MachineCredentialsChange): void {
    authenticator.forget(change.id)
    if (change.disabled) limiter.forget(change.id)
    const client = liveMachines.get(change.id)
    const identity = client && identities.get(client)
    if (!client || identity?.kind !== 'machine') return
    if (!change.disabled && change.secretHash === identity.secretHash) return // already on the new secret
    counters.credentialClosures++
    log.info({ machineId: change.id, reason: change.disabled ? 'disabled' : 'secret rotated' }, 'closing a machine connection')
    client.close()
  }
  const watcher = createCredentialsWatcher({
    directory: deps.directory, intervalMs: config.credentialsPollMs, onChange: onCredentialsChange, logger: log,
  })

  const packetLimit = (client: Client): number =>
    identities.get(client)?.kind === 'service' ? limits.gatewayMaxPacket : limits.machineMaxPayload + PACKET_HEADROOM
  let guardMissingLogged = false

  // Logged at most every 10 s: at the limit, a line per refused socket would flood the log.
  let dropLoggedAt = -Infinity
  function onDrop(): void {
    counters.connectionsRefused++
    if (Date.now() - dropLoggedAt < 10_000) return
    dropLoggedAt = Date.now()
    log.warn({ limit: limits.maxConnections + SERVICE_RESERVE, refused: counters.connectionsRefused }, 'connection refused: socket limit reached')
  }

  function handle(conn: Duplex, req?: IncomingMessage): void {
    if (sockets.size >= limits.maxConnections + SERVICE_RESERVE) { // all listeners together
      onDrop()
      conn.destroy()
      return
    }
    sockets.add(conn)
    conn.once('close', () => sockets.delete(conn))
    const client = aedes.handle(conn, req)
    const guarded = guardPacketSize(client, () => packetLimit(client), (err) => {
      counters.oversize++
      log.warn({ clientId: client.id, bytes: err.length, limit: err.limit }, 'packet too large: connection closed')
    })
    if (!guarded && !guardMissingLogged) {
      guardMissingLogged = true
      log.warn('MQTT parser changed shape: packet size is checked only after buffering (packet-size.guard.ts)')
    }
  }

  let listeners: Listeners | undefined
  // One life: Aedes cannot listen again once closed.
  let state: 'new' | 'started' | 'stopped' = 'new'

  async function stop(): Promise<void> {
    if (state !== 'started') return
    state = 'stopped'
    const closing = listeners?.close() // stops accepting now; resolves once connections are gone
    listeners = undefined
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    await bus?.close() // Aedes closed it already, unless its start failed first
    for (const conn of sockets) conn.destroy() // sockets that never logged in are not Aedes clients
    await closing
    await watcher.stop()
    for (const timer of timers) clearTimeout(timer)
    timers.clear()
  }

  return {
    aedes,
    async start() {
      if (state !== 'new') throw new Error(`broker cannot start: ${state}`)
      state = 'started'
      try {
        await aedes.listen()
        // Before any listener opens, so no retained message is stored unindexed (retained-index.ts).
        indexBrokerRetained(aedes)
        watcher.start()
        const wsMaxPayload = Math.max(limits.gatewayMaxPacket, limits.machineMaxPayload + PACKET_HEADROOM) + 16
        const maxSockets = limits.maxConnections + SERVICE_RESERVE
        listeners = await openListeners({ host: config.host, port: config.port, tls: config.tls, wsPort: config.wsPort, wsMaxPayload, maxSockets, onDrop }, handle)
        return listeners.ports
      } catch (err) {
        await stop()
        throw err
      }
    },
    stop,
    checkCredentials: () => watcher.runOnce(),
    busConnected: () => bus?.connected() ?? true,
    stats: () => ({ ...counters, connections: aedes.connectedClients ?? 0, machines: liveMachines.size, sockets: sockets.size }),
  }
}
