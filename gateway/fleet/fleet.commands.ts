import { readFile } from 'node:fs/promises'
import type { Kysely } from 'kysely'
import { hashSecret, newSecret } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import { validateFleetArgs, type FleetArgs, type FleetCommand } from './fleet.args.js'
import { addKassa, addMachine, findKassaOrFail, FleetError, listFleet, moveMachine, replaceFn, updateCredentials } from './fleet.repository.js'
import { verifyFiscalData } from './verify.js'
import { AccountError, createUser } from '../accounts/account.repository.js'
import { recordAudit } from '../accounts/audit.repository.js'
import { newToken } from '../accounts/password.js'
import { atolConfigFromArgs } from './atol-kassa.js'

export interface CommandResult {
  /** Printed as one JSON object on stdout. */
  output: unknown
  /** Non-zero when a check failed (verify). */
  exitCode: number
}

type Handler<C extends FleetCommand> = (db: Kysely<Database>, args: FleetArgs<C>, now: Date) => Promise<CommandResult>
const ok = (output: unknown): CommandResult => ({ output, exitCode: 0 })

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
  'add-machine': async (db, a) => {
    const kassa = await findKassaOrFail(db, a.kassa)
    const tz = a.tz ?? kassa.time_zone
    // Tag 1012 and the QR carry the kassa's local time, which must be the place of settlement's.
    if (tz !== kassa.time_zone) throw new FleetError(`machine ${a.id} is in ${tz} but kassa ${kassa.id} is in ${kassa.time_zone}: map it to a kassa in its own time zone`)
    const number = a.number ?? a.id
    if (number.length > 20) throw new FleetError(`machine id ${a.id} is longer than the 20 characters of tag 1036: give --number`)
    const secret = newSecret()
    await addMachine(db, { id: a.id, kassaId: kassa.id, number, address: a.address, place: a.place, tz, secretHash: await hashSecret(secret) })
    return ok({ id: a.id, secret })
  },
  'rotate-secret': async (db, a) => {
    const secret = newSecret()
    await updateCredentials(db, a.id, { secretHash: await hashSecret(secret) })
    return ok({ id: a.id, secret })
  },
  'disable-machine': async (db, a) => {
    await updateCredentials(db, a.id, { disabled: true })
    return ok({ id: a.id, disabled: true })
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
  verify: async (db) => {
    const report = await verifyFiscalData(db)
    return { output: report, exitCode: report.ok ? 0 : 1 }
  },
}

/** Commands that change nothing: everything else goes into the audit log. */
const READ_ONLY: ReadonlySet<FleetCommand> = new Set(['list', 'verify'])

export async function runFleetCommand(db: Kysely<Database>, command: FleetCommand, args: Record<string, unknown>, now = new Date(), actor = 'cli:fleet'): Promise<CommandResult> {
  const valid = validateFleetArgs(command, args)
  const result = await (HANDLERS[command] as Handler<FleetCommand>)(db, valid as never, now)
  if (!READ_ONLY.has(command)) {
    // Options only (never the output: it may hold a machine secret or a generated password).
    const subject = (valid.id ?? valid.username ?? valid.kassa ?? null) as string | null
    await recordAudit(db, { actor, action: `fleet.${command}`, subject, detail: valid })
  }
  return result
}
