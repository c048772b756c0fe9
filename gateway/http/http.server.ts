import Fastify, { LogController, type FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { GatewayConfig } from '../config.js'
import type { Database } from '../db/schema.js'
import { registerReceiptRoutes } from './receipt.route.js'

export interface Readiness {
  migrated: boolean
  database: boolean
  broker: boolean
}

export interface HttpServerDeps {
  db: Kysely<Database>
  config: Readonly<GatewayConfig>
  logger: Logger
  readiness: () => Readiness
}

export function createHttpServer(deps: HttpServerDeps) {
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
  })

  app.get('/healthz', async () => ({ ok: true }))
  app.get('/readyz', async (_req, reply) => {
    const state = deps.readiness()
    const ready = state.migrated && state.database && state.broker
    return reply.code(ready ? 200 : 503).send({ ready, ...state })
  })
  registerReceiptRoutes(app, deps.db)

  return {
    app,
    /** Listens on HTTP_PORT (0 picks a free port) and returns the port. */
    async listen(): Promise<number> {
      await app.listen({ port: deps.config.httpPort, host: deps.config.httpHost })
      const address = app.server.address()
      return typeof address === 'object' && address ? address.port : deps.config.httpPort
    },
    close: () => app.close(),
  }
}
