import { createHash } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import { hashPassword, newToken, verifyPassword } from './password.js'
import type { Principal, Role } from './roles.js'

// Operator users, their sessions and named API keys (0007-accounts). Tokens are stored as their
// SHA-256 only: they are long random strings, so a plain hash is enough (no salt, no scrypt).
const sha256 = (s: string) => createHash('sha256').update(s, 'utf8').digest('hex')

export class AccountError extends Error {}

export interface UserRow { id: number; username: string; role: Role; createdAt: Date; disabledAt: Date | null }
export interface ApiKeyRow { id: number; name: string; role: Role; createdBy: string; createdAt: Date; revokedAt: Date | null; lastUsedAt: Date | null }

export async function createUser(db: Kysely<any>, u: { username: string; password: string; role: Role }): Promise<UserRow> {
  const hash = await hashPassword(u.password)
  const r = await sql<UserRow>`
    insert into operator_users (username, password_hash, role) values (${u.username}, ${hash}, ${u.role})
    on conflict (username) do nothing
    returning id, username, role, created_at as "createdAt", disabled_at as "disabledAt"`.execute(db)
  if (!r.rows[0]) throw new AccountError(`user ${u.username} already exists`)
  return r.rows[0]
}

export async function listUsers(db: Kysely<any>): Promise<UserRow[]> {
  return (await sql<UserRow>`select id, username, role, created_at as "createdAt", disabled_at as "disabledAt" from operator_users order by username`.execute(db)).rows
}

export async function disableUser(db: Kysely<any>, username: string, now: Date): Promise<boolean> {
  return db.transaction().execute(async (tx) => {
    const r = await sql`update operator_users set disabled_at = ${now} where username = ${username} and disabled_at is null returning id`.execute(tx)
    await sql`delete from operator_sessions where user_id in (select id from operator_users where username = ${username})`.execute(tx)
    return r.rows.length > 0
  })
}

/** A new session for a correct username and password of an enabled user; null otherwise. */
export async function login(db: Kysely<any>, username: string, password: string, now: Date, ttlMs: number): Promise<{ token: string; principal: Principal; expiresAt: Date } | null> {
  const r = await sql<{ id: number; password_hash: string; role: Role }>`
    select id, password_hash, role from operator_users where username = ${username} and disabled_at is null`.execute(db)
  const user = r.rows[0]
  // A dummy check for an unknown user, so the answer takes as long as for a wrong password.
  if (!user) { await verifyPassword(password, DUMMY_HASH); return null }
  if (!(await verifyPassword(password, user.password_hash))) return null
  const token = newToken()
  const csrf = newToken()
  const expiresAt = new Date(now.getTime() + ttlMs)
  await sql`delete from operator_sessions where expires_at < ${now}`.execute(db)
  await sql`insert into operator_sessions (token_hash, user_id, csrf, expires_at) values (${sha256(token)}, ${user.id}, ${csrf}, ${expiresAt})`.execute(db)
  return { token, principal: { kind: 'user', name: username, role: user.role, csrf }, expiresAt }
}
const DUMMY_HASH = 'scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'

export async function sessionPrincipal(db: Kysely<any>, token: string, now: Date): Promise<Principal | null> {
  const r = await sql<{ username: string; role: Role; csrf: string }>`
    select u.username, u.role, s.csrf from operator_sessions s join operator_users u on u.id = s.user_id
    where s.token_hash = ${sha256(token)} and s.expires_at > ${now} and u.disabled_at is null`.execute(db)
  const s = r.rows[0]
  return s ? { kind: 'user', name: s.username, role: s.role, csrf: s.csrf } : null
}

export async function logout(db: Kysely<any>, token: string): Promise<void> {
  await sql`delete from operator_sessions where token_hash = ${sha256(token)}`.execute(db)
}

/** A new named key; the key itself is returned once and never stored. */
export async function createApiKey(db: Kysely<any>, k: { name: string; role: Role; createdBy: string }): Promise<{ key: string; row: ApiKeyRow }> {
  const key = `vgk_${newToken()}`
  const r = await sql<ApiKeyRow>`
    insert into api_keys (name, key_hash, role, created_by) values (${k.name}, ${sha256(key)}, ${k.role}, ${k.createdBy})
    on conflict (name) do nothing
    returning id, name, role, created_by as "createdBy", created_at as "createdAt", revoked_at as "revokedAt", last_used_at as "lastUsedAt"`.execute(db)
  if (!r.rows[0]) throw new AccountError(`an API key named ${k.name} already exists`)
  return { key, row: r.rows[0] }
}

export async function listApiKeys(db: Kysely<any>): Promise<ApiKeyRow[]> {
  return (await sql<ApiKeyRow>`
    select id, name, role, created_by as "createdBy", created_at as "createdAt", revoked_at as "revokedAt", last_used_at as "lastUsedAt"
    from api_keys order by name`.execute(db)).rows
}

export async function revokeApiKey(db: Kysely<any>, name: string, now: Date): Promise<boolean> {
  const r = await sql`update api_keys set revoked_at = ${now} where name = ${name} and revoked_at is null returning id`.execute(db)
  return r.rows.length > 0
}

export async function apiKeyPrincipal(db: Kysely<any>, key: string, now: Date): Promise<Principal | null> {
  const r = await sql<{ name: string; role: Role }>`
    update api_keys set last_used_at = ${now} where key_hash = ${sha256(key)} and revoked_at is null returning name, role`.execute(db)
  const k = r.rows[0]
  return k ? { kind: 'key', name: k.name, role: k.role } : null
}
