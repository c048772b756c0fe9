import type { FastifyInstance } from 'fastify'

// Requests handled at once, all routes together. Each may hold a database connection the fiscalizer
// also needs; beyond the bound a request is answered 503 at once rather than queued, so HTTP load
// never holds up fiscalization. Health probes are exempt: they must answer whatever the load.
const EXEMPT = new Set(['/healthz', '/readyz'])

export function shedLoad(app: FastifyInstance, maxInFlight: number): () => { inFlight: number; shed: number } {
  let inFlight = 0
  let shed = 0
  app.addHook('onRequest', async (req, reply) => {
    if (EXEMPT.has(req.url)) return undefined
    if (inFlight >= maxInFlight) {
      shed++
      return reply.code(503).header('retry-after', '1').send({ error: 'over capacity' })
    }
    inFlight++
    let released = false
    reply.raw.once('close', () => {
      if (!released) inFlight--
      released = true
    })
    return undefined
  })
  return () => ({ inFlight, shed })
}
