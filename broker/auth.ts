import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import {
  isMachineId, keyedSecretHasher, secretScheme, storedKeyId, verifySecret,
} from '../protocol/index.js'
import { canSetWill, type Identity } from './acl.js'
import { SHED, type AuthQueue } from './auth-queue.js'
import { addressKey, machineKey, type LoginThrottle } from './login-throttle.js'
import type { MachineCredentials, MachineCredentialsChange, MachineDirectory } from './machine-directory.js'

/** The gateway's username; its client ids start with it (`gateway-<id>-in`, `gateway-<id>-out`). */
export const SERVICE_USERNAME = 'gateway'

export interface LoginAttempt {
  clientId: string
  username: string | undefined
  password: Buffer | undefined
  /** Topic of the will in the CONNECT, if any. */
  willTopic: string | undefined
  /** The socket's remote address, for the per-address throttle. */
  address?: string | undefined
}

export type LoginRefusal =
  | 'no-credentials'
  | 'bad-service-password'
  | 'bad-service-client-id'
  | 'reserved-username' // a machine id in the service user's client-id namespace
  | 'client-id-mismatch'
  | 'unknown-machine'
  | 'bad-password'
  | 'disabled'
  | 'will-forbidden'
  | 'locked-out' // the address or id is locked out and the login could not be checked from memory

/** Logins the broker could not check now; the machine is told "server unavailable" (CONNACK 3). */
export type LoginUnavailable =
  | 'shed' // the authentication queue is full
  | 'key-mismatch' // the stored hash was made with another MACHINE_SECRET_KEY

export type LoginResult =
  | { ok: true; identity: Identity }
  | { ok: false; reason: LoginRefusal }
  | { ok: false; unavailable: LoginUnavailable }

export interface Authenticator {
  /** Rejects only when the directory fails (the caller answers CONNACK 3, server unavailable). */
  login(attempt: LoginAttempt): Promise<LoginResult>
  /** Takes in a machine's changed credentials (the credentials watcher's feed, a full read at start). */
  learn(change: MachineCredentialsChange): void
  /** Machines whose credentials are held in memory. */
  known(): number
}

export interface AuthenticatorDeps {
  directory: MachineDirectory
  gatewayPassword: string
  topicPrefix: string
  /** MACHINE_SECRET_KEY: the fleet CLI hashes new secrets with the same key. */
  secretKey: string
  queue: AuthQueue
  throttle: LoginThrottle
  now?: () => number
  /** A stored hash was rewritten in the keyed scheme after a good login. */
  onUpgrade?: (id: string) => void
  /** A hash could not be rewritten (the machine keeps logging in through scrypt until it is). */
  onUpgradeError?: (id: string, err: unknown) => void
}

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest()

export function createAuthenticator(deps: AuthenticatorDeps): Authenticator {
  const servicePassword = sha256(Buffer.from(deps.gatewayPassword, 'utf8'))
  const now = deps.now ?? Date.now
  const keyed = keyedSecretHasher(deps.secretKey)
  const keyId = keyed.keyId
  const { queue, throttle } = deps
  // Every machine's credentials, from the watcher's first full read and its changes since: a login
  // of a known machine needs no database. A machine added since the last poll is read on demand.
  const credentials = new Map<string, MachineCredentials>()
  // A machine still on a scrypt hash: the last secret that verified, as an HMAC under a per-process
  // key, so a reconnect costs no second scrypt check; and checks in flight, shared by concurrent
  // logins with the same secret.
  const memoKey = randomBytes(32)
  const verified = new Map<string, { secretHash: string; mac: Buffer }>()
  const inFlight = new Map<string, Promise<boolean>>()
  // Directory reads in flight, shared by concurrent logins of one machine.
  const reads = new Map<string, Promise<MachineCredentials | null | typeof SHED>>()
  const mac = (password: Buffer): Buffer => createHmac('sha256', memoKey).update(password).digest()

  function scryptCheck(id: string, password: Buffer, secretHash: string, locked: boolean): Promise<boolean | typeof SHED> {
    const digest = mac(password)
    const known = verified.get(id)
    if (known && known.secretHash === secretHash && timingSafeEqual(known.mac, digest)) return Promise.resolve(true)
    if (locked) return Promise.resolve(false)
    const flightKey = `${id}\0${digest.toString('base64url')}\0${secretHash}`
    const shared = inFlight.get(flightKey)
    if (shared) return shared
    const check = queue.run(() => verifySecret(password.toString('utf8'), secretHash)).then((ok) => {
      if (ok === true) verified.set(id, { secretHash, mac: digest })
      return ok
    }).finally(() => inFlight.delete(flightKey))
    inFlight.set(flightKey, check as Promise<boolean>)
    return check
  }

  async function checkSecret(id: string, password: Buffer, stored: string, locked: boolean): Promise<boolean | 'locked' | 'key-mismatch' | typeof SHED> {
    switch (secretScheme(stored)) {
      case 'keyed':
        if (storedKeyId(stored) !== keyId) return 'key-mismatch'
        return keyed.verify(password, stored)
      case 'scrypt': {
        const checked = await scryptCheck(id, password, stored, locked)
        return checked === false && locked ? 'locked' : checked
      }
      default:
        return false
    }
  }

  /** Rewrites a scrypt hash in the keyed scheme; only if it is still the one checked (a rotation wins). */
  function upgrade(id: string, from: string, to: string): void {
    if (!deps.directory.upgradeSecretHash) return
    deps.directory.upgradeSecretHash(id, from, to).then((done) => {
      if (!done) return
      if (credentials.get(id)?.secretHash === from) credentials.set(id, { ...credentials.get(id)!, secretHash: to })
      verified.delete(id)
      deps.onUpgrade?.(id)
    }, (err: unknown) => deps.onUpgradeError?.(id, err))
  }

  async function machineLogin(id: string, password: Buffer, address: string | undefined, willTopic: string | undefined): Promise<LoginResult> {
    const t = now()
    const locked = (address !== undefined && throttle.locked(addressKey(address), t)) || throttle.locked(machineKey(id), t)
    const refuse = (reason: LoginRefusal, knownId: boolean): LoginResult => {
      if (address !== undefined) throttle.fail(addressKey(address), t)
      if (knownId) throttle.fail(machineKey(id), t)
      return { ok: false, reason }
    }
    let machine = credentials.get(id)
    let fresh = false
    const read = async (): Promise<MachineCredentials | null | typeof SHED> => {
      let reading = reads.get(id)
      if (!reading) {
        reading = queue.run(() => deps.directory.find(id)).then((found) => {
          if (found === SHED) return found
          if (found) credentials.set(id, found)
          else credentials.delete(id)
          return found
        }).finally(() => reads.delete(id))
        reads.set(id, reading)
      }
      const found = await reading
      if (found !== SHED) fresh = true
      return found
    }
    if (!machine) {
      if (locked) return refuse('locked-out', false)
      const found = await read()
      if (found === SHED) return { ok: false, unavailable: 'shed' }
      if (!found) return refuse('unknown-machine', false)
      machine = found
    }
    let check = await checkSecret(id, password, machine.secretHash, locked)
    // A secret rotated since the watcher's last poll: read the row again (not while locked out).
    if (check === false && !fresh && !locked) {
      const found = await read()
      if (found === SHED) return { ok: false, unavailable: 'shed' }
      if (!found) return refuse('unknown-machine', false)
      if (found.secretHash !== machine.secretHash) check = await checkSecret(id, password, found.secretHash, locked)
      machine = found
    }
    if (check !== true) {
      if (check === SHED || check === 'key-mismatch') return { ok: false, unavailable: check === SHED ? 'shed' : check }
      return refuse(locked && check === 'locked' ? 'locked-out' : 'bad-password', true)
    }
    const stored = machine.secretHash
    throttle.clear(machineKey(id))
    if (machine.disabled) return { ok: false, reason: 'disabled' }
    // The keyed form of the secret that logged in: equal to the stored hash once it is keyed, so a
    // rewrite from scrypt is not taken for a rotation (broker.ts closes a session whose hash changed).
    // A keyed hash that verified is that form already: computed once per login, not twice.
    const keyedHash = secretScheme(stored) === 'keyed' ? stored : keyed.hash(password)
    if (secretScheme(stored) === 'scrypt') upgrade(id, stored, keyedHash)
    const identity: Identity = { kind: 'machine', id, secretHash: keyedHash, ...(stored !== keyedHash ? { checkedHash: stored } : {}) }
    if (willTopic !== undefined && !canSetWill(deps.topicPrefix, identity, willTopic)) return { ok: false, reason: 'will-forbidden' }
    return { ok: true, identity }
  }

  async function login({ clientId, username, password, willTopic, address }: LoginAttempt): Promise<LoginResult> {
    const refuse = (reason: LoginRefusal): LoginResult => {
      if (address !== undefined) throttle.fail(addressKey(address), now())
      return { ok: false, reason }
    }
    if (!username || !password) return refuse('no-credentials')

    if (username === SERVICE_USERNAME) {
      // Never queued nor locked out: a constant-time comparison of one digest.
      if (!timingSafeEqual(sha256(password), servicePassword)) return refuse('bad-service-password')
      if (!clientId.startsWith(SERVICE_USERNAME)) return refuse('bad-service-client-id')
      const identity: Identity = { kind: 'service' }
      if (willTopic !== undefined && !canSetWill(deps.topicPrefix, identity, willTopic)) return refuse('will-forbidden')
      return { ok: true, identity }
    }
    // Client ids are unique on the broker (a second login takes over the first), so a machine named
    // like a gateway client id could knock the gateway off. Such ids are refused.
    if (username.startsWith(SERVICE_USERNAME)) return refuse('reserved-username')
    if (clientId !== username || !isMachineId(username)) return refuse('client-id-mismatch')
    return machineLogin(username, password, address, willTopic)
  }

  return {
    login,
    learn(change) {
      credentials.set(change.id, { secretHash: change.secretHash, disabled: change.disabled })
      if (verified.get(change.id)?.secretHash !== change.secretHash) verified.delete(change.id)
    },
    known: () => credentials.size,
  }
}
