import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import { actorOf } from '../accounts/roles.js'
import { recordAudit } from '../accounts/audit.repository.js'
import { acknowledgeAlert, alertHistory, openAlertEvents } from '../alerts/alert-history.repository.js'
import { CHANNEL_NAMES } from '../alerts/notify/channel.js'
import { recentDeliveries } from '../alerts/notify/delivery.repository.js'
import type { NotificationDispatcher } from '../alerts/notify/notification.dispatcher.js'
import { decodeCursor, page } from '../operator/cursor.js'
import { principalOf, requireRole } from './operator-auth.js'

export interface AlertRouteDeps { db: Kysely<any>; now: () => Date; notifications: NotificationDispatcher | null }

const HistoryQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(100), cursor: z.string().max(200).optional() })
const TestSend = z.strictObject({ channel: z.enum(CHANNEL_NAMES as ['email', 'telegram', 'webhook']).optional() })

/** Alert history, acknowledgement, notification channels and their deliveries (under `/api`). */
export async function alertRoutes(api: FastifyInstance, deps: AlertRouteDeps): Promise<void> {
  const { db } = deps

  api.get('/alert-events', async () => ({ items: await openAlertEvents(db), next: null }))
  api.get('/alert-history', async (req, reply) => {
    const q = HistoryQuery.safeParse(req.query)
    if (!q.success) return reply.code(400).send({ error: 'bad request', problems: q.error.issues.map((i) => i.message) })
    const before = q.data.cursor === undefined ? undefined : decodeCursor(q.data.cursor, 'number')
    if (before === null) return reply.code(400).send({ error: 'bad request', problems: ['cursor: not a cursor of this list'] })
    return page(await alertHistory(db, { before, limit: q.data.limit + 1 }), q.data.limit, (e) => e.id)
  })

  api.post<{ Params: { key: string } }>('/alerts/:key/ack', { preHandler: requireRole('operator') }, async (req, reply) => {
    const actor = actorOf(principalOf(req))
    const event = await acknowledgeAlert(db, req.params.key, actor, deps.now())
    if (!event) return reply.code(409).send({ error: 'no open, unacknowledged alert with this key' })
    await recordAudit(db, { actor, action: 'alert.acknowledge', subject: event.key, detail: { eventId: event.id } })
    return event
  })

  api.get('/notifications', async () => {
    const deliveries = await recentDeliveries(db, 100)
    const channels = (deps.notifications?.channels() ?? []).map((name) => {
      const own = deliveries.filter((d) => d.channel === name)
      const lastFailure = own.find((d) => d.status === 'failed') ?? null
      return { name, last: own[0] ?? null, failures: own.filter((d) => d.status === 'failed').length, lastFailure }
    })
    return { channels, deliveries }
  })

  api.post('/notifications/test', { preHandler: requireRole('admin') }, async (req, reply) => {
    const body = TestSend.safeParse(req.body ?? {})
    if (!body.success) return reply.code(400).send({ error: 'bad request', problems: body.error.issues.map((i) => i.message) })
    if (!deps.notifications) return reply.code(409).send({ error: 'no notification channel is configured' })
    const results = await deps.notifications.testSend(body.data.channel)
    await recordAudit(db, { actor: actorOf(principalOf(req)), action: 'notifications.test', subject: body.data.channel ?? null, detail: { results } })
    return { results }
  })
}
