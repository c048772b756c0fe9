import type { FastifyInstance } from 'fastify'
import type { Registry } from 'prom-client'
import { bearerAuth } from './bearer-auth.js'

export interface MetricsRouteDeps {
  registry: Registry
  /** When set (METRICS_TOKEN), the scraper must send it as a Bearer token; unset, /metrics is open. */
  token?: string | undefined
}

/** `GET /metrics`: Prometheus text format from the gateway's own registry. */
export async function metricsRoutes(app: FastifyInstance, deps: MetricsRouteDeps): Promise<void> {
  if (deps.token !== undefined) app.addHook('onRequest', bearerAuth(deps.token))
  app.get('/metrics', async (_req, reply) => {
    const text = await deps.registry.metrics()
    return reply.type(deps.registry.contentType).send(text)
  })
}
