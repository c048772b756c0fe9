import { createHash, createHmac, createSecretKey, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// Machine secrets are stored only as hashes, in one of two schemes:
// - `hmac-sha256$<key id>$<mac>`: HMAC-SHA-256 of the secret under the server's machine-secret key
//   (MACHINE_SECRET_KEY), written by the fleet CLI and checked by the broker in microseconds. A
//   secret is 192 random bits, so no salt and no slow hash are needed: guessing it is 2^191 tries on
//   average whatever the hash costs, and the key keeps a stolen table useless without it.
// - `scrypt$N$r$p$salt$hash` (base64url): the former scheme, ~40 ms of CPU per check. Still accepted;
//   the broker rewrites it in the keyed form on the machine's next good login.
const PARAMS = { N: 16384, r: 8, p: 1 } as const
const KEY_LEN = 32
const KEYED = 'hmac-sha256'

/** The key of development setups (`npm start`, tests): public, so refused in production. */
export const DEV_MACHINE_SECRET_KEY = 'vending-dev-machine-secret-key-not-for-production'
/** Bytes a machine-secret key must have at least. */
export const MACHINE_SECRET_KEY_MIN = 32

function derive(secret: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, KEY_LEN, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

/** A fresh machine secret: 24 random bytes, base64url (32 characters). */
export function newSecret(): string {
  return randomBytes(24).toString('base64url')
}

/** The former scheme (scrypt). New secrets are stored with `keyedSecretHash`. */
export async function hashSecret(secret: string): Promise<string> {
  const salt = randomBytes(16)
  const key = await derive(secret, salt, PARAMS)
  return ['scrypt', PARAMS.N, PARAMS.r, PARAMS.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

/** Checks a secret against a scrypt hash (false for any other scheme). */
export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const [scheme, n, r, p, salt, hash] = stored.split('$')
  if (scheme !== 'scrypt' || !n || !r || !p || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const key = await derive(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) })
  return key.length === expected.length && timingSafeEqual(key, expected)
}

/** Names a key without revealing it: stored beside each hash, so a broker with another key says so. */
export function machineKeyId(key: string): string {
  return createHash('sha256').update('machine-secret-key-id:').update(key, 'utf8').digest('base64url').slice(0, 8)
}

/** The stored form of a secret under `key`: deterministic, so every broker computes the same string. */
export function keyedSecretHash(secret: string | Buffer, key: string): string {
  const mac = createHmac('sha256', key).update(secret).digest('base64url')
  return `${KEYED}$${machineKeyId(key)}$${mac}`
}

export interface KeyedSecretHasher {
  readonly keyId: string
  /** keyedSecretHash(secret, key). */
  hash(secret: string | Buffer): string
  /** verifyKeyedSecret(secret, stored, key), in constant time. */
  verify(secret: string | Buffer, stored: string): boolean
}

/**
 * keyedSecretHash and verifyKeyedSecret with the key's id and HMAC key prepared once, for a broker
 * checking every login of a fleet that comes back at once: 6–9 µs of CPU per login check instead of
 * 10–13 µs deriving them again each time (README.md#reconnect-storm).
 */
export function keyedSecretHasher(key: string): KeyedSecretHasher {
  const keyId = machineKeyId(key)
  const hmacKey = createSecretKey(Buffer.from(key, 'utf8'))
  const hash = (secret: string | Buffer): string => `${KEYED}$${keyId}$${createHmac('sha256', hmacKey).update(secret).digest('base64url')}`
  return {
    keyId,
    hash,
    verify(secret, stored) {
      const expected = Buffer.from(stored, 'utf8')
      const actual = Buffer.from(hash(secret), 'utf8')
      return expected.length === actual.length && timingSafeEqual(expected, actual)
    },
  }
}

export type SecretScheme = 'keyed' | 'scrypt' | 'unknown'

export function secretScheme(stored: string): SecretScheme {
  if (stored.startsWith(`${KEYED}$`)) return 'keyed'
  if (stored.startsWith('scrypt$')) return 'scrypt'
  return 'unknown'
}

/** The key id a keyed hash was made with, or null for another scheme. */
export function storedKeyId(stored: string): string | null {
  const [scheme, kid, mac] = stored.split('$')
  return scheme === KEYED && kid && mac ? kid : null
}

/** Checks a secret against a keyed hash made with `key`, in constant time (microseconds). */
export function verifyKeyedSecret(secret: string | Buffer, stored: string, key: string): boolean {
  const expected = Buffer.from(stored, 'utf8')
  const actual = Buffer.from(keyedSecretHash(secret, key), 'utf8')
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/**
 * The machine-secret key from its two variables (the value, or a file holding it), checked. Returns
 * the key or a problem naming the variable; `production` refuses the development default and a
 * missing key.
 */
export function parseMachineSecretKey(
  value: string | undefined, file: { name: string; read: () => string } | undefined, production: boolean,
): { ok: true; key: string } | { ok: false; problem: string } {
  if (value !== undefined && file !== undefined) return { ok: false, problem: 'MACHINE_SECRET_KEY: set it or MACHINE_SECRET_KEY_FILE, not both' }
  let key = value
  if (file !== undefined) {
    try {
      key = file.read().trim()
    } catch (err) {
      return { ok: false, problem: `MACHINE_SECRET_KEY_FILE: cannot read ${file.name} (${(err as NodeJS.ErrnoException).code ?? String(err)})` }
    }
  }
  const name = file !== undefined ? 'MACHINE_SECRET_KEY_FILE' : 'MACHINE_SECRET_KEY'
  if (key === undefined) {
    return production ? { ok: false, problem: 'MACHINE_SECRET_KEY: required in production (or MACHINE_SECRET_KEY_FILE)' } : { ok: true, key: DEV_MACHINE_SECRET_KEY }
  }
  if (Buffer.byteLength(key, 'utf8') < MACHINE_SECRET_KEY_MIN) return { ok: false, problem: `${name}: must be at least ${MACHINE_SECRET_KEY_MIN} bytes` }
  if (production && key === DEV_MACHINE_SECRET_KEY) return { ok: false, problem: `${name}: not the development default in production` }
  return { ok: true, key }
}
