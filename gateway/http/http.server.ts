import Fastify, { LogController, type FastifyBaseLogger } from 'fastify'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { Registry } from 'prom-client'
import type { Alert } from '../alerts/alert.types.js'
import type { NotificationDispatcher } from '../alerts/notify/notification.dispatcher.js'
import type { GatewayConfig } from '../config.js'
import type { Database } from '../db/schema.js'
import { capConnections, resolveMaxConnections } from './connection-cap.js'
import { accountRoutes } from './accounts.route.js'
import { alertRoutes } from './alerts.route.js'
import { authRoutes } from './auth.route.js'
import { consoleAssetRoutes } from './console-assets.route.js'
import { consoleRoutes } from './console.route.js'
import { dashboardRoutes } from './dashboard.route.js'
import { shedLoad } from './load-shedding.js'
import { metricsRoutes } from './metrics.route.js'
import { operatorAuth } from './operator-auth.js'
import { operatorRoutes } from './operator.route.js'
import { provisioningRoutes } from './provisioning.route.js'
import { receiptRateLimit } from './receipt-rate-limit.js'
import { registerReceiptRoutes } from './receipt.route.js'
import { auditRoutes } from './audit.route.js'
import { addSecurityHeaders } from './security-headers.js'

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
  /** The active fleet-health alerts (`GET /api/alerts`). */
  alerts?: () => readonly Alert[]
  /** Served at `GET /metrics` when given. */
  metrics?: Registry
  now?: () => Date
  /** Alert notifications, when a channel is configured (test-send, channel status). */
  notifications?: NotificationDispatcher | null
}

export function createHttpServer(deps: HttpServerDeps) {
  const limits = deps.config.http
  const app = Fastify({
    loggerInstance: deps.logger as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    trustProxy: limits.trustProxy,
    // Slow clients: headers and the whole request within bounds, checked every second (Node's
    // default check runs every 30 s, on top of a 60 s header and 300 s request allowance).
    requestTimeout: limits.requestTimeoutMs,
    keepAliveTimeout: 5_000,
    http: { headersTimeout: limits.headersTimeoutMs, requestTimeout: limits.requestTimeoutMs, connectionsCheckingInterval: 1_000 },
  })
  const connections = capConnections(app.server, resolveMaxConnections(limits.maxConnections))
  const load = shedLoad(app, limits.maxInFlight)
  addSecurityHeaders(app)
  // A failure inside a route is logged here and answered without its text (no database errors to the public).
  app.setErrorHandler((err: { statusCode?: number; message: string }, req, reply) => {
    const status = err.statusCode !== undefined && err.statusCode >= 400 ? err.statusCode : 500
    if (status < 500) return reply.code(status).send({ error: err.message })
    req.log.error({ err, url: req.url.slice(0, 200) }, 'request failed')
    return reply.code(status).send({ error: 'internal error' })
  })

  app.get('/healthz', async () => ({ ok: true }))
  app.get('/readyz', async (_req, reply) => {
    const state = deps.readiness()
    const ready = state.migrated && state.database && state.broker
    return reply.code(ready ? 200 : 503).send({ ready, ...state })
  })
  const receiptLimit = receiptRateLimit({ ratePerS: limits.receiptRatePerS, burst: limits.receiptBurst })
  registerReceiptRoutes(app, deps.db, receiptLimit.check)
  // Each in its own encapsulated plugin, so the operator's and the scraper's auth hooks stay on their routes.
  void app.register(dashboardRoutes)
  void app.register(consoleAssetRoutes)
  void app.register(operatorRoutes, {
    prefix: '/api', db: deps.db, operatorToken: deps.config.operatorToken, publicUrl: deps.config.publicUrl,
    now: deps.now ?? (() => new Date()), alerts: deps.alerts ?? (() => []),
  })
  const now = deps.now ?? (() => new Date())
  void app.register(authRoutes, { prefix: '/auth', db: deps.db, now, sessionTtlMs: deps.config.sessionTtlMs, secure: deps.config.publicUrl.startsWith('https:') })
  void app.register(async (api) => {
    api.addHook('onRequest', operatorAuth({ db: deps.db, operatorToken: deps.config.operatorToken, now }))
    api.addHook('onSend', async (_req, reply) => { reply.header('cache-control', 'no-store') })
    await api.register(accountRoutes, { db: deps.db, now })
    await api.register(provisioningRoutes, { db: deps.db, now, machineSecretKey: deps.config.machineSecretKey })
    await api.register(consoleRoutes, { db: deps.db, publicUrl: deps.config.publicUrl, now })
    await api.register(alertRoutes, { db: deps.db, now, notifications: deps.notifications ?? null })
    await api.register(auditRoutes, { db: deps.db, now, settleMs: deps.config.auditSettleS * 1000, providerSecret: deps.config.providerSecret })
  }, { prefix: '/api' })
  if (deps.metrics) void app.register(metricsRoutes, { registry: deps.metrics, token: deps.config.metricsToken })

  return {
    app,
    /** Connections and requests refused or closed under load, receipt lookups limited. */
    pressure: () => ({ ...connections(), ...load(), receiptLookupsLimited: receiptLimit.limited() }),
    /** Listens on HTTP_PORT (0 picks a free port) and returns the port. */
    async listen(): Promise<number> {
      await app.listen({ port: deps.config.httpPort, host: deps.config.httpHost })
      const address = app.server.address()
      return typeof address === 'object' && address ? address.port : deps.config.httpPort
    },
    close: () => app.close(),
  }
}
