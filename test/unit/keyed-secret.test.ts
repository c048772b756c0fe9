import { describe, expect, it } from 'vitest'
import { DEV_MACHINE_SECRET_KEY, keyedSecretHash, keyedSecretHasher, machineKeyId, newSecret, verifyKeyedSecret } from '../../protocol/index.js'

// The broker checks every login of a reconnect storm with a hasher prepared once per key
// (README.md#reconnect-storm); it must give exactly the stored form the fleet CLI writes.

describe('keyedSecretHasher', () => {
  const other = 'another-key-of-at-least-32-bytes-long!!'

  it('names its key as machineKeyId does', () => {
    expect(keyedSecretHasher(other).keyId).toBe(machineKeyId(other))
  })

  it('gives the same stored form as keyedSecretHash, for strings and bytes, under each key', () => {
    for (const key of [DEV_MACHINE_SECRET_KEY, other]) {
      const hasher = keyedSecretHasher(key)
      for (const secret of [newSecret(), newSecret(), 'ä-non-ascii-✓', '']) {
        expect(hasher.hash(secret)).toBe(keyedSecretHash(secret, key))
        expect(hasher.hash(Buffer.from(secret, 'utf8'))).toBe(keyedSecretHash(secret, key))
      }
    }
  })

  it('verifies the right secret and refuses a wrong one, another key\'s hash, and a malformed one', () => {
    const secret = newSecret()
    const hasher = keyedSecretHasher(DEV_MACHINE_SECRET_KEY)
    const stored = keyedSecretHash(secret, DEV_MACHINE_SECRET_KEY)
    expect(hasher.verify(secret, stored)).toBe(true)
    expect(hasher.verify(Buffer.from(secret), stored)).toBe(true)
    expect(hasher.verify(newSecret(), stored)).toBe(false)
    expect(hasher.verify(secret, keyedSecretHash(secret, other))).toBe(false)
    expect(hasher.verify(secret, stored.slice(0, -1))).toBe(false)
    expect(hasher.verify(secret, '')).toBe(false)
    // The plain function agrees.
    expect(verifyKeyedSecret(secret, stored, DEV_MACHINE_SECRET_KEY)).toBe(true)
    expect(verifyKeyedSecret(newSecret(), stored, DEV_MACHINE_SECRET_KEY)).toBe(false)
  })
})
