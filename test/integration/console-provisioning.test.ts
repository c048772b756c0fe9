import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { DEV_MACHINE_SECRET_KEY, verifyKeyedSecret } from '../../protocol/index.js'
import { createUser } from '../../gateway/accounts/account.repository.js'
import { createHttpServer } from '../../gateway/http/http.server.js'
import { signIn, type ConsoleSession } from '../support/console-session.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { USERS } from '../support/sold-fleet.js'
import { gatewayConfig, logger, provisionFleet, TEST_KASSA } from '../support/system.js'

// Provisioning from the console: the fleet CLI's commands behind admin-only, CSRF-checked routes,
// each change in the audit log under the admin's name.
describe('provisioning through the console API', () => {
  let database: TestDatabase
  const servers: ReturnType<typeof createHttpServer>[] = []
  let base: string
  const as: Partial<Record<keyof typeof USERS, ConsoleSession>> = {}
  const db = () => database.handle.db

  async function serve(overrides: Record<string, unknown> = {}): Promise<string> {
    const http = createHttpServer({ db: db(), logger, config: { ...gatewayConfig('mqtt://127.0.0.1:1'), ...overrides }, readiness: () => ({ migrated: true, database: true, broker: false }) })
    servers.push(http)
    return `http://127.0.0.1:${await http.listen()}`
  }

  beforeAll(async () => {
    database = await createTestDatabase()
    await provisionFleet(db(), 2)
    for (const [role, u] of Object.entries(USERS)) await createUser(db(), { ...u, role: role as keyof typeof USERS })
    base = await serve()
    for (const role of ['admin', 'operator', 'viewer'] as const) as[role] = await signIn(base, USERS[role].username, USERS[role].password)
  }, 60_000)
  afterAll(async () => {
    for (const s of servers) await s.close()
    await database?.drop()
  })

  const machine = async (id: string) => (await sql<{ secret_hash: string; disabled: boolean; kassa_id: string }>`
    select secret_hash, disabled, kassa_id from machines where id = ${id}`.execute(db())).rows[0]

  it('adds a kassa and a machine, whose secret is shown once and is the one the broker will check', async () => {
    const admin = as.admin!
    const kassa = await admin.call('POST', '/api/kassas', { ...TEST_KASSA, id: 'K7', fn: '9999078900007000', name: 'ООО «Автоматы»' })
    expect(kassa.status).toBe(201)
    expect(kassa.body).toEqual({ id: 'K7', fn: '9999078900007000', tz: 'Europe/Moscow' })
    const added = await admin.call('POST', '/api/machines', { id: 'VM-100', kassa: 'K7', address: 'г. Москва, ул. Льва Толстого, 16', place: 'Столовая' })
    expect(added.status).toBe(201)
    expect(added.body.id).toBe('VM-100')
    expect(verifyKeyedSecret(added.body.secret, (await machine('VM-100'))!.secret_hash, DEV_MACHINE_SECRET_KEY)).toBe(true)
    // Not kept anywhere it could be read again: the list shows no secret, the audit log no secret.
    const listed = await admin.call('GET', '/api/machines?q=VM-100')
    expect(JSON.stringify(listed.body)).not.toContain(added.body.secret)
    const audit = await admin.call('GET', '/api/audit-log')
    expect(JSON.stringify(audit.body)).not.toContain(added.body.secret)
    expect(audit.body.items.slice(0, 2).map((e: any) => [e.actor, e.action, e.subject])).toEqual([
      ['user:anna', 'fleet.add-machine', 'VM-100'], ['user:anna', 'fleet.add-kassa', 'K7'],
    ])
  })

  it('rotates a secret, disables and enables a machine and moves it to another kassa, each in the audit log', async () => {
    const admin = as.admin!
    const before = (await machine('VM-001'))!.secret_hash
    const rotated = await admin.call('POST', '/api/machines/VM-001/secret')
    expect(rotated.status).toBe(200)
    const after = (await machine('VM-001'))!.secret_hash
    expect(after).not.toBe(before)
    expect(verifyKeyedSecret(rotated.body.secret, after, DEV_MACHINE_SECRET_KEY)).toBe(true)

    expect((await admin.call('POST', '/api/machines/VM-002/disable')).body).toEqual({ id: 'VM-002', disabled: true })
    expect((await machine('VM-002'))!.disabled).toBe(true)
    expect((await admin.call('GET', '/api/fleet/summary')).body).toMatchObject({ disabled: 1 })
    expect((await admin.call('GET', '/api/machines?status=disabled')).body.items.map((m: any) => m.id)).toEqual(['VM-002'])
    expect((await admin.call('POST', '/api/machines/VM-002/enable')).body).toEqual({ id: 'VM-002', disabled: false })

    expect((await admin.call('POST', '/api/machines/VM-002/kassa', { kassa: 'K7' })).body).toEqual({ id: 'VM-002', kassa: 'K7', pendingMoved: 0 })
    expect((await machine('VM-002'))!.kassa_id).toBe('K7')

    const audit = (await admin.call('GET', '/api/audit-log')).body.items.slice(0, 4).map((e: any) => [e.actor, e.action, e.subject])
    expect(audit).toEqual([
      ['user:anna', 'fleet.move-machine', 'VM-002'], ['user:anna', 'fleet.enable-machine', 'VM-002'],
      ['user:anna', 'fleet.disable-machine', 'VM-002'], ['user:anna', 'fleet.rotate-secret', 'VM-001'],
    ])
  })

  it('answers what the fleet commands refuse: bad fields, a taken id, an unknown machine, another time zone', async () => {
    const admin = as.admin!
    const bad = await admin.call('POST', '/api/machines', { id: 'bad id', kassa: 'K1', address: 'a', place: 'p' })
    expect(bad.status).toBe(400)
    expect(bad.body.problems.join()).toContain('id')
    expect((await admin.call('POST', '/api/machines', { id: 'VM-001', kassa: 'K1', address: 'a', place: 'p' })).status).toBe(409)
    expect((await admin.call('POST', '/api/machines', { id: 'VM-9', kassa: 'K1', address: 'a', place: 'p', secret: 'mine' })).status).toBe(400)
    expect((await admin.call('POST', '/api/machines/NOPE/disable')).status).toBe(404)
    // A cloud kassa names a password file or variable on the host: the CLI's, not the console's.
    expect((await admin.call('POST', '/api/kassas', { ...TEST_KASSA, id: 'K8', provider: 'atol-v5', 'password-file': '/etc/passwd' })).status).toBe(400)
    await admin.call('POST', '/api/kassas', { ...TEST_KASSA, id: 'KV', fn: '9999078900007001', tz: 'Asia/Vladivostok' })
    const moved = await admin.call('POST', '/api/machines/VM-001/kassa', { kassa: 'KV' })
    expect(moved.status).toBe(409)
    expect(moved.body.error).toContain('Asia/Vladivostok')
  })

  it('refuses operators, viewers, a change without the CSRF token and a caller without a session', async () => {
    const routes: [string, unknown?][] = [
      ['/api/kassas', { ...TEST_KASSA, id: 'K9', fn: '9999078900009000' }], ['/api/machines', { id: 'VM-200', kassa: 'K1', address: 'a', place: 'p' }],
      ['/api/machines/VM-001/secret'], ['/api/machines/VM-001/disable'], ['/api/machines/VM-001/enable'], ['/api/machines/VM-001/kassa', { kassa: 'K1' }],
    ]
    const before = (await sql`select count(*)::int as n from audit_log`.execute(db())).rows[0]
    for (const [path, body] of routes) {
      expect((await as.operator!.call('POST', path, body)).status, `operator ${path}`).toBe(403)
      expect((await as.viewer!.call('POST', path, body)).status, `viewer ${path}`).toBe(403)
      expect((await as.admin!.call('POST', path, body, { csrf: false })).status, `admin without CSRF ${path}`).toBe(403)
      expect((await fetch(`${base}${path}`, { method: 'POST' })).status, `anonymous ${path}`).toBe(401)
    }
    expect((await sql`select count(*)::int as n from audit_log`.execute(db())).rows[0]).toEqual(before)
    expect(await machine('VM-200')).toBeUndefined()
  })

  it('issues no secret when the gateway has no machine secret key, and still disables', async () => {
    const keyless = await serve({ machineSecretKey: null })
    const admin = await signIn(keyless, USERS.admin.username, USERS.admin.password)
    expect((await admin.call('POST', '/api/machines', { id: 'VM-300', kassa: 'K1', address: 'a', place: 'p' })).status).toBe(503)
    expect((await admin.call('POST', '/api/machines/VM-001/secret')).status).toBe(503)
    expect((await admin.call('POST', '/api/machines/VM-001/disable')).status).toBe(200)
  })
})
