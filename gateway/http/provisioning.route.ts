import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { Kysely } from 'kysely'
import { z } from 'zod'
import { actorOf } from '../accounts/roles.js'
import type { Database } from '../db/schema.js'
import { UsageError, type FleetCommand } from '../fleet/fleet.args.js'
import { runFleetCommand } from '../fleet/fleet.commands.js'
import { FleetError } from '../fleet/fleet.repository.js'
import { principalOf, requireRole } from './operator-auth.js'

export interface ProvisioningRouteDeps {
  db: Kysely<Database>
  now: () => Date
  /** MACHINE_SECRET_KEY: null when this gateway has none, and then it issues no machine secrets. */
  machineSecretKey: string | null | undefined
}

// What the console may send: the fleet CLI's own options of each command (validated there again).
// An emulated kassa only: a cloud kassa names a password file or variable on this host, which
// stays with whoever runs `npm run fleet`.
const NewKassa = z.strictObject({
  id: z.string(), name: z.string(), inn: z.string(), reg: z.string(), fn: z.string(), sno: z.string(), tz: z.string(),
  'fn-model': z.string().optional(), 'doc-limit': z.coerce.number().optional(),
})
const NewMachine = z.strictObject({ id: z.string(), kassa: z.string(), address: z.string(), place: z.string(), number: z.string().optional(), tz: z.string().optional() })
const Assignment = z.strictObject({ kassa: z.string() })
type IdParams = { Params: { id: string } }

/**
 * Provisioning from the console, for admins: what `npm run fleet` does, through the same commands
 * (validation, time zone rule, keyed secret hash, audit log entry under the admin's name). A new
 * or rotated secret is in the answer this once; only its hash is kept.
 */
export async function provisioningRoutes(api: FastifyInstance, deps: ProvisioningRouteDeps): Promise<void> {
  const admin = { preHandler: requireRole('admin') }

  async function run(req: FastifyRequest, reply: FastifyReply, command: FleetCommand, args: Record<string, unknown>, created = false) {
    if ((command === 'add-machine' || command === 'rotate-secret') && !deps.machineSecretKey) {
      return reply.code(503).send({ error: 'this gateway has no MACHINE_SECRET_KEY (the broker\'s): it cannot issue machine secrets' })
    }
    try {
      const { output } = await runFleetCommand(deps.db, command, args, deps.now(), {
        actor: actorOf(principalOf(req)), ...(deps.machineSecretKey ? { machineSecretKey: deps.machineSecretKey } : {}),
      })
      return reply.code(created ? 201 : 200).send(output)
    } catch (err) {
      if (err instanceof UsageError) return reply.code(400).send({ error: 'bad request', problems: [err.message.replace(/--/g, '')] })
      if (err instanceof FleetError) return reply.code(/does not exist/.test(err.message) ? 404 : 409).send({ error: err.message })
      throw err
    }
  }
  function body<T>(schema: z.ZodType<T>, req: FastifyRequest, reply: FastifyReply): T | null {
    const r = schema.safeParse(req.body ?? {})
    if (r.success) return r.data
    void reply.code(400).send({ error: 'bad request', problems: r.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`) })
    return null
  }

  api.post('/kassas', admin, async (req, reply) => {
    const b = body(NewKassa, req, reply)
    return b ? run(req, reply, 'add-kassa', b, true) : reply
  })
  api.post('/machines', admin, async (req, reply) => {
    const b = body(NewMachine, req, reply)
    return b ? run(req, reply, 'add-machine', b, true) : reply
  })
  api.post<IdParams>('/machines/:id/secret', admin, async (req, reply) => run(req, reply, 'rotate-secret', { id: req.params.id }))
  api.post<IdParams>('/machines/:id/disable', admin, async (req, reply) => run(req, reply, 'disable-machine', { id: req.params.id }))
  api.post<IdParams>('/machines/:id/enable', admin, async (req, reply) => run(req, reply, 'enable-machine', { id: req.params.id }))
  api.post<IdParams>('/machines/:id/kassa', admin, async (req, reply) => {
    const b = body(Assignment, req, reply)
    return b ? run(req, reply, 'move-machine', { id: req.params.id, kassa: b.kassa }) : reply
  })
}
