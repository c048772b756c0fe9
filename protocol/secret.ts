import { createHash, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto'

// Machine secrets are stored only as salted hashes. A secret is 192 random bits, so guessing it
// takes ~2^191 tries whatever the hash costs: a slow KDF adds nothing an attacker would notice,
// but it cost ~40 ms of CPU per machine (a 1,000-machine import took 18 s of hashing here, a broker
// restart as much again). New hashes are `sha256$salt$hash`; `scrypt$N$r$p$salt$hash` hashes
// written before still verify. Both base64url.
const SCRYPT_KEY_LEN = 32

function derive(secret: string, salt: Buffer, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) =>
    scrypt(secret, salt, SCRYPT_KEY_LEN, { ...opts, maxmem: 64 * 1024 * 1024 }, (err, key) => (err ? reject(err) : resolve(key))),
  )
}

const sha256 = (salt: Buffer, secret: string): Buffer => createHash('sha256').update(salt).update(secret, 'utf8').digest()

/** A fresh machine secret: 24 random bytes, base64url (32 characters). */
export function newSecret(): string {
  return randomBytes(24).toString('base64url')
}

export function hashSecret(secret: string): string {
  const salt = randomBytes(16)
  return ['sha256', salt.toString('base64url'), sha256(salt, secret).toString('base64url')].join('$')
}

/** A hash in the scheme older databases hold; for tests of those. */
export async function hashSecretScrypt(secret: string): Promise<string> {
  const params = { N: 16384, r: 8, p: 1 }
  const salt = randomBytes(16)
  const key = await derive(secret, salt, params)
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$')
}

export async function verifySecret(secret: string, stored: string): Promise<boolean> {
  const parts = stored.split('$')
  let key: Buffer
  let expected: Buffer
  if (parts[0] === 'sha256' && parts.length === 3 && parts[1] && parts[2]) {
    expected = Buffer.from(parts[2], 'base64url')
    key = sha256(Buffer.from(parts[1], 'base64url'), secret)
  } else if (parts[0] === 'scrypt' && parts.length === 6 && parts.every(Boolean)) {
    const [, n, r, p, salt, hash] = parts as [string, string, string, string, string, string]
    expected = Buffer.from(hash, 'base64url')
    key = await derive(secret, Buffer.from(salt, 'base64url'), { N: Number(n), r: Number(r), p: Number(p) })
  } else {
    return false
  }
  return key.length === expected.length && timingSafeEqual(key, expected)
}
