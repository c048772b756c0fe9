import { createHash, createHmac, randomBytes, timingSafeEqual } from 'node:crypto'
import { isMachineId, verifySecret } from '../protocol/index.js'
import { canSetWill, type Identity } from './acl.js'
import type { MachineDirectory } from './machine-directory.js'

/** The gateway's username; its client ids start with it (`gateway-<id>-in`, `gateway-<id>-out`). */
export const SERVICE_USERNAME = 'gateway'

export interface LoginAttempt {
  clientId: string
  username: string | undefined
  password: Buffer | undefined
  /** Topic of the will in the CONNECT, if any. */
  willTopic: string | undefined
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

export type LoginResult = { ok: true; identity: Identity } | { ok: false; reason: LoginRefusal }

export interface Authenticator {
  /** Rejects only when the directory fails (the caller answers CONNACK 3, server unavailable). */
  login(attempt: LoginAttempt): Promise<LoginResult>
  /** Drops what is remembered about a machine whose credentials changed. */
  forget(machineId: string): void
}

// An unknown machine is checked against this hash too, so the reply takes as long as for a known one
// and its timing does not reveal which ids exist. Any valid hash of the current scheme serves; nobody knows its secret.
const DUMMY_HASH = 'sha256$iXrFJitIJFshZoRuW0bEkA$CIOtX5z3qAD9RcMVtNf_EJhqiRwlFYbWswI0lp9z_yk'

const sha256 = (b: Buffer): Buffer => createHash('sha256').update(b).digest()

export function createAuthenticator(deps: { directory: MachineDirectory; gatewayPassword: string; topicPrefix: string }): Authenticator {
  const servicePassword = sha256(Buffer.from(deps.gatewayPassword, 'utf8'))
  // Hashes written before protocol/secret.ts moved to sha256 are scrypt (~40 ms of CPU per check),
  // and a fleet reconnects all at once after a broker restart. A machine's secret is 192 random
  // bits, so a keyed fast hash of it is as safe to hold in memory as the stored hash: remember the
  // last secret that verified, per machine and stored hash.
  const cacheKey = randomBytes(32)
  const verified = new Map<string, { secretHash: string; mac: Buffer }>()
  const mac = (password: Buffer): Buffer => createHmac('sha256', cacheKey).update(password).digest()

  async function checkSecret(id: string, password: Buffer, secretHash: string): Promise<boolean> {
    const known = verified.get(id)
    const digest = mac(password)
    if (known && known.secretHash === secretHash && timingSafeEqual(known.mac, digest)) return true
    const ok = await verifySecret(password.toString('utf8'), secretHash)
    if (ok) verified.set(id, { secretHash, mac: digest })
    return ok
  }

  async function login({ clientId, username, password, willTopic }: LoginAttempt): Promise<LoginResult> {
    if (!username || !password) return { ok: false, reason: 'no-credentials' }
    const refuse = (reason: LoginRefusal): LoginResult => ({ ok: false, reason })

    if (username === SERVICE_USERNAME) {
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

    const machine = await deps.directory.find(username)
    if (!machine) {
      await verifySecret(password.toString('utf8'), DUMMY_HASH)
      return refuse('unknown-machine')
    }
    if (!(await checkSecret(username, password, machine.secretHash))) return refuse('bad-password')
    if (machine.disabled) return refuse('disabled')
    const identity: Identity = { kind: 'machine', id: username, secretHash: machine.secretHash }
    if (willTopic !== undefined && !canSetWill(deps.topicPrefix, identity, willTopic)) return refuse('will-forbidden')
    return { ok: true, identity }
  }

  return { login, forget: (id) => verified.delete(id) }
}
