import { writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { createHttpServer } from '../../gateway/http/http.server.js'
import { signIn } from '../support/console-session.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { OPERATOR_TOKEN } from '../support/operator-api.js'
import { gatewayConfig, logger, provisionFleet } from '../support/system.js'

describe('operator accounts: users, sessions, API keys and the audit log', () => {
  let database: TestDatabase
  let http: ReturnType<typeof createHttpServer>
  let base: string
  let adminPassword: string

  beforeAll(async () => {
    database = await createTestDatabase()
    await provisionFleet(database.handle.db, 2)
    http = createHttpServer({
      db: database.handle.db, logger, config: gatewayConfig('mqtt://127.0.0.1:1'),
      readiness: () => ({ migrated: true, database: true, broker: false }),
    })
    base = `http://127.0.0.1:${await http.listen()}`
    const made = await runFleetCommand(database.handle.db, 'add-user', { username: 'root' })
    adminPassword = (made.output as { password: string }).password
  })

  afterAll(async () => {
    await http?.close()
    await database?.drop()
  })

  it('makes the first admin with a generated password, stores only its scrypt hash, and refuses a second of the same name', async () => {
    expect(adminPassword).toMatch(/^[A-Za-z0-9_-]{20}$/)
    const row = await database.handle.db.selectFrom('operator_users' as any).selectAll().where('username', '=', 'root').executeTakeFirstOrThrow() as any
    expect(row.role).toBe('admin')
    expect(row.password_hash).toMatch(/^scrypt\$16384\$8\$1\$/)
    expect(row.password_hash).not.toContain(adminPassword)
    await expect(runFleetCommand(database.handle.db, 'add-user', { username: 'root' })).rejects.toThrow('user root already exists')
    const file = join(tmpdir(), `pw-${process.pid}`)
    await writeFile(file, 'viewer-password-1\n')
    const viewer = await runFleetCommand(database.handle.db, 'add-user', { username: 'vera', role: 'viewer', 'password-file': file })
    expect(viewer.output).toEqual({ username: 'vera', role: 'viewer' })
  })

  it('signs in with an httpOnly SameSite=Strict cookie, needs the CSRF token to change anything, and signs out', async () => {
    expect((await signIn(base, 'root', 'wrong-password')).status).toBe(401)
    expect((await signIn(base, 'nobody', adminPassword)).status).toBe(401)
    const s = await signIn(base, 'root', adminPassword)
    expect(s.status).toBe(200)
    expect(s.role).toBe('admin')
    const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'root', password: adminPassword }) })
    expect(login.headers.get('set-cookie')).toMatch(/^vg_session=[A-Za-z0-9_-]{43}; Path=\/; HttpOnly; SameSite=Strict; Max-Age=43200$/)

    expect((await s.call('GET', '/api/machines')).body.items.map((m: any) => m.id)).toEqual(['VM-001', 'VM-002'])
    expect((await s.call('GET', '/api/me')).body).toMatchObject({ kind: 'user', name: 'root', role: 'admin', csrf: s.csrf })
    const forged = await s.call('POST', '/api/users', { username: 'mallory', password: 'mallory-password', role: 'admin' }, { csrf: false })
    expect(forged.status).toBe(403)
    const made = await s.call('POST', '/api/users', { username: 'oleg', password: 'operator-password', role: 'operator' })
    expect(made.status).toBe(201)
    expect((await s.call('GET', '/api/users')).body.items.map((u: any) => u.username)).toEqual(['oleg', 'root', 'vera'])

    const out = await s.call('POST', '/auth/logout')
    expect(out.headers.get('set-cookie')).toMatch(/^vg_session=; .*Max-Age=0/)
    expect((await s.call('GET', '/api/machines')).status).toBe(401)
  })

  it('refuses a username for a quarter of an hour after ten wrong passwords, even with the right one', async () => {
    for (let i = 0; i < 10; i++) expect((await signIn(base, 'vera', `wrong-${i}-password`)).status).toBe(401)
    const refused = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ username: 'vera', password: 'viewer-password-1' }) })
    expect(refused.status).toBe(429)
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(800)
    // Another name is not affected.
    expect((await signIn(base, 'root', adminPassword)).status).toBe(200)
  })

  it('lets each role do only what it may', async () => {
    const admin = await signIn(base, 'root', adminPassword)
    expect((await admin.call('POST', '/api/users', { username: 'vic', password: 'viewer-password-2', role: 'viewer' })).status).toBe(201)
    const viewer = await signIn(base, 'vic', 'viewer-password-2')
    const operator = await signIn(base, 'oleg', 'operator-password')
    for (const s of [viewer, operator]) {
      expect((await s.call('GET', '/api/machines')).status).toBe(200)
      expect((await s.call('GET', '/api/users')).status).toBe(403)
      expect((await s.call('GET', '/api/audit-log')).status).toBe(403)
      expect((await s.call('POST', '/api/keys', { name: 'x', role: 'admin' })).status).toBe(403)
    }
  })

  it('issues named API keys with roles, and a revoked key stops working; OPERATOR_TOKEN stays an admin key', async () => {
    const bearer = (key: string, path: string) => fetch(`${base}${path}`, { headers: { authorization: `Bearer ${key}` } })
    const admin = await signIn(base, 'root', adminPassword)
    const made = await admin.call('POST', '/api/keys', { name: 'grafana', role: 'viewer' })
    expect(made.status).toBe(201)
    expect(made.body.key).toMatch(/^vgk_[A-Za-z0-9_-]{43}$/)
    expect((await bearer(made.body.key, '/api/machines')).status).toBe(200)
    expect((await bearer(made.body.key, '/api/keys')).status).toBe(403)
    expect((await bearer(OPERATOR_TOKEN, '/api/keys')).status).toBe(200)
    const keys = await (await bearer(OPERATOR_TOKEN, '/api/keys')).json() as any
    expect(keys.items).toEqual([expect.objectContaining({ name: 'grafana', role: 'viewer', createdBy: 'user:root', revokedAt: null })])
    expect(JSON.stringify(keys)).not.toContain(made.body.key)

    expect((await admin.call('DELETE', '/api/keys/grafana')).status).toBe(200)
    expect((await bearer(made.body.key, '/api/machines')).status).toBe(401)
    expect((await admin.call('DELETE', '/api/keys/grafana')).status).toBe(404)
  })

  it('records every change in the audit log: provisioning, users and keys, with who made it', async () => {
    const admin = await signIn(base, 'root', adminPassword)
    const log = (await admin.call('GET', '/api/audit-log?limit=500')).body.items as any[]
    const lines = log.map((e) => `${e.actor} ${e.action} ${e.subject}`).reverse()
    expect(lines).toEqual([
      'cli:fleet fleet.add-kassa K1', 'cli:fleet fleet.add-machine VM-001', 'cli:fleet fleet.add-machine VM-002',
      'cli:fleet fleet.add-user root', 'cli:fleet fleet.add-user vera',
      'user:root user.create oleg', 'user:root user.create vic', 'user:root key.create grafana', 'user:root key.revoke grafana',
    ])
    expect(JSON.stringify(log)).not.toContain(adminPassword)
  })
})
