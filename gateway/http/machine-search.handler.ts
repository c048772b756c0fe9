import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import type { Alert } from '../alerts/alert.types.js'
import type { Database } from '../db/schema.js'
import { MACHINE_SORTS, searchMachines, type SearchKey } from '../operator/machine-search.repository.js'
import { listMachineStates } from '../operator/machine-state.repository.js'

// `GET /api/machines?q=&status=&alert=&kassa=&sort=&dir=`: the console's machines list. Without
// any of these the list stays the plain keyset by id it always was.
const SEARCH_PARAMS = ['q', 'status', 'alert', 'kassa', 'sort', 'dir'] as const

export const isMachineSearch = (query: unknown): boolean =>
  typeof query === 'object' && query !== null && SEARCH_PARAMS.some((p) => p in query)

const SearchQuery = z.object({
  q: z.string().trim().max(100).optional(),
  status: z.enum(['online', 'offline', 'disabled']).optional(),
  // `any`: with an active alert; `none`: without; a rule name: with that rule's alert.
  alert: z.string().regex(/^(any|none|[a-z_]{1,40})$/).optional(),
  kassa: z.string().min(1).max(64).optional(),
  sort: z.enum(MACHINE_SORTS).default('id'),
  dir: z.enum(['asc', 'desc']).default('asc'),
  limit: z.coerce.number().int().min(1).max(1000).default(100),
  cursor: z.string().max(400).optional(),
})

const Cursor = z.strictObject({ s: z.string(), d: z.enum(['asc', 'desc']), v: z.union([z.string(), z.number()]), id: z.string() })
const encode = (c: z.infer<typeof Cursor>) => Buffer.from(JSON.stringify(c), 'utf8').toString('base64url')
function decode(cursor: string): z.infer<typeof Cursor> | null {
  try {
    const r = Cursor.safeParse(JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')))
    return r.success ? r.data : null
  } catch {
    return null
  }
}

export interface MachineSearchDeps { db: Kysely<Database>; now: () => Date; alerts: () => readonly Alert[] }

export function machineSearchHandler(deps: MachineSearchDeps) {
  return async function machineSearch(req: FastifyRequest, reply: FastifyReply) {
    const parsed = SearchQuery.safeParse(req.query)
    if (!parsed.success) return reply.code(400).send({ error: 'bad request', problems: parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) })
    const q = parsed.data
    let after: SearchKey | undefined
    if (q.cursor !== undefined) {
      const c = decode(q.cursor)
      // A cursor belongs to one order: the same sort and direction.
      if (!c || c.s !== q.sort || c.d !== q.dir) return reply.code(400).send({ error: 'bad request', problems: ['cursor: not a cursor of this list'] })
      after = { v: c.v, id: c.id }
    }
    const alerts = deps.alerts().filter((a) => a.subject.kind === 'machine')
    const counts: Record<string, number> = {}
    for (const a of alerts) counts[a.subject.id] = (counts[a.subject.id] ?? 0) + 1
    const alerted = q.alert === undefined ? undefined : {
      present: q.alert !== 'none',
      ids: [...new Set(alerts.filter((a) => q.alert === 'any' || q.alert === 'none' || a.rule === q.alert).map((a) => a.subject.id))],
    }
    const now = deps.now()
    const keys = await searchMachines(deps.db, now, {
      q: q.q || undefined, status: q.status, kassa: q.kassa, alerted, alertCounts: counts,
      sort: q.sort, desc: q.dir === 'desc', after, limit: q.limit + 1,
    })
    const pageKeys = keys.slice(0, q.limit)
    const states = pageKeys.length ? await listMachineStates(deps.db, now, { ids: pageKeys.map((k) => k.id), limit: pageKeys.length }) : []
    const byId = new Map(states.map((m) => [m.id, m]))
    const last = pageKeys.at(-1)
    return {
      items: pageKeys.map((k) => ({ ...byId.get(k.id)!, alerts: counts[k.id] ?? 0 })),
      next: keys.length > q.limit && last ? encode({ s: q.sort, d: q.dir, v: last.v, id: last.id }) : null,
    }
  }
}
