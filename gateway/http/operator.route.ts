import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import type { Alert } from '../alerts/alert.types.js'
import type { Database } from '../db/schema.js'
import { decodeCursor, page } from '../operator/cursor.js'
import { listKassaStates } from '../operator/kassa-state.repository.js'
import { listMachineStates, usualHours } from '../operator/machine-state.repository.js'
import { listConflicts } from '../operator/conflict-list.repository.js'
import { listSales } from '../operator/sale-list.repository.js'
import { recentTelemetry } from '../operator/telemetry-history.repository.js'
import { machineSearchHandler, isMachineSearch } from './machine-search.handler.js'
import { operatorAuth } from './operator-auth.js'

export interface OperatorRouteDeps {
  db: Kysely<Database>
  operatorToken: string
  /** Base of receipt URLs (PUBLIC_URL). */
  publicUrl: string
  now: () => Date
  alerts: () => readonly Alert[]
}

const MACHINE_ID = /^[A-Za-z0-9_-]{1,64}$/
const listQuery = (max: number, dflt: number) => z.object({
  limit: z.coerce.number().int().min(1).max(max).default(dflt),
  cursor: z.string().max(200).optional(),
})
const MachinesQuery = listQuery(1000, 100)
const KassasQuery = listQuery(1000, 100)
const SalesQuery = listQuery(500, 50).extend({ machine: z.string().regex(MACHINE_ID).optional() })
/** Telemetry samples shown in a machine's detail. */
const HISTORY_LIMIT = 200

function badRequest(reply: FastifyReply, problems: string[]) {
  return reply.code(400).send({ error: 'bad request', problems })
}

function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply): T | null {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  void badRequest(reply, r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`))
  return null
}

/** The operator API (docs/contract.md): JSON behind a console session or an API key (`Authorization: Bearer`). */
export async function operatorRoutes(api: FastifyInstance, deps: OperatorRouteDeps): Promise<void> {
  const { db } = deps
  api.addHook('onRequest', operatorAuth({ db, operatorToken: deps.operatorToken, now: deps.now }))
  api.addHook('onSend', async (_req, reply) => { reply.header('cache-control', 'no-store') })
  const alertsOf = (kind: 'machine' | 'kassa', id: string) => deps.alerts().filter((a) => a.subject.kind === kind && a.subject.id === id)

  const search = machineSearchHandler({ db, now: deps.now, alerts: deps.alerts })
  api.get('/machines', async (req, reply) => {
    if (isMachineSearch(req.query)) return search(req, reply)
    const q = parse(MachinesQuery, req.query, reply)
    if (!q) return reply
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, 'string')
    if (after === null) return badRequest(reply, ['cursor: not a cursor of this list'])
    const rows = await listMachineStates(db, deps.now(), { after, limit: q.limit + 1 })
    return page(rows, q.limit, (m) => m.id)
  })

  api.get<{ Params: { id: string } }>('/machines/:id', async (req, reply) => {
    const id = req.params.id
    const [machine] = MACHINE_ID.test(id) ? await listMachineStates(db, deps.now(), { id, limit: 1 }) : []
    if (!machine) return reply.code(404).send({ error: 'machine not found' })
    const [hours, history] = await Promise.all([usualHours(db, id), recentTelemetry(db, id, HISTORY_LIMIT)])
    return { ...machine, usualHours: hours.get(id) ?? [], telemetryHistory: history, alerts: alertsOf('machine', id) }
  })

  api.get('/kassas', async (req, reply) => {
    const q = parse(KassasQuery, req.query, reply)
    if (!q) return reply
    const after = q.cursor === undefined ? undefined : decodeCursor(q.cursor, 'string')
    if (after === null) return badRequest(reply, ['cursor: not a cursor of this list'])
    const rows = await listKassaStates(db, deps.now(), { after, limit: q.limit + 1 })
    return page(rows, q.limit, (k) => k.id)
  })

  api.get<{ Params: { id: string } }>('/kassas/:id', async (req, reply) => {
    const id = req.params.id
    const [kassa] = await listKassaStates(db, deps.now(), { id, limit: 1 })
    if (!kassa) return reply.code(404).send({ error: 'kassa not found' })
    return { ...kassa, alerts: alertsOf('kassa', id) }
  })

  api.get('/sales', async (req, reply) => {
    const q = parse(SalesQuery, req.query, reply)
    if (!q) return reply
    const before = q.cursor === undefined ? undefined : decodeCursor(q.cursor, 'number')
    if (before === null) return badRequest(reply, ['cursor: not a cursor of this list'])
    const rows = await listSales(db, deps.publicUrl, { machine: q.machine, before, limit: q.limit + 1 })
    return page(rows, q.limit, (s) => s.id)
  })

  // Repeats of a saleId with other content, refused as `conflict`: both sides, newest first.
  api.get('/conflicts', async (req, reply) => {
    const q = parse(SalesQuery, req.query, reply)
    if (!q) return reply
    const before = q.cursor === undefined ? undefined : decodeCursor(q.cursor, 'number')
    if (before === null) return badRequest(reply, ['cursor: not a cursor of this list'])
    const rows = await listConflicts(db, { machine: q.machine, before, limit: q.limit + 1 })
    return page(rows, q.limit, (c) => c.id)
  })

  // The active set is small and replaced whole on every evaluation: one page, no cursor.
  api.get('/alerts', async () => ({ items: deps.alerts(), next: null }))
}
