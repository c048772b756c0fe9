import { beforeAll, describe, expect, it, vi } from 'vitest'
import { createAuthenticator, type LoginAttempt } from '../../broker/auth.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'
import { hashSecret, hashSecretScrypt, newSecret, verifySecret } from '../../protocol/index.js'

const secret = newSecret()
const directory = new MemoryMachineDirectory()
const auth = createAuthenticator({ directory, gatewayPassword: 'gw-pass', topicPrefix: 'vending' })

function attempt(username: string | undefined, password: string | undefined, extra: Partial<LoginAttempt> = {}): LoginAttempt {
  return { clientId: username ?? '', username, password: password === undefined ? undefined : Buffer.from(password), willTopic: undefined, ...extra }
}

beforeAll(async () => {
  const secretHash = hashSecret(secret)
  directory.put('VM-1', { secretHash, disabled: false })
  directory.put('VM-OFF', { secretHash, disabled: true })
  directory.put('gateway-x', { secretHash, disabled: false })
})

describe('machine login', () => {
  it('accepts the machine id, its secret and a matching client id', async () => {
    const result = await auth.login(attempt('VM-1', secret, { willTopic: 'vending/VM-1/status' }))
    expect(result).toEqual({ ok: true, identity: { kind: 'machine', id: 'VM-1', secretHash: expect.stringMatching(/^sha256\$/) } })
  })

  it.each([
    ['a wrong secret', attempt('VM-1', 'wrong'), 'bad-password'],
    ['an unknown machine', attempt('VM-404', secret), 'unknown-machine'],
    ['a client id that is not the machine id', attempt('VM-1', secret, { clientId: 'VM-2' }), 'client-id-mismatch'],
    ['a disabled machine', attempt('VM-OFF', secret), 'disabled'],
    ['no password', attempt('VM-1', undefined), 'no-credentials'],
    ['a will on another machine\'s topic', attempt('VM-1', secret, { willTopic: 'vending/VM-2/status' }), 'will-forbidden'],
    ['a machine id in the gateway\'s client-id namespace', attempt('gateway-x', secret), 'reserved-username'],
  ])('refuses %s', async (_name, a, reason) => {
    expect(await auth.login(a)).toEqual({ ok: false, reason })
  })

  it('checks a rotated secret against the new hash, not what it remembered', async () => {
    const local = new MemoryMachineDirectory()
    const login = createAuthenticator({ directory: local, gatewayPassword: 'gw', topicPrefix: 'vending' }).login
    local.put('VM-R', { secretHash: hashSecret(secret), disabled: false })
    expect((await login(attempt('VM-R', secret))).ok).toBe(true)
    const rotated = newSecret()
    local.put('VM-R', { secretHash: hashSecret(rotated), disabled: false })
    expect(await login(attempt('VM-R', secret))).toEqual({ ok: false, reason: 'bad-password' })
    expect((await login(attempt('VM-R', rotated))).ok).toBe(true)
  })

  it('verifies the sha256 hashes it writes and the scrypt hashes older databases hold', async () => {
    for (const stored of [hashSecret(secret), await hashSecretScrypt(secret)]) {
      expect(await verifySecret(secret, stored)).toBe(true)
      expect(await verifySecret(newSecret(), stored)).toBe(false)
    }
    expect(await verifySecret(secret, 'sha256$$')).toBe(false)
  })

  it('remembers a verified secret so a reconnect against a scrypt hash costs no scrypt', async () => {
    const local = new MemoryMachineDirectory()
    local.put('VM-C', { secretHash: await hashSecretScrypt(secret), disabled: false })
    const login = createAuthenticator({ directory: local, gatewayPassword: 'gw', topicPrefix: 'vending' }).login
    await login(attempt('VM-C', secret))
    const started = performance.now()
    for (let i = 0; i < 20; i++) expect((await login(attempt('VM-C', secret))).ok).toBe(true)
    expect(performance.now() - started).toBeLessThan(200) // 20 scrypt checks would take ~1 s
  })

  it('lets a directory failure through for the caller to answer "server unavailable"', async () => {
    const failing = { find: vi.fn().mockRejectedValue(new Error('db down')), changedSince: vi.fn() }
    const login = createAuthenticator({ directory: failing, gatewayPassword: 'gw', topicPrefix: 'vending' }).login
    await expect(login(attempt('VM-1', secret))).rejects.toThrow('db down')
  })
})

describe('gateway login', () => {
  it('accepts the service password with any client id starting with "gateway"', async () => {
    for (const clientId of ['gateway-main-in', 'gateway-main-out', 'gateway']) {
      expect(await auth.login(attempt('gateway', 'gw-pass', { clientId }))).toEqual({ ok: true, identity: { kind: 'service' } })
    }
  })

  it('refuses a wrong password or a foreign client id', async () => {
    expect(await auth.login(attempt('gateway', 'nope', { clientId: 'gateway-main-in' }))).toEqual({ ok: false, reason: 'bad-service-password' })
    expect(await auth.login(attempt('gateway', 'gw-pass', { clientId: 'VM-1' }))).toEqual({ ok: false, reason: 'bad-service-client-id' })
  })
})
