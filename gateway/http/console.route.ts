import type { FastifyInstance, FastifyReply } from 'fastify'
import type { Kysely } from 'kysely'
import writeXlsxFile from 'write-excel-file/node'
import { z } from 'zod'
import type { Database } from '../db/schema.js'
import { isTimeZone } from '../fleet/fleet.args.js'
import { decodeCursor, page } from '../operator/cursor.js'
import { JOURNAL_COLUMNS, defuse, journalRow, toCsv, type JournalRow } from '../operator/journal-export.js'
import { kassaDocuments, kassaShifts, providerStatus } from '../operator/kassa-detail.repository.js'
import { fleetSummary } from '../operator/machine-search.repository.js'
import { latencySeries, salesSeries, type ChartRange } from '../operator/sales-chart.repository.js'
import { listSales, type SalePage } from '../operator/sale-list.repository.js'

export interface ConsoleRouteDeps { db: Kysely<Database>; publicUrl: string; now: () => Date }

const ID = z.string().regex(/^[A-Za-z0-9_-]{1,64}$/)
const JournalFilter = z.object({
  machine: ID.optional(),
  kassa: ID.optional(),
  state: z.enum(['pending', 'submitted', 'done', 'failed']).optional(),
  from: z.iso.datetime({ offset: true }).optional(),
  to: z.iso.datetime({ offset: true }).optional(),
})
const JournalQuery = JournalFilter.extend({ limit: z.coerce.number().int().min(1).max(500).default(50), cursor: z.string().max(200).optional() })
/** Rows in one export: a year of a busy machine; more needs a narrower filter. */
const EXPORT_MAX = 200_000
const DAY_MS = 86_400_000
const ChartQuery = z.object({
  scope: z.enum(['fleet', 'machine', 'kassa']).default('fleet'),
  id: ID.optional(),
  from: z.iso.datetime({ offset: true }),
  to: z.iso.datetime({ offset: true }),
  bucket: z.enum(['hour', 'day']).default('hour'),
  tz: z.string().refine(isTimeZone, 'must be an IANA time zone').default('Europe/Moscow'),
}).refine((q) => q.scope === 'fleet' || q.id !== undefined, { path: ['id'], message: 'required for a machine or kassa chart' })
  .refine((q) => Date.parse(q.to) > Date.parse(q.from), { path: ['to'], message: 'must be after from' })
  // Hourly buckets for up to 31 days, daily for up to a year: a chart of at most ~750 points.
  .refine((q) => Date.parse(q.to) - Date.parse(q.from) <= (q.bucket === 'hour' ? 31 : 366) * DAY_MS, { path: ['to'], message: 'range too long for this bucket' })

function parse<T>(schema: z.ZodType<T>, value: unknown, reply: FastifyReply): T | null {
  const r = schema.safeParse(value)
  if (r.success) return r.data
  void reply.code(400).send({ error: 'bad request', problems: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) })
  return null
}

const filterOf = (f: z.infer<typeof JournalFilter>): Omit<SalePage, 'limit' | 'before'> => ({
  machine: f.machine, kassa: f.kassa, state: f.state,
  from: f.from === undefined ? undefined : new Date(f.from), to: f.to === undefined ? undefined : new Date(f.to),
})

/** The console's views: fleet summary, sales journal and its exports, kassa detail, charts. */
export async function consoleRoutes(api: FastifyInstance, deps: ConsoleRouteDeps): Promise<void> {
  const { db } = deps

  api.get('/fleet/summary', async () => fleetSummary(db))

  api.get('/journal', async (req, reply) => {
    const q = parse(JournalQuery, req.query, reply)
    if (!q) return reply
    const before = q.cursor === undefined ? undefined : decodeCursor(q.cursor, 'number')
    if (before === null) return reply.code(400).send({ error: 'bad request', problems: ['cursor: not a cursor of this list'] })
    const rows = await listSales(db, deps.publicUrl, { ...filterOf(q), before, limit: q.limit + 1 })
    return page(rows, q.limit, (s) => s.id)
  })

  /** Every row of the filter, newest first, in the kassa's own time zone. */
  async function journalRows(f: z.infer<typeof JournalFilter>): Promise<JournalRow[] | null> {
    const zones = new Map((await db.selectFrom('kassas').select(['id', 'time_zone']).execute()).map((k) => [k.id, k.time_zone]))
    const rows: JournalRow[] = []
    for (let before: number | undefined; ;) {
      const chunk = await listSales(db, deps.publicUrl, { ...filterOf(f), before, limit: 1000 })
      for (const s of chunk) rows.push(journalRow(s, zones.get(s.kassaId) ?? 'UTC'))
      if (rows.length > EXPORT_MAX) return null
      if (chunk.length < 1000) return rows
      before = chunk.at(-1)!.id
    }
  }
  const exportName = (ext: string) => `sales-${deps.now().toISOString().slice(0, 10)}.${ext}`
  const tooMany = (reply: FastifyReply) => reply.code(413).send({ error: `more than ${EXPORT_MAX} sales: narrow the filter` })

  api.get('/journal.csv', async (req, reply) => {
    const f = parse(JournalFilter, req.query, reply)
    if (!f) return reply
    const rows = await journalRows(f)
    if (!rows) return tooMany(reply)
    return reply.type('text/csv; charset=utf-8').header('content-disposition', `attachment; filename="${exportName('csv')}"`).send(toCsv(rows))
  })

  api.get('/journal.xlsx', async (req, reply) => {
    const f = parse(JournalFilter, req.query, reply)
    if (!f) return reply
    const rows = await journalRows(f)
    if (!rows) return tooMany(reply)
    const header = JOURNAL_COLUMNS.map((value) => ({ value, fontWeight: 'bold' as const }))
    const body = rows.map((r) => r.map((value) => ({ type: String, value: defuse(value) })))
    const file = await writeXlsxFile([header, ...body], { sheet: 'Продажи', stickyRowsCount: 1 }).toBuffer()
    return reply.type('application/vnd.openxmlformats-officedocument.spreadsheetml.sheet')
      .header('content-disposition', `attachment; filename="${exportName('xlsx')}"`).send(file)
  })

  api.get<{ Params: { id: string } }>('/kassas/:id/shifts', async (req) => ({ items: await kassaShifts(db, req.params.id, 60), next: null }))
  api.get<{ Params: { id: string }; Querystring: { cursor?: string } }>('/kassas/:id/documents', async (req, reply) => {
    let before: { at: Date; fn: string; fd: number } | undefined
    if (req.query.cursor !== undefined) {
      const key = decodeCursor(req.query.cursor, 'string')
      const m = key === null ? null : /^(.+)\|(\d{16})\|(\d+)$/.exec(key)
      if (!m || Number.isNaN(Date.parse(m[1]!))) return reply.code(400).send({ error: 'bad request', problems: ['cursor: not a cursor of this list'] })
      before = { at: new Date(m[1]!), fn: m[2]!, fd: Number(m[3]) }
    }
    const rows = await kassaDocuments(db, deps.publicUrl, req.params.id, { before, limit: 51 })
    return page(rows, 50, (d) => `${new Date(d.signedAt).toISOString()}|${d.fn}|${d.fd}`)
  })
  api.get<{ Params: { id: string } }>('/kassas/:id/provider', async (req) => ({ status: await providerStatus(db, req.params.id) }))

  api.get('/charts/sales', async (req, reply) => {
    const q = parse(ChartQuery, req.query, reply)
    if (!q) return reply
    return { items: await salesSeries(db, rangeOf(q)), next: null }
  })
  api.get('/charts/latency', async (req, reply) => {
    const q = parse(ChartQuery, req.query, reply)
    if (!q) return reply
    return { items: await latencySeries(db, rangeOf(q)), next: null }
  })
}

function rangeOf(q: z.infer<typeof ChartQuery>): ChartRange {
  return {
    from: new Date(q.from), to: new Date(q.to), bucket: q.bucket, timeZone: q.tz,
    scope: q.scope === 'fleet' ? { kind: 'fleet' } : { kind: q.scope, id: q.id! },
  }
}
