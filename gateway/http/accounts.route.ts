import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import { AccountError, createApiKey, createUser, disableUser, listApiKeys, listUsers, revokeApiKey } from '../accounts/account.repository.js'
import { listAudit, recordAudit } from '../accounts/audit.repository.js'
import { actorOf, ROLES } from '../accounts/roles.js'
import { decodeCursor, page } from '../operator/cursor.js'
import { principalOf, requireRole } from './operator-auth.js'

export interface AccountRouteDeps { db: Kysely<any>; now: () => Date }

const NAME = z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1–64 of A-Z a-z 0-9 . _ @ -')
const NewUser = z.strictObject({ username: NAME, password: z.string().min(10, 'must be at least 10 characters').max(256), role: z.enum(ROLES) })
const NewKey = z.strictObject({ name: NAME, role: z.enum(ROLES) })
const AuditQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().max(200).optional() })

function invalid(reply: FastifyReply, error: z.ZodError) {
  return reply.code(400).send({ error: 'bad request', problems: error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) })
}

/** Who am I, users, API keys and the audit log (under `/api`, behind operatorAuth). */
export async function accountRoutes(api: FastifyInstance, deps: AccountRouteDeps): Promise<void> {
  const { db } = deps
  const admin = { preHandler: requireRole('admin') }

  api.get('/me', async (req) => {
    const p = principalOf(req)
    return { kind: p.kind, name: p.name, role: p.role, csrf: p.csrf ?? null }
  })

  api.get('/users', admin, async () => ({ items: await listUsers(db), next: null }))
  api.post('/users', admin, async (req, reply) => {
    const body = NewUser.safeParse(req.body)
    if (!body.success) return invalid(reply, body.error)
    try {
      const user = await createUser(db, body.data)
      await recordAudit(db, { actor: actorOf(principalOf(req)), action: 'user.create', subject: user.username, detail: { role: user.role } })
      return reply.code(201).send(user)
    } catch (err) {
      if (err instanceof AccountError) return reply.code(409).send({ error: err.message })
      throw err
    }
  })
  api.delete<{ Params: { username: string } }>('/users/:username', admin, async (req, reply) => {
    if (!(await disableUser(db, req.params.username, deps.now()))) return reply.code(404).send({ error: 'no such enabled user' })
    await recordAudit(db, { actor: actorOf(principalOf(req)), action: 'user.disable', subject: req.params.username })
    return { username: req.params.username, disabled: true }
  })

  api.get('/keys', admin, async () => ({ items: await listApiKeys(db), next: null }))
  api.post('/keys', admin, async (req, reply) => {
    const body = NewKey.safeParse(req.body)
    if (!body.success) return invalid(reply, body.error)
    const actor = actorOf(principalOf(req))
    try {
      const { key, row } = await createApiKey(db, { ...body.data, createdBy: actor })
      await recordAudit(db, { actor, action: 'key.create', subject: row.name, detail: { role: row.role } })
      // The key is shown this once; only its hash is kept.
      return reply.code(201).send({ ...row, key })
    } catch (err) {
      if (err instanceof AccountError) return reply.code(409).send({ error: err.message })
      throw err
    }
  })
  api.delete<{ Params: { name: string } }>('/keys/:name', admin, async (req, reply) => {
    if (!(await revokeApiKey(db, req.params.name, deps.now()))) return reply.code(404).send({ error: 'no such active key' })
    await recordAudit(db, { actor: actorOf(principalOf(req)), action: 'key.revoke', subject: req.params.name })
    return { name: req.params.name, revoked: true }
  })

  api.get('/audit-log', admin, async (req, reply) => {
    const q = AuditQuery.safeParse(req.query)
    if (!q.success) return invalid(reply, q.error)
    const before = q.data.cursor === undefined ? undefined : decodeCursor(q.data.cursor, 'number')
    if (before === null) return reply.code(400).send({ error: 'bad request', problems: ['cursor: not a cursor of this list'] })
    return page(await listAudit(db, { before, limit: q.data.limit + 1 }), q.data.limit, (e) => e.id)
  })
}
