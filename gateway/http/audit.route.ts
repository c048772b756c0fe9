import type { FastifyInstance } from 'fastify'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import { MACHINE_ID_PATTERN } from '../../protocol/index.js'
import { auditItem, unreceiptedCsv, unreceiptedRow } from '../audit/audit-view.js'
import { auditRaw, listAudits } from '../audit/audit.repository.js'
import { fleetUnreceipted } from '../audit/fleet-reconciliation.js'
import { atolCorrection } from '../audit/atol-correction.js'
import { issueCorrection } from '../audit/correction.service.js'
import { reconcileMachine } from '../audit/reconciliation.repository.js'
import type { Database } from '../db/schema.js'
import { decodeCursor, page } from '../operator/cursor.js'
import { actorOf } from '../accounts/roles.js'
import { recordAudit } from '../accounts/audit.repository.js'
import { principalOf, requireRole } from './operator-auth.js'

export interface AuditRouteDeps {
  db: Kysely<Database>
  now: () => Date
  settleMs: number
  /** Cloud kassas' passwords (config.providerSecret), for corrections on an ATOL kassa. */
  providerSecret: (name: string) => string | undefined
}

const AuditsQuery = z.object({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(200).optional() })
const RangeQuery = z.object({ from: z.iso.datetime({ offset: true }).optional(), to: z.iso.datetime({ offset: true }).optional() })
const problems = (e: z.ZodError) => e.issues.map((i) => `${i.path.join('.')}: ${i.message}`)

/** Machine audits and their reconciliation with the receipts (operator API, under /api). */
export async function auditRoutes(api: FastifyInstance, deps: AuditRouteDeps): Promise<void> {
  const { db } = deps
  // Registered inside the operator scope (http.server.ts): a console session or an API key is checked there.

  api.get<{ Params: { id: string } }>('/machines/:id/audits', async (req, reply) => {
    if (!MACHINE_ID_PATTERN.test(req.params.id)) return reply.code(404).send({ error: 'machine not found' })
    const q = AuditsQuery.safeParse(req.query)
    if (!q.success) return reply.code(400).send({ error: 'bad request', problems: problems(q.error) })
    const before = q.data.cursor === undefined ? undefined : decodeCursor(q.data.cursor, 'number')
    if (before === null) return reply.code(400).send({ error: 'bad request', problems: ['cursor: not a cursor of this list'] })
    const rows = await listAudits(db, req.params.id, { ...(before !== undefined && { beforeId: before }), limit: q.data.limit + 1 })
    const { items, next } = page(rows, q.data.limit, (r) => r.id)
    return { items: items.map(auditItem), next }
  })

  api.get<{ Params: { id: string } }>('/audits/:id/raw', async (req, reply) => {
    const id = Number(req.params.id)
    const audit = Number.isSafeInteger(id) && id > 0 ? await auditRaw(db, id) : undefined
    if (!audit) return reply.code(404).send({ error: 'audit not found' })
    return reply.header('content-type', 'application/octet-stream').header('x-content-sha256', audit.hash)
      .header('content-disposition', `attachment; filename="${audit.machineId}-${id}.dex"`).send(Buffer.from(audit.raw))
  })

  api.get<{ Params: { id: string } }>('/machines/:id/reconciliation', async (req, reply) => {
    if (!MACHINE_ID_PATTERN.test(req.params.id)) return reply.code(404).send({ error: 'machine not found' })
    const q = RangeQuery.safeParse(req.query)
    if (!q.success) return reply.code(400).send({ error: 'bad request', problems: problems(q.error) })
    const items = await reconcileMachine(db, req.params.id, {
      ...(q.data.from && { from: new Date(q.data.from) }), ...(q.data.to && { to: new Date(q.data.to) }), now: deps.now(), settleMs: deps.settleMs,
    })
    return { items, next: null }
  })

  // The dashboard's "issue a correction receipt" button: the same as `fleet correct`, once per interval ever.
  const provider = atolCorrection({ providerSecret: deps.providerSecret })
  api.post<{ Params: { id: string; interval: string } }>('/machines/:id/intervals/:interval/correction', { preHandler: requireRole('operator') }, async (req, reply) => {
    const intervalId = Number(req.params.interval)
    if (!MACHINE_ID_PATTERN.test(req.params.id) || !Number.isSafeInteger(intervalId) || intervalId < 1) return reply.code(404).send({ error: 'interval not found' })
    const outcome = await issueCorrection(db, { machineId: req.params.id, intervalId, now: deps.now(), settleMs: deps.settleMs }, provider)
    if (!outcome.ok) return reply.code(409).send({ error: outcome.reason })
    const c = outcome.correction
    if (outcome.created) {
      await recordAudit(db, { actor: actorOf(principalOf(req)), action: 'correction.issue', subject: req.params.id, detail: { interval: intervalId, total: c.total, fd: c.fd } })
    }
    return reply.code(outcome.created ? 201 : 200).send({
      created: outcome.created, status: c.status, total: c.total, cash: c.cash, ecash: c.ecash, vends: c.vends, baseDate: c.base_date,
      fn: c.fn, fd: c.fd, fp: c.fp, error: c.error,
      receiptUrl: c.fn !== null && c.fd !== null && c.fp !== null ? `/r/${c.fn}/${c.fd}?fp=${c.fp}` : null,
    })
  })

  // The fleet-wide list of unreceipted amounts; `?format=csv` for a spreadsheet.
  api.get<{ Querystring: { format?: string } }>('/reconciliation/unreceipted', async (req, reply) => {
    const rows = (await fleetUnreceipted(db, deps.now(), deps.settleMs)).map(unreceiptedRow)
    if (req.query.format === 'csv') {
      return reply.header('content-type', 'text/csv; charset=utf-8').header('content-disposition', 'attachment; filename="unreceipted.csv"').send(unreceiptedCsv(rows))
    }
    return { items: rows, next: null, total: { value: rows.reduce((n, r) => n + r.value, 0), count: rows.reduce((n, r) => n + r.count, 0) } }
  })
}
