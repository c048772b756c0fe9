import type { Kysely } from 'kysely'
import { AccountError, createUser } from '../gateway/accounts/account.repository.js'
import type { Database } from '../gateway/db/schema.js'
import { runFleetCommand, type FleetOptions } from '../gateway/fleet/fleet.commands.js'

export const DEMO_KASSA = {
  id: 'DEMO', name: 'ООО «Вендинг-Демо»', inn: '7707083893', reg: '0000000001012345',
  fn: '9999078900001234', sno: 'usn_income', tz: 'Europe/Moscow', 'fn-model': 'fn-36', 'doc-limit': 250_000,
}

const PLACES = [
  ['VM-001', 'г. Москва, ул. Тверская, д. 1', 'Вестибюль, 1 этаж'],
  ['VM-002', 'г. Москва, ул. Тверская, д. 1', 'Фуд-корт, 3 этаж'],
  ['VM-003', 'г. Москва, Ленинградский пр-т, д. 39', 'Проходная'],
  ['VM-004', 'г. Москва, ул. Арбат, д. 10', 'Холл у лифтов'],
  ['VM-005', 'г. Москва, Комсомольская пл., д. 2', 'Зал ожидания'],
] as const

/**
 * The demo kassa and five machines, provisioned through the same commands an operator runs. A
 * machine's secret is shown only once, so on a restart the demo machines get fresh ones. Idempotent,
 * even against another `npm start` provisioning the same PostgreSQL database at the same moment:
 * what the other one added first is taken as it is.
 */
export async function provisionDemo(db: Kysely<Database>, count: number = PLACES.length, options: FleetOptions = {}): Promise<{ id: string; secret: string }[]> {
  if (!(await kassaExists(db))) {
    await runFleetCommand(db, 'add-kassa', DEMO_KASSA).catch(async (err: unknown) => {
      if (!(await kassaExists(db))) throw err
    })
  }
  const machines: { id: string; secret: string }[] = []
  const places = Array.from({ length: count }, (_, i) =>
    PLACES[i] ?? [`VM-${String(i + 1).padStart(3, '0')}`, 'г. Москва, ул. Тверская, д. 1', `Автомат № ${i + 1}`])
  for (const [id, address, place] of places) {
    const rotate = () => runFleetCommand(db, 'rotate-secret', { id }, new Date(), options)
    const { output } = (await machineExists(db, id))
      ? await rotate()
      : await runFleetCommand(db, 'add-machine', { id, kassa: DEMO_KASSA.id, address, place }, new Date(), options).catch(async (err: unknown) => {
        if (await machineExists(db, id)) return rotate()
        throw err
      })
    machines.push(output as { id: string; secret: string })
  }
  return machines
}

const kassaExists = async (db: Kysely<Database>) => !!(await db.selectFrom('kassas').select('id').where('id', '=', DEMO_KASSA.id).executeTakeFirst())
const machineExists = async (db: Kysely<Database>, id: string) => !!(await db.selectFrom('machines').select('id').where('id', '=', id).executeTakeFirst())

/** The demo console's admin: a known login for a first look, made once. */
export const DEMO_ADMIN = { username: 'admin', password: 'demo-admin-password' } as const

export async function provisionDemoAdmin(db: Kysely<Database>): Promise<typeof DEMO_ADMIN> {
  try {
    await createUser(db, { ...DEMO_ADMIN, role: 'admin' })
  } catch (err) {
    // Made on an earlier start: its password may have been changed since, which is fine.
    if (!(err instanceof AccountError)) throw err
  }
  return DEMO_ADMIN
}
