import type { Aedes, AuthenticateError, Client } from 'aedes'
import type { Logger } from 'pino'
import { isMachineId, parseMachineTopic } from '../protocol/index.js'
import { canPublish, canReceive, canSetWill, canSubscribe, machinePayloadLimit, mayRetain, type Identity } from './acl.js'
import { SERVICE_USERNAME, type Authenticator } from './auth.js'
import type { BrokerLimits } from './config.js'
import type { SharedBudget } from './publish-budget.redis.js'
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
  /** Logins refused unchecked while their address or machine id was locked out (login-throttle.ts). */
  loginsLockedOut: number
  /** Stored scrypt hashes rewritten in the keyed scheme after a good login. */
  secretsUpgraded: number
  /** Packets that break MQTT 3.1.1 where Aedes does not check (packet id 0). */
  protocolErrors: number
}

export interface HookDeps {
  prefix: string
  limits: BrokerLimits
  authenticator: Authenticator
  limiter: PublishLimiter
  /** Machines' budgets shared with other brokers (REDIS_URL): read at login, written on disconnect. */
  budget?: Pick<SharedBudget, 'load' | 'save'> | undefined
  /** Who each connection logged in as. */
  identities: WeakMap<Client, Identity>
  /** Registered machine connections by machine id. */
  liveMachines: Map<string, Client>
  counters: BrokerCounters
  /** Timers of held-back publishes, cleared by stop(). */
  timers: Set<NodeJS.Timeout>
  now(): number
  logger: Logger
  /** Where machines' sales, status, telemetry and audits go when the process stores them itself (uplink.ts). */
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

function remoteAddress(client: Client): string | undefined {
  return client.req?.socket.remoteAddress ?? (client.conn as { remoteAddress?: string }).remoteAddress
}

function who(client: Client): Record<string, unknown> {
  return { clientId: client.id, remote: remoteAddress(client) }
}

/** Refused logins logged a second at most; a flood is seen in its counters and a summary line. */
const REFUSALS_LOGGED_PER_S = 20

export function installHooks(aedes: Aedes, deps: HookDeps): void {
  const { prefix, counters, identities, liveMachines, logger: log } = deps
  let refusalWindow = { start: 0, logged: 0, unlogged: 0 }
  function logRefusal(fields: Record<string, unknown>): void {
    const now = deps.now()
    if (now - refusalWindow.start >= 1000) {
      if (refusalWindow.unlogged > 0) log.warn({ unlogged: refusalWindow.unlogged }, 'login refusals beyond the log rate were not logged one by one')
      refusalWindow = { start: now, logged: 0, unlogged: 0 }
    }
    if (refusalWindow.logged++ < REFUSALS_LOGGED_PER_S) log.warn(fields, 'login refused')
    else refusalWindow.unlogged++
  }
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
    const attempt = { clientId: client.id, username, password, willTopic: willTopics.get(client), address: remoteAddress(client) }
    deps.authenticator.login(attempt).then((result) => {
      if (result.ok) {
        identities.set(client, result.identity)
        // The budget another broker kept for the machine, before its first publish is admitted.
        const loaded = deps.budget && result.identity.kind === 'machine' ? deps.budget.load(result.identity.id) : Promise.resolve()
        // Handed to Aedes after pending I/O: a CONNECT its client abandoned (gave up waiting for
        // CONNACK and closed) arrives with its socket's end, and the end must be seen first, so that
        // Aedes drops the login (client.closed) instead of letting the dead connection take over the
        // machine's live one (MQTT-3.1.4-2). After a broker restart the kernel hands over such
        // connections up to a minute late (README.md#reconnect-storm).
        void loaded.then(() => setImmediate(() => done(null, true)))
        return
      }
      if ('unavailable' in result) {
        // Shed by the full queue (counted there), or a stored hash made with another key.
        if (result.unavailable === 'key-mismatch') {
          counters.authErrors++
          log.error({ ...who(client) }, 'login not checked: the stored secret hash was made with another MACHINE_SECRET_KEY than the broker\'s')
        }
        return done(refusal(SERVER_UNAVAILABLE, 'server unavailable'), false)
      }
      counters.authFailures++
      // A flood is logged by its counters, not a line per attempt.
      if (result.reason === 'locked-out') counters.loginsLockedOut++
      else logRefusal({ ...who(client), username: username?.slice(0, 80), reason: result.reason })
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
    // A machine taken over by another broker: that broker read the budget at its login already, and
    // a write now could overwrite what it has written since.
    const identity = identities.get(client)
    if (identity?.kind === 'machine' && !deps.movedAway.has(client)) deps.budget?.save(identity.id)
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
    // [MQTT-2.3.1-1]: a QoS 1 or 2 PUBLISH carries a non-zero packet identifier. A protocol
    // violation closes the connection (3.1.1 has no negative PUBACK).
    if (packet.qos > 0 && !packet.messageId) {
      counters.protocolErrors++
      log.warn({ ...who(client), qos: packet.qos }, 'PUBLISH with packet id 0: connection closed')
      return callback(new Error('packet identifier 0 on a QoS > 0 PUBLISH'))
    }
    if (!canPublish(prefix, identity, packet.topic)) {
      counters.forbiddenPublishes++
      log.warn({ ...who(client), topic: packet.topic.slice(0, 200) }, 'forbidden publish: connection closed')
      return callback(new Error('forbidden topic')) // 3.1.1 has no negative PUBACK: Aedes closes the connection
    }
    if (identity.kind === 'service') return callback(null)
    // Fallback for the parser guard (packet-size.guard.ts), which normally refuses far earlier.
    if (packet.payload.length > machinePayloadLimit(prefix, identity, packet.topic, deps.limits.machineMaxPayload)) {
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
      if (channel === 'audit') {
        deps.uplink.audit(machineId, packet.topic, bytes(packet.payload))
        return callback(gone())
      }
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
