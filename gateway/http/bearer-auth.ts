import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'

const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest()

/**
 * An onRequest hook admitting `Authorization: Bearer <token>` only. Both sides are hashed first:
 * timingSafeEqual needs equal lengths, and comparing digests leaks neither the token's content
 * nor its length through timing.
 */
export function bearerAuth(token: string) {
  const expected = digest(token)
  return async function checkBearer(req: FastifyRequest, reply: FastifyReply): Promise<FastifyReply | undefined> {
    const header = req.headers.authorization ?? ''
    const m = /^Bearer ([^\s]+)$/i.exec(header)
    if (m && timingSafeEqual(digest(m[1]!), expected)) return undefined
    // Returning the reply from an async hook ends the request here (fastify's documented way).
    return reply.code(401).header('www-authenticate', 'Bearer').send({ error: 'unauthorized' })
  }
}
