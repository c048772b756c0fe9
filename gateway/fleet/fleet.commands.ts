import { readFile } from 'node:fs/promises'
import type { Kysely } from 'kysely'
import { DEV_MACHINE_SECRET_KEY, keyedSecretHash, newSecret } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import { validateFleetArgs, type FleetArgs, type FleetCommand } from './fleet.args.js'
import { addKassa, addMachine, findKassaOrFail, FleetError, listFleet, moveMachine, replaceFn, updateCredentials } from './fleet.repository.js'
import { defaultCredentialsPath, importMachines } from './fleet.import.js'
import { verifyFiscalData } from './verify.js'
import { AccountError, createUser } from '../accounts/account.repository.js'
import { recordAudit } from '../accounts/audit.repository.js'
import { newToken } from '../accounts/password.js'
import { atolConfigFromArgs } from './atol-kassa.js'
import { issueCorrection } from '../audit/correction.service.js'
import { atolCorrection } from '../audit/atol-correction.js'

export interface CommandResult {
  /** Printed as one JSON object on stdout. */
  output: unknown
  /** Non-zero when a check failed (verify). */
  exitCode: number
}

export interface FleetOptions {
  /** Who runs the command, for the audit log (default `cli:fleet`). */
  actor?: string
  /** MACHINE_SECRET_KEY: new secrets are stored as their keyed hash, which the broker checks with the same key. */
  machineSecretKey?: string
  /** A cloud kassa's password by its variable name (config.providerSecret), for `verify` to ask the provider. */
  providerSecret?: (name: string) => string | undefined
  fetch?: typeof fetch
}

type Handler<C extends FleetCommand> = (db: Kysely<Database>, args: FleetArgs<C>, now: Date, options: FleetOptions) => Promise<CommandResult>
const ok = (output: unknown): CommandResult => ({ output, exitCode: 0 })
const hashOf = (secret: string, o: FleetOptions): string => keyedSecretHash(secret, o.machineSecretKey ?? DEV_MACHINE_SECRET_KEY)

const HANDLERS: { [C in FleetCommand]: Handler<C> } = {
  'add-kassa': async (db, a, now) => {
    if (a.provider !== 'emulated') {
      // No fiscal_drives row: the provider's FN numbers each receipt. reg is informational here.
      const config = atolConfigFromArgs(a)
      await addKassa(db, { id: a.id, name: a.name, inn: a.inn, reg: a.reg ?? '', sno: a.sno, tz: a.tz, fnModel: a['fn-model'], docLimit: a['doc-limit'], provider: a.provider, providerConfig: config }, now)
      return ok({ id: a.id, provider: a.provider, baseUrl: config.baseUrl, group: config.group, tz: a.tz })
    }
    await addKassa(db, { id: a.id, name: a.name, inn: a.inn, reg: a.reg!, sno: a.sno, tz: a.tz, fn: a.fn!, fnModel: a['fn-model'], docLimit: a['doc-limit'] }, now)
    return ok({ id: a.id, fn: a.fn, tz: a.tz })
  },
  'add-machine': async (db, a, _now, o) => {
    const kassa = await findKassaOrFail(db, a.kassa)
    const tz = a.tz ?? kassa.time_zone
    // Tag 1012 and the QR carry the kassa's local time, which must be the place of settlement's.
    if (tz !== kassa.time_zone) throw new FleetError(`machine ${a.id} is in ${tz} but kassa ${kassa.id} is in ${kassa.time_zone}: map it to a kassa in its own time zone`)
    const number = a.number ?? a.id
    if (number.length > 20) throw new FleetError(`machine id ${a.id} is longer than the 20 characters of tag 1036: give --number`)
    const secret = newSecret()
    await addMachine(db, { id: a.id, kassaId: kassa.id, number, address: a.address, place: a.place, tz, secretHash: hashOf(secret, o) })
    return ok({ id: a.id, secret })
  },
  'rotate-secret': async (db, a, _now, o) => {
    const secret = newSecret()
    await updateCredentials(db, a.id, { secretHash: hashOf(secret, o) })
    return ok({ id: a.id, secret })
  },
  'disable-machine': async (db, a) => {
    await updateCredentials(db, a.id, { disabled: true })
    return ok({ id: a.id, disabled: true })
  },
  'enable-machine': async (db, a) => {
    await updateCredentials(db, a.id, { disabled: false })
    return ok({ id: a.id, disabled: false })
  },
  import: async (db, a, _now, o) => {
    const csv = await readFile(a.file, 'utf8').catch((err: NodeJS.ErrnoException) => {
      throw new FleetError(`import: cannot read ${a.file}: ${err.code ?? err.message}`)
    })
    return ok(await importMachines(db, { csv, out: a.out ?? defaultCredentialsPath(a.file), kassa: a.kassa, hashOf: (secret) => hashOf(secret, o) }))
  },
  'move-machine': async (db, a) => {
    const kassa = await findKassaOrFail(db, a.kassa)
    const pendingMoved = await moveMachine(db, a.id, kassa)
    return ok({ id: a.id, kassa: kassa.id, pendingMoved })
  },
  'replace-fn': async (db, a, now) => {
    const kassa = await findKassaOrFail(db, a.kassa)
    if (kassa.provider !== 'emulated') throw new FleetError(`kassa ${kassa.id} is served by ${kassa.provider}: its FN is the provider's`)
    const previous = await replaceFn(db, a.kassa, a.fn, a['fn-model'], a['doc-limit'], now)
    return ok({ kassa: a.kassa, fn: a.fn, previous })
  },
  'add-user': async (db, a) => {
    const given = a['password-file'] === undefined ? null : (await readFile(a['password-file'], 'utf8')).split(/\r?\n/)[0]!
    if (given !== null && given.length < 10) throw new FleetError('add-user: the password in --password-file must be at least 10 characters')
    const password = given ?? newToken().slice(0, 20)
    try {
      const user = await createUser(db, { username: a.username, password, role: a.role })
      return ok({ username: user.username, role: user.role, ...(given === null ? { password } : {}) })
    } catch (err) {
      if (err instanceof AccountError) throw new FleetError(err.message)
      throw err
    }
  },
  list: async (db) => ok(await listFleet(db)),
  verify: async (db, _a, _now, o) => {
    const report = await verifyFiscalData(db, { ...(o.providerSecret && { providerSecret: o.providerSecret }), ...(o.fetch && { fetch: o.fetch }) })
    return { output: report, exitCode: report.ok ? 0 : 1 }
  },
  correct: async (db, a, now, o) => {
    const context = { providerSecret: o.providerSecret ?? (() => undefined), ...(o.fetch && { fetch: o.fetch }) }
    const outcome = await issueCorrection(db, { machineId: a.machine, intervalId: a.interval, now, settleMs: a['settle-s'] * 1000 }, atolCorrection(context))
    if (!outcome.ok) throw new FleetError(outcome.reason)
    const c = outcome.correction
    return ok({
      machine: c.machine_id, interval: c.interval_audit_id, created: outcome.created, status: c.status, kassa: c.kassa_id,
      total: c.total, cash: c.cash, ecash: c.ecash, vends: c.vends, baseDate: c.base_date, fn: c.fn, fd: c.fd, fp: c.fp, error: c.error,
    })
  },
}

/** Commands that change nothing: everything else goes into the audit log. */
const READ_ONLY: ReadonlySet<FleetCommand> = new Set(['list', 'verify'])

export async function runFleetCommand(db: Kysely<Database>, command: FleetCommand, args: Record<string, unknown>, now = new Date(), options: FleetOptions = {}): Promise<CommandResult> {
  const valid = validateFleetArgs(command, args)
  const result = await (HANDLERS[command] as Handler<FleetCommand>)(db, valid as never, now, options)
  if (!READ_ONLY.has(command)) {
    // Options only (never the output: it may hold a machine secret or a generated password).
    const subject = (valid.id ?? valid.username ?? valid.kassa ?? valid.machine ?? null) as string | null
    await recordAudit(db, { actor: options.actor ?? 'cli:fleet', action: `fleet.${command}`, subject, detail: valid })
  }
  return result
}
