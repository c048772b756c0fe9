import type { Aedes, AuthenticateError, Client } from 'aedes'
import type { Logger } from 'pino'
import { isMachineId, parseMachineTopic } from '../protocol/index.js'
import { canPublish, canReceive, canSetWill, canSubscribe, mayRetain, type Identity } from './acl.js'
import { SERVICE_USERNAME, type Authenticator } from './auth.js'
import type { BrokerLimits } from './config.js'
import type { PublishLimiter } from './rate-limit.js'
import type { UplinkHooks } from './uplink.js'

// Aedes' callback hooks, wired to the pure rules in acl.ts, auth.ts and rate-limit.ts. Every refusal
// is counted and logged here, once, with who and why; never with the password.

export interface BrokerCounters {
  connectionsRefused: number
  authFailures: number
  authErrors: number
  forbiddenPublishes: number
  forbiddenSubscribes: number
  forwardsBlocked: number
  rateDelayed: number
  rateLimited: number
  oversize: number
  credentialClosures: number
}

export interface HookDeps {
  prefix: string
  limits: BrokerLimits
  authenticator: Authenticator
  limiter: PublishLimiter
  /** Who each connection logged in as. */
  identities: WeakMap<Client, Identity>
  /** Registered machine connections by machine id. */
  liveMachines: Map<string, Client>
  counters: BrokerCounters
  /** Timers of held-back publishes, cleared by stop(). */
  timers: Set<NodeJS.Timeout>
  now(): number
  logger: Logger
  /** Where machines' sales, status and telemetry go when the process stores them itself (uplink.ts). */
  uplink?: UplinkHooks | undefined
  /** Connections whose machine has logged in on another broker since (uplink.ts). */
  movedAway: WeakSet<Client>
}

/** CONNACK codes (MQTT 3.1.1 §3.2.2.3). Every refused login gets 5, so a reply never tells which ids exist. */
const NOT_AUTHORIZED = 5
const SERVER_UNAVAILABLE = 3

function refusal(returnCode: number, message: string): AuthenticateError {
  return Object.assign(new Error(message), { returnCode }) as AuthenticateError
}

const bytes = (payload: string | Buffer): Buffer => (typeof payload === 'string' ? Buffer.from(payload) : payload)

function who(client: Client): Record<string, unknown> {
  const conn = client.conn as { remoteAddress?: string }
  return { clientId: client.id, remote: client.req?.socket.remoteAddress ?? conn.remoteAddress }
}

export function installHooks(aedes: Aedes, deps: HookDeps): void {
  const { prefix, counters, identities, liveMachines, logger: log } = deps
  const willTopics = new WeakMap<Client, string>()
  const cut = new WeakSet<Client>()

  aedes.preConnect = (client, packet, callback) => {
    if (packet.will) willTopics.set(client, packet.will.topic) // authenticate() does not see the CONNECT
    callback(null, true)
  }

  aedes.authenticate = (client, username, password, done) => {
    const full = liveMachines.size >= deps.limits.maxConnections
    if (full && username !== SERVICE_USERNAME && !liveMachines.has(client.id)) {
      counters.connectionsRefused++
      log.warn({ ...who(client), limit: deps.limits.maxConnections }, 'machine connection refused: broker full')
      return done(refusal(SERVER_UNAVAILABLE, 'server unavailable'), false)
    }
    const attempt = { clientId: client.id, username, password, willTopic: willTopics.get(client) }
    deps.authenticator.login(attempt).then((result) => {
      if (result.ok) {
        identities.set(client, result.identity)
        return done(null, true)
      }
      counters.authFailures++
      log.warn({ ...who(client), username: username?.slice(0, 80), reason: result.reason }, 'login refused')
      done(refusal(NOT_AUTHORIZED, 'not authorized'), false)
    }, (err: unknown) => {
      // The directory is unreachable: "server unavailable" tells the machine to come back later.
      counters.authErrors++
      log.error({ err, ...who(client) }, 'could not check a login')
      done(refusal(SERVER_UNAVAILABLE, 'server unavailable'), false)
    })
  }

  aedes.on('client', (client) => {
    const identity = identities.get(client)
    if (identity?.kind === 'machine') liveMachines.set(identity.id, client)
  })
  aedes.on('clientDisconnect', (client) => {
    if (liveMachines.get(client.id) === client) liveMachines.delete(client.id)
  })

  aedes.authorizePublish = (client, packet, callback) => {
    if (!client) {
      // A will left by a client of a broker node that died (clusters only). Wills were checked at
      // login; this holds even if the persisted one was not written by this code.
      const owner = (packet as { clientId?: string }).clientId ?? ''
      const ok = isMachineId(owner) && !owner.startsWith(SERVICE_USERNAME) &&
        canSetWill(prefix, { kind: 'machine', id: owner, secretHash: '' }, packet.topic)
      return callback(ok ? null : new Error('will refused'))
    }
    const identity = identities.get(client)
    if (!identity) return callback(new Error('not logged in')) // Aedes handles PUBLISH only after login
    if (client.closed) {
      // The connection is ending without DISCONNECT: this is its will (vetted at login).
      if (!canSetWill(prefix, identity, packet.topic)) return callback(new Error('will refused'))
      if (identity.kind === 'machine' && !deps.movedAway.has(client)) deps.uplink?.presence(identity.id, 'status', bytes(packet.payload))
      return callback(null)
    }
    if (!canPublish(prefix, identity, packet.topic)) {
      counters.forbiddenPublishes++
      log.warn({ ...who(client), topic: packet.topic.slice(0, 200) }, 'forbidden publish: connection closed')
      return callback(new Error('forbidden topic')) // 3.1.1 has no negative PUBACK: Aedes closes the connection
    }
    if (identity.kind === 'service') return callback(null)
    // Fallback for the parser guard (packet-size.guard.ts), which normally refuses far earlier.
    if (packet.payload.length > deps.limits.machineMaxPayload) {
      counters.oversize++
      log.warn({ ...who(client), bytes: packet.payload.length }, 'payload too large: connection closed')
      return callback(new Error('payload too large'))
    }
    if (packet.retain && !mayRetain(prefix, packet.topic)) packet.retain = false

    const machineId = identity.id
    const gone = () => (client.closed ? new Error('connection closed') : null)
    const accept = (): void => {
      const channel = deps.uplink && parseMachineTopic(prefix, packet.topic)?.channel
      if (!deps.uplink || !channel || channel === 'display') return callback(gone())
      if (channel === 'sale') return deps.uplink.sale(machineId, packet.topic, bytes(packet.payload), () => callback(gone()))
      deps.uplink.presence(machineId, channel, bytes(packet.payload))
      callback(gone())
    }
    const admission = deps.limiter.admit(machineId, deps.now())
    if (admission.action === 'pass') return accept()
    if (admission.action === 'delay') {
      counters.rateDelayed++
      const timer = setTimeout(() => {
        deps.timers.delete(timer)
        if (client.closed) callback(new Error('connection closed'))
        else accept()
      }, admission.ms)
      deps.timers.add(timer)
      return
    }
    if (!cut.has(client)) {
      cut.add(client)
      counters.rateLimited++
      log.warn({ ...who(client), ratePerS: deps.limits.ratePerS, burst: deps.limits.rateBurst }, 'publish rate exceeded: connection closed')
    }
    callback(new Error('publish rate exceeded'))
  }

  aedes.authorizeSubscribe = (client, sub, callback) => {
    const identity = identities.get(client)
    if (identity && canSubscribe(prefix, identity, sub.topic)) return callback(null, sub)
    counters.forbiddenSubscribes++
    log.warn({ ...who(client), filter: sub.topic.slice(0, 200) }, 'forbidden subscription refused')
    callback(null, null) // SUBACK 0x80 for this filter; the connection stays up
  }

  aedes.authorizeForward = (client, packet) => {
    const identity = identities.get(client)
    if (identity && canReceive(prefix, identity, packet.topic)) return packet
    counters.forwardsBlocked++
    return null
  }
}
