import type { IncomingMessage } from 'node:http'
import type { Duplex } from 'node:stream'
import { Aedes, type AedesOptions, type Client } from 'aedes'
import type { Logger } from 'pino'
import { AUDIT_MAX_BYTES } from '../protocol/index.js'
import { machinePayloadLimit, type Identity } from './acl.js'
import { createAuthQueue } from './auth-queue.js'
import { createAuthenticator } from './auth.js'
import { BROKER_GUARD_DEFAULTS, type BrokerConfig } from './config.js'
import { createConnectionGuard } from './connection-guard.js'
import { createCredentialsWatcher } from './credentials.watcher.js'
import { installHooks, type BrokerCounters } from './hooks.js'
import { openListeners, type BrokerPorts, type Listeners } from './listeners.js'
import type { MachineCredentialsChange, MachineDirectory } from './machine-directory.js'
import { guardPacketSize } from './packet-size.guard.js'
import { createLoginThrottle } from './login-throttle.js'
import { PublishLimiter } from './rate-limit.js'
import { createSharedBudget } from './publish-budget.redis.js'
import { guardEmitterRecursion } from './mq-recursion.guard.js'
import { createRedisBus } from './redis-bus.js'
import { keepUplinkLocal, trackTakeovers, type UplinkHooks } from './uplink.js'
import { indexBrokerRetained } from './retained-index.js'
import { DEV_MACHINE_SECRET_KEY } from '../protocol/index.js'

/** bytes a machine's packet may exceed its payload cap by: topic (≤ ~140), packet id, fixed header; CONNECT fits too. */
export const PACKET_HEADROOM = 1024
/** ms a starting broker waits for its first read of the machines' credentials before it listens anyway. */
const FIRST_READ_WAIT_MS = 5_000
/** Logged-in connections allowed beyond `maxConnections` for gateways only, so they log in while the fleet fills the broker. */
export const SERVICE_RESERVE = 16

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
  /** Sockets not logged in yet. */
  prelogin: number
  /** Silent sockets closed to make room for new ones (connection-guard.ts). */
  preloginEvicted: number
  /** Logins answered CONNACK 3 because the authentication queue was full. */
  loginsShed: number
  /** Machines whose credentials the broker holds in memory. */
  knownMachines: number
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
    forwardsBlocked: 0, rateDelayed: 0, rateLimited: 0, oversize: 0, credentialClosures: 0, protocolErrors: 0,
    loginsLockedOut: 0, secretsUpgraded: 0,
  }
  const guardConfig = config.guard ?? BROKER_GUARD_DEFAULTS
  const identities = new WeakMap<Client, Identity>()
  const liveMachines = new Map<string, Client>()
  const timers = new Set<NodeJS.Timeout>()
  const sockets = new Set<Duplex>()
  const authQueue = createAuthQueue({ concurrency: guardConfig.authConcurrency, maxWaiting: guardConfig.authQueue, maxWaitMs: guardConfig.authWaitMs })
  const authenticator = createAuthenticator({
    directory: deps.directory, gatewayPassword: config.gatewayPassword, topicPrefix: config.topicPrefix,
    secretKey: config.machineSecretKey ?? DEV_MACHINE_SECRET_KEY, queue: authQueue,
    throttle: createLoginThrottle({ failures: guardConfig.loginFailures, lockoutMs: guardConfig.lockoutMs, lockoutMaxMs: guardConfig.lockoutMaxMs }),
    ...(deps.now ? { now: deps.now } : {}),
    onUpgrade: () => { counters.secretsUpgraded++ },
    onUpgradeError: (machineId, err) => log.warn({ err, machineId }, 'could not rewrite a scrypt secret hash; it is tried again at the next login'),
  })
  const connectionGuard = createConnectionGuard({ perAddress: guardConfig.preloginPerAddress, max: guardConfig.preloginMax })
  const rateLimit = { ratePerS: limits.ratePerS, burst: limits.rateBurst }
  const limiter = new PublishLimiter(rateLimit, { shared: Boolean(config.redisUrl) })
  // With several brokers a machine's budget follows it from broker to broker (publish-budget.redis.ts).
  const budget = config.redisUrl ? createSharedBudget({
    url: config.redisUrl, limiter, limit: rateLimit, keyPrefix: `publish-budget:${config.topicPrefix}:`,
    now: deps.now ?? Date.now, logger: log,
  }) : undefined

  // Several brokers route through Redis (redis-bus.ts); without REDIS_URL, Aedes' in-memory emitter.
  const bus = config.redisUrl ? createRedisBus(config.redisUrl, log) : undefined
  // maxInflightInbound: QoS 2 publishes awaiting PUBREL per client. Machines use QoS 0/1, so a small cap.
  // connectTimeout: a socket that sends no CONNECT is closed after it (Aedes' default is 30 s).
  const aedes = new Aedes({
    connectTimeout: guardConfig.connectTimeoutMs, maxInflightInbound: 64,
    ...(bus ? { mq: bus.mq as AedesOptions['mq'] } : {}),
  })
  // A long publish queue would otherwise drain as one recursion and overflow the stack (mq-recursion.guard.ts).
  if (!guardEmitterRecursion(aedes)) log.warn('mqemitter changed shape: publish bursts are not guarded against stack overflow (mq-recursion.guard.ts)')
  if (deps.uplink) keepUplinkLocal(aedes, config.topicPrefix)
  installHooks(aedes, {
    prefix: config.topicPrefix, limits, authenticator, limiter, budget, identities, liveMachines, counters, timers,
    now: deps.now ?? Date.now, logger: log, uplink: deps.uplink, movedAway: trackTakeovers(aedes),
  })
  aedes.on('client', (client) => connectionGuard.loggedIn(client.conn as Duplex))
  aedes.on('clientError', (client, err) => log.debug({ err, clientId: client.id }, 'client connection error'))
  aedes.on('connectionError', (_client, err) => log.debug({ err }, 'connection error before login'))
  // Aedes emits 'error' for persistence failures; unhandled, an EventEmitter error would end the process.
  const emitter: NodeJS.EventEmitter = aedes // 'error' is not among the events in Aedes' types
  emitter.on('error', (err: Error) => log.error({ err }, 'broker error'))

  function onCredentialsChange(change: MachineCredentialsChange): void {
    authenticator.learn(change)
    if (change.disabled) limiter.forget(change.id)
    const client = liveMachines.get(change.id)
    const identity = client && identities.get(client)
    if (!client || identity?.kind !== 'machine') return
    // Already on the new secret; or a poll that read the row before this login rewrote its scrypt
    // hash as the keyed one reports the hash the connection was checked against: no rotation.
    if (!change.disabled && (change.secretHash === identity.secretHash || change.secretHash === identity.checkedHash)) return
    counters.credentialClosures++
    log.info({ machineId: change.id, reason: change.disabled ? 'disabled' : 'secret rotated' }, 'closing a machine connection')
    client.close()
  }
  const watcher = createCredentialsWatcher({
    directory: deps.directory, intervalMs: config.credentialsPollMs, onChange: onCredentialsChange, logger: log,
  })

  const packetLimit = (client: Client, topic: string | null): number => {
    const identity = identities.get(client)
    if (identity?.kind === 'service') return limits.gatewayMaxPacket
    // A publish to the machine's own audit topic may carry 256 KiB; anything else the usual cap.
    return (identity ? machinePayloadLimit(config.topicPrefix, identity, topic, limits.machineMaxPayload) : limits.machineMaxPayload) + PACKET_HEADROOM
  }
  let guardMissingLogged = false

  // Logged at most every 10 s: at the limit, a line per refused socket would flood the log.
  let dropLoggedAt = -Infinity
  function onDrop(): void {
    counters.connectionsRefused++
    if (Date.now() - dropLoggedAt < 10_000) return
    dropLoggedAt = Date.now()
    log.warn({ limit: maxSockets, refused: counters.connectionsRefused }, 'connection refused: socket limit reached')
  }

  // Logged-in machines, gateways' reserve, and sockets not logged in yet (bounded by the guard).
  const maxSockets = limits.maxConnections + SERVICE_RESERVE + guardConfig.preloginMax
  function handle(conn: Duplex, req?: IncomingMessage): void {
    if (sockets.size >= maxSockets) { // all listeners together
      onDrop()
      conn.destroy()
      return
    }
    sockets.add(conn)
    conn.once('close', () => sockets.delete(conn))
    connectionGuard.admit(conn, req?.socket.remoteAddress ?? (conn as { remoteAddress?: string }).remoteAddress)
    const client = aedes.handle(conn, req)
    const guarded = guardPacketSize(client, (topic) => packetLimit(client, topic), (err) => {
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
    authQueue.close()
    await new Promise<void>((resolve) => aedes.close(() => resolve()))
    await bus?.close() // Aedes closed it already, unless its start failed first
    await budget?.close() // after Aedes: its machines' disconnects write their budgets
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
        const budgetReady = budget?.start() // connects while the credentials are read
        // Before any listener opens, so no retained message is stored unindexed (retained-index.ts).
        indexBrokerRetained(aedes)
        watcher.start()
        // The first poll reads every machine's credentials; listening after it, a restarted broker
        // checks the storm of logins that follows from memory instead of one directory read each
        // (10,000 machines: one query of ~50 ms instead of 10,000). A failed read does not stop the
        // start, nor does one that hangs past FIRST_READ_WAIT_MS: logins then read the directory one
        // by one, as before.
        let waited: NodeJS.Timeout | undefined
        await Promise.race([watcher.runOnce(), new Promise<void>((resolve) => { waited = setTimeout(resolve, FIRST_READ_WAIT_MS) })])
        clearTimeout(waited)
        await budgetReady
        const wsMaxPayload = Math.max(limits.gatewayMaxPacket, limits.machineMaxPayload, AUDIT_MAX_BYTES) + PACKET_HEADROOM + 16
        listeners = await openListeners({ host: config.host, port: config.port, tls: config.tls, wsPort: config.wsPort, wsMaxPayload, maxSockets, onDrop, backlog: guardConfig.listenBacklog }, handle)
        return listeners.ports
      } catch (err) {
        await stop()
        throw err
      }
    },
    stop,
    checkCredentials: () => watcher.runOnce(),
    busConnected: () => bus?.connected() ?? true,
    stats: () => ({
      ...counters, connections: aedes.connectedClients ?? 0, machines: liveMachines.size, sockets: sockets.size,
      prelogin: connectionGuard.stats().prelogin, preloginEvicted: connectionGuard.stats().evicted,
      loginsShed: authQueue.stats().shed, knownMachines: authenticator.known(),
    }),
  }
}
