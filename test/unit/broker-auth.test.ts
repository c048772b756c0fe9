import { beforeAll, describe, expect, it, vi } from 'vitest'
import { createAuthQueue } from '../../broker/auth-queue.js'
import { createAuthenticator, type AuthenticatorDeps, type LoginAttempt } from '../../broker/auth.js'
import { createLoginThrottle } from '../../broker/login-throttle.js'
import { MemoryMachineDirectory } from '../../broker/machine-directory.memory.js'
import type { MachineDirectory } from '../../broker/machine-directory.js'
import { hashSecret, keyedSecretHash, newSecret } from '../../protocol/index.js'

const KEY = 'unit-test-machine-secret-key-0123456789'
const secret = newSecret()
const directory = new MemoryMachineDirectory()

function authenticator(dir: MachineDirectory, extra: Partial<AuthenticatorDeps> = {}) {
  return createAuthenticator({
    directory: dir, gatewayPassword: 'gw-pass', topicPrefix: 'vending', secretKey: KEY,
    queue: createAuthQueue({ concurrency: 4, maxWaiting: 100, maxWaitMs: 5000 }),
    throttle: createLoginThrottle({ failures: 5, lockoutMs: 1000, lockoutMaxMs: 60_000 }),
    ...extra,
  })
}
const auth = authenticator(directory)

function attempt(username: string | undefined, password: string | undefined, extra: Partial<LoginAttempt> = {}): LoginAttempt {
  return { clientId: username ?? '', username, password: password === undefined ? undefined : Buffer.from(password), willTopic: undefined, ...extra }
}

beforeAll(() => {
  const secretHash = keyedSecretHash(secret, KEY)
  directory.put('VM-1', { secretHash, disabled: false })
  directory.put('VM-OFF', { secretHash, disabled: true })
  directory.put('gateway-x', { secretHash, disabled: false })
})

describe('machine login', () => {
  it('accepts the machine id, its secret and a matching client id', async () => {
    const result = await auth.login(attempt('VM-1', secret, { willTopic: 'vending/VM-1/status' }))
    expect(result).toEqual({ ok: true, identity: { kind: 'machine', id: 'VM-1', secretHash: keyedSecretHash(secret, KEY) } })
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

  it('checks a keyed hash in microseconds, with no database read once the credentials are known', async () => {
    const local = new MemoryMachineDirectory()
    const find = vi.spyOn(local, 'find')
    const a = authenticator(local)
    a.learn({ id: 'VM-K', secretHash: keyedSecretHash(secret, KEY), disabled: false, credentialsAt: new Date() })
    const started = performance.now()
    for (let i = 0; i < 1000; i++) expect((await a.login(attempt('VM-K', secret))).ok).toBe(true)
    const perLoginMs = (performance.now() - started) / 1000
    expect(find).not.toHaveBeenCalled()
    expect(perLoginMs).toBeLessThan(1) // one scrypt check alone is ~40 ms
  })

  it('checks a rotated secret against the new hash, reading the row again when the watcher has not told it yet', async () => {
    const local = new MemoryMachineDirectory()
    const login = authenticator(local).login
    local.put('VM-R', { secretHash: keyedSecretHash(secret, KEY), disabled: false })
    expect((await login(attempt('VM-R', secret))).ok).toBe(true)
    const rotated = newSecret()
    local.put('VM-R', { secretHash: keyedSecretHash(rotated, KEY), disabled: false })
    expect((await login(attempt('VM-R', rotated))).ok).toBe(true)
    expect(await login(attempt('VM-R', secret))).toEqual({ ok: false, reason: 'bad-password' })
  })

  it('answers "unavailable" for a hash made with another key, instead of calling the secret wrong', async () => {
    const local = new MemoryMachineDirectory()
    local.put('VM-X', { secretHash: keyedSecretHash(secret, 'another-key-of-at-least-32-bytes-long'), disabled: false })
    expect(await authenticator(local).login(attempt('VM-X', secret))).toEqual({ ok: false, unavailable: 'key-mismatch' })
  })

  it('rewrites a scrypt hash in the keyed scheme at the first good login, and keeps accepting it until then', async () => {
    const local = new MemoryMachineDirectory()
    const legacy = await hashSecret(secret)
    local.put('VM-S', { secretHash: legacy, disabled: false })
    const upgraded: string[] = []
    const a = authenticator(local, { onUpgrade: (id) => upgraded.push(id) })
    expect(await a.login(attempt('VM-S', 'wrong'))).toEqual({ ok: false, reason: 'bad-password' })
    expect((await local.find('VM-S'))!.secretHash).toBe(legacy)
    const result = await a.login(attempt('VM-S', secret))
    expect(result).toEqual({ ok: true, identity: { kind: 'machine', id: 'VM-S', secretHash: keyedSecretHash(secret, KEY), checkedHash: legacy } })
    await vi.waitFor(() => expect(upgraded).toEqual(['VM-S']))
    expect((await local.find('VM-S'))!.secretHash).toBe(keyedSecretHash(secret, KEY))
  })

  it('shares one scrypt check between concurrent logins with the same secret', async () => {
    const local = new MemoryMachineDirectory()
    local.put('VM-P', { secretHash: await hashSecret(secret), disabled: false })
    const queue = createAuthQueue({ concurrency: 4, maxWaiting: 100, maxWaitMs: 5000 })
    const run = vi.spyOn(queue, 'run')
    const a = authenticator(local, { queue })
    const results = await Promise.all(Array.from({ length: 8 }, () => a.login(attempt('VM-P', secret))))
    expect(results.every((r) => r.ok)).toBe(true)
    expect(run).toHaveBeenCalledTimes(2) // one database read, one scrypt check
  })

  it('sheds logins that need the database when the queue is full (CONNACK 3), and never the gateway\'s', async () => {
    let release!: () => void
    const gate = new Promise<void>((r) => { release = r })
    const slow: MachineDirectory = { find: async () => { await gate; return null }, changedSince: async () => [] }
    const a = authenticator(slow, { queue: createAuthQueue({ concurrency: 1, maxWaiting: 2, maxWaitMs: 60_000 }) })
    const pending = [1, 2, 3].map((i) => a.login(attempt(`VM-Q${i}`, secret)))
    expect(await a.login(attempt('VM-Q4', secret))).toEqual({ ok: false, unavailable: 'shed' })
    expect(await a.login(attempt('gateway', 'gw-pass', { clientId: 'gateway-main-in' }))).toEqual({ ok: true, identity: { kind: 'service' } })
    release()
    expect(await Promise.all(pending)).toEqual([1, 2, 3].map(() => ({ ok: false, reason: 'unknown-machine' })))
  })

  it('locks out an address that keeps failing: unknown ids cost no database read, known machines still get in', async () => {
    const local = new MemoryMachineDirectory()
    local.put('VM-H', { secretHash: keyedSecretHash(secret, KEY), disabled: false })
    const find = vi.spyOn(local, 'find')
    let t = 0
    const a = authenticator(local, { now: () => t })
    for (let i = 0; i < 5; i++) expect(await a.login(attempt(`VM-NO${i}`, secret, { address: '10.0.0.9' }))).toEqual({ ok: false, reason: 'unknown-machine' })
    expect(find).toHaveBeenCalledTimes(5)
    expect(await a.login(attempt('VM-NO9', secret, { address: '10.0.0.9' }))).toEqual({ ok: false, reason: 'locked-out' })
    expect(find).toHaveBeenCalledTimes(5)
    // An honest machine behind the same address: its first login reads the row (not locked by id) …
    expect((await a.login(attempt('VM-H', secret, { address: '10.0.0.1' }))).ok).toBe(true)
    // … and from then on is checked from memory, lockout or not.
    expect((await a.login(attempt('VM-H', secret, { address: '10.0.0.9' }))).ok).toBe(true)
    t += 61_000 // the lockout (doubled by the attempt while locked) has run out, and the quiet period
    expect(await a.login(attempt('VM-NO9', secret, { address: '10.0.0.9' }))).toEqual({ ok: false, reason: 'unknown-machine' })
  })

  it('does not run scrypt for a machine id locked out by wrong secrets, yet lets a secret it verified before in', async () => {
    const local = new MemoryMachineDirectory()
    local.put('VM-L', { secretHash: await hashSecret(secret), disabled: false })
    local.upgradeSecretHash = undefined as never // a directory that cannot rewrite: the scrypt hash stays
    const queue = createAuthQueue({ concurrency: 4, maxWaiting: 100, maxWaitMs: 5000 })
    const a = authenticator(local, { queue })
    expect((await a.login(attempt('VM-L', secret))).ok).toBe(true)
    for (let i = 0; i < 5; i++) await a.login(attempt('VM-L', `wrong-${i}`, { address: `10.1.0.${i}` }))
    const run = vi.spyOn(queue, 'run')
    expect(await a.login(attempt('VM-L', 'wrong-again', { address: '10.1.0.99' }))).toEqual({ ok: false, reason: 'locked-out' })
    expect((await a.login(attempt('VM-L', secret, { address: '10.1.0.99' }))).ok).toBe(true)
    expect(run).not.toHaveBeenCalled()
  })

  it('lets a directory failure through for the caller to answer "server unavailable"', async () => {
    const failing = { find: vi.fn().mockRejectedValue(new Error('db down')), changedSince: vi.fn() }
    await expect(authenticator(failing).login(attempt('VM-1', secret))).rejects.toThrow('db down')
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

  it('gets in from an address that is locked out', async () => {
    const a = authenticator(new MemoryMachineDirectory())
    for (let i = 0; i < 10; i++) await a.login(attempt(`VM-Z${i}`, 'x', { address: '10.2.0.1' }))
    expect(await a.login(attempt('VM-Z99', 'x', { address: '10.2.0.1' }))).toEqual({ ok: false, reason: 'locked-out' })
    expect((await a.login(attempt('gateway', 'gw-pass', { clientId: 'gateway-b-in', address: '10.2.0.1' }))).ok).toBe(true)
  })
})
