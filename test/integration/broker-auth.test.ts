import { Writable } from 'node:stream'
import { sql, type Kysely } from 'kysely'
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt'
import { pino } from 'pino'
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { createBroker, type Broker } from '../../broker/broker.js'
import { BROKER_LIMIT_DEFAULTS, type BrokerConfig } from '../../broker/config.js'
import { createMachineDirectoryRepository, type BrokerDatabase } from '../../broker/machine-directory.repository.js'
import { DEV_MACHINE_SECRET_KEY, hashSecret, keyedSecretHash, newSecret } from '../../protocol/index.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { waitFor } from '../support/wait.js'

// Logins against the machines table in PostgreSQL, as the fleet CLI leaves it: provisioned,
// rotated and disabled machines take effect without a restart.

const GATEWAY_PASSWORD = 'auth-test-gateway'
const secrets = { 'VM-1': newSecret(), 'VM-OFF': newSecret(), 'VM-ROT': newSecret(), 'VM-DIS': newSecret() }
let database: TestDatabase
let db: Kysely<BrokerDatabase>
let broker: Broker
let url: string
const logLines: string[] = []
const clients: MqttClient[] = []

function config(): BrokerConfig {
  return {
    host: '127.0.0.1', port: 0, wsPort: undefined, tls: undefined, gatewayPassword: GATEWAY_PASSWORD,
    databaseUrl: database.url, topicPrefix: 'vending', logLevel: 'info', limits: { ...BROKER_LIMIT_DEFAULTS }, credentialsPollMs: 200,
  }
}

/** The CONNACK return code a login gets (0 = accepted); an accepted client is kept for afterEach. */
async function connackCode(options: IClientOptions): Promise<number> {
  try {
    const client = await mqtt.connectAsync(url, { reconnectPeriod: 0, ...options })
    client.on('error', () => {})
    clients.push(client)
    return 0
  } catch (err) {
    return (err as { code?: number }).code ?? -1
  }
}
const login = (id: string, password: string, clientId = id) => connackCode({ clientId, username: id, password })
const lastClient = (): MqttClient => clients.at(-1)!

async function setCredentials(id: string, values: { secretHash?: string; disabled?: boolean }): Promise<void> {
  await db.updateTable('machines')
    .set({ ...(values.secretHash ? { secret_hash: values.secretHash } : {}), ...(values.disabled !== undefined ? { disabled: values.disabled } : {}), credentials_at: sql`now()` })
    .where('id', '=', id)
    .execute()
}

beforeAll(async () => {
  database = await createTestDatabase()
  db = database.handle.db as unknown as Kysely<BrokerDatabase>
  await sql`insert into kassas (id, name, inn, reg_number, sno, time_zone)
            values ('K1', 'ООО Вендинг', '7707083893', '0000000001012345', 'usn_income', 'Europe/Moscow')`.execute(db)
  for (const [id, secret] of Object.entries(secrets)) {
    await sql`insert into machines (id, kassa_id, number, address, place, time_zone, secret_hash, disabled)
              values (${id}, 'K1', ${id}, 'г. Москва, ул. Тверская, 1', 'Вестибюль', 'Europe/Moscow', ${await hashSecret(secret)}, ${id === 'VM-OFF'})`.execute(db)
  }
  const sink = new Writable({ write(chunk, _enc, done) { logLines.push(String(chunk)); done() } })
  broker = createBroker({ config: config(), directory: createMachineDirectoryRepository(db), logger: pino({ level: 'info' }, sink) })
  url = `mqtt://127.0.0.1:${(await broker.start()).port}`
})

afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.endAsync(true)))
})

afterAll(async () => {
  await broker?.stop()
  await database?.drop()
})

describe('machine login', () => {
  it('accepts a provisioned machine with its id as username and client id', async () => {
    expect(await login('VM-1', secrets['VM-1'])).toBe(0)
  })

  it('refuses a wrong secret, an unknown machine, a foreign client id and a disabled machine with CONNACK 5', async () => {
    const before = broker.stats().authFailures
    expect(await login('VM-1', 'not-the-secret')).toBe(5)
    expect(await login('VM-404', secrets['VM-1'])).toBe(5)
    expect(await login('VM-1', secrets['VM-1'], 'VM-2')).toBe(5)
    expect(await login('VM-OFF', secrets['VM-OFF'])).toBe(5)
    expect(await connackCode({ clientId: 'VM-1' })).toBe(5) // no credentials at all
    expect(broker.stats().authFailures).toBe(before + 5)
  })

  it('logs each refusal with its reason and never the secret', () => {
    const refusals = logLines.map((l) => JSON.parse(l)).filter((l) => l.msg === 'login refused')
    expect(refusals.map((l) => l.reason)).toEqual(expect.arrayContaining(['bad-password', 'unknown-machine', 'client-id-mismatch', 'disabled']))
    expect(refusals[0]).toMatchObject({ component: 'broker', clientId: 'VM-1', username: 'VM-1' })
    const all = logLines.join('')
    for (const secret of Object.values(secrets)) expect(all).not.toContain(secret)
    expect(all).not.toContain('not-the-secret')
  })
})

describe('credential changes without a restart', () => {
  it('after a rotation the old secret is refused, the new one accepted, and a live connection on the old one closed', async () => {
    expect(await login('VM-ROT', secrets['VM-ROT'])).toBe(0)
    const live = lastClient()
    const liveClosed = new Promise<void>((resolve) => live.once('close', () => resolve()))
    const closuresBefore = broker.stats().credentialClosures
    const rotated = newSecret()
    await setCredentials('VM-ROT', { secretHash: await hashSecret(rotated) })

    await liveClosed
    expect(broker.stats().credentialClosures).toBe(closuresBefore + 1)
    expect(await login('VM-ROT', secrets['VM-ROT'])).toBe(5)
    expect(await login('VM-ROT', rotated)).toBe(0)
    // Later polls see the same change again (overlap window) and leave the new connection alone.
    await broker.checkCredentials()
    await broker.checkCredentials()
    expect(broker.stats().credentialClosures).toBe(closuresBefore + 1)
    expect(lastClient().connected).toBe(true)
  })

  it('disabling a machine closes its live connection within a couple of seconds and refuses it after', async () => {
    expect(await login('VM-DIS', secrets['VM-DIS'])).toBe(0)
    const live = lastClient()
    const liveClosed = new Promise<void>((resolve) => live.once('close', () => resolve()))
    const started = Date.now()
    await setCredentials('VM-DIS', { disabled: true })
    await liveClosed
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(await login('VM-DIS', secrets['VM-DIS'])).toBe(5)
  })
})

describe('secrets stored with scrypt (the former scheme)', () => {
  it('are rewritten as the keyed hash at the first good login, and the live connection is kept', async () => {
    const storedHash = async () => (await db.selectFrom('machines').select('secret_hash').where('id', '=', 'VM-1').executeTakeFirstOrThrow()).secret_hash
    expect(await login('VM-1', secrets['VM-1'])).toBe(0)
    const live = lastClient()
    const keyed = keyedSecretHash(secrets['VM-1'], DEV_MACHINE_SECRET_KEY)
    await waitFor(async () => await storedHash() === keyed, 'the keyed hash in the machines table', 5_000)
    expect(broker.stats().secretsUpgraded).toBeGreaterThanOrEqual(1)
    // The rewrite moved credentials_at: the watcher sees it, and it is not taken for a rotation.
    const closures = broker.stats().credentialClosures
    await broker.checkCredentials()
    expect(broker.stats().credentialClosures).toBe(closures)
    expect(live.connected).toBe(true)
    expect(await login('VM-1', secrets['VM-1'])).toBe(0)
    expect(await login('VM-1', 'not-the-secret')).toBe(5)
  })
})

describe('gateway login', () => {
  it('accepts the service user with a gateway client id and refuses a wrong password or client id', async () => {
    expect(await connackCode({ clientId: 'gateway-main-in', username: 'gateway', password: GATEWAY_PASSWORD })).toBe(0)
    expect(await connackCode({ clientId: 'gateway-main-out', username: 'gateway', password: 'nope' })).toBe(5)
    expect(await connackCode({ clientId: 'VM-1', username: 'gateway', password: GATEWAY_PASSWORD })).toBe(5)
  })
})
