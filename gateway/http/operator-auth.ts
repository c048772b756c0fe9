import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { apiKeyPrincipal, sessionPrincipal } from '../accounts/account.repository.js'
import { atLeast, type Principal, type Role } from '../accounts/roles.js'

export const SESSION_COOKIE = 'vg_session'
const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()
const principals = new WeakMap<FastifyRequest, Principal>()

/** Who made this request (set by `operatorAuth`); routes behind it always have one. */
export function principalOf(req: FastifyRequest): Principal {
  const p = principals.get(req)
  if (!p) throw new Error('GW_ERR_NO_PRINCIPAL: route is not behind operatorAuth')
  return p
}

export function cookieOf(req: FastifyRequest, name: string): string | undefined {
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=')
    if (eq > 0 && part.slice(0, eq).trim() === name) return decodeURIComponent(part.slice(eq + 1).trim())
  }
  return undefined
}

const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])

export interface OperatorAuthDeps {
  db: Kysely<any>
  /** OPERATOR_TOKEN: an admin key that needs no database row. */
  operatorToken: string
  now: () => Date
}

/**
 * An onRequest hook admitting a signed-in user (session cookie; a changing request also needs
 * the session's CSRF token in `x-csrf-token`) or an API key (`Authorization: Bearer`). A cookie
 * is SameSite=Strict already; the CSRF header also covers browsers that ignore SameSite.
 */
export function operatorAuth(deps: OperatorAuthDeps) {
  const operatorToken = digest(deps.operatorToken)
  return async function checkOperator(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const header = req.headers.authorization
    let principal: Principal | null = null
    if (header !== undefined) {
      const m = /^Bearer ([^\s]+)$/i.exec(header)
      if (m && timingSafeEqual(digest(m[1]!), operatorToken)) principal = { kind: 'key', name: 'OPERATOR_TOKEN', role: 'admin' }
      else if (m) principal = await apiKeyPrincipal(deps.db, m[1]!, deps.now())
    } else {
      const session = cookieOf(req, SESSION_COOKIE)
      principal = session ? await sessionPrincipal(deps.db, session, deps.now()) : null
      if (principal && !SAFE_METHODS.has(req.method)) {
        const sent = req.headers['x-csrf-token']
        if (typeof sent !== 'string' || sent.length === 0 || !timingSafeEqual(digest(sent), digest(principal.csrf!))) {
          return reply.code(403).send({ error: 'csrf token missing or wrong' })
        }
      }
    }
    // Returning the reply from an async hook ends the request here (fastify's documented way).
    if (!principal) return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' })
    principals.set(req, principal)
    return undefined
  }
}

/** A preHandler refusing principals below `role` with 403. */
export function requireRole(role: Role) {
  return async function checkRole(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    if (atLeast(principalOf(req).role, role)) return undefined
    return reply.code(403).send({ error: `needs the ${role} role` })
  }
}
