import { sql } from 'kysely'
import type { SaleEvent } from '../../protocol/index.js'
import { createUser } from '../../gateway/accounts/account.repository.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { createTestDatabase, type TestDatabase } from './database.js'
import { connectMachine, sale, waitForDisplays, type TestMachine } from './machine-client.js'
import { provisionFleet, startBroker, startGateway, TEST_KASSA } from './system.js'

// A fleet that has sold, for the console's tests: two kassas, eight machines (one disabled), 30
// sales at known times on 1 December 2026 (Moscow), receipted through a real broker and gateway,
// and one user of each role.
export const USERS = {
  admin: { username: 'anna', password: 'admin-password-1' },
  operator: { username: 'oleg', password: 'operator-password-1' },
  viewer: { username: 'vera', password: 'viewer-password-1' },
} as const

/** 09:00 Moscow on 1 December 2026, UTC. */
export const DAY_START = new Date('2026-12-01T06:00:00Z')

export interface SoldFleet {
  database: TestDatabase
  broker: Awaited<ReturnType<typeof startBroker>>
  gw: Awaited<ReturnType<typeof startGateway>>
  base: string
  sent: (SaleEvent & { machineId: string })[]
  stop(): Promise<void>
}

export async function startSoldFleet(overrides: Record<string, string> = {}): Promise<SoldFleet> {
  const database = await createTestDatabase()
  const db = database.handle.db
  const creds = await provisionFleet(db, 5)
  await runFleetCommand(db, 'add-kassa', { ...TEST_KASSA, id: 'K2', fn: '9999078900004321', name: 'ООО «Снеки»' })
  const places = [['SN-01', 'г. Москва, ул. Арбат, 10', 'Холл у лифтов'], ['SN-02', 'г. Москва, Ленинградский пр-т, 39', 'Проходная'], ['SN-03', 'г. Москва, ул. Арбат, 12', 'Кафе']]
  for (const [id, address, place] of places) creds.push((await runFleetCommand(db, 'add-machine', { id, kassa: 'K2', address, place })).output as { id: string; secret: string })
  await runFleetCommand(db, 'disable-machine', { id: 'SN-03' })
  for (const [role, u] of Object.entries(USERS)) await createUser(db, { ...u, role: role as keyof typeof USERS })

  const broker = await startBroker(db)
  const gw = await startGateway(database.handle, broker.url, overrides)
  const machines: TestMachine[] = []
  for (const c of creds.filter((c) => c.id !== 'SN-03')) machines.push(await connectMachine(broker.url, c))
  const sent: SoldFleet['sent'] = []
  for (let i = 0; i < 30; i++) {
    const m = machines[i % machines.length]!
    // Spread over 09:00–14:59 Moscow; prices differ so totals are telling.
    const at = new Date(DAY_START.getTime() + (i % 6) * 3_600_000 + i * 60_000).toISOString()
    const s = sale({ at, items: [{ sku: `S${i}`, name: i % 2 ? 'Кофе «Капучино» 200 мл' : 'Вода 0,5 л', price: 5000 + i * 130, qty: 1 + (i % 3), vat: 'vat22' }] })
    sent.push({ ...s, machineId: m.id })
    await m.publishSale(s)
  }
  await waitForDisplays(machines, 30, 'thirty receipts')
  // The machines' retained statuses: the ones with an index below 4 stay online.
  // Offline ones for two hours, so the offline alert is due at the first evaluation.
  await sql`update machines set online = (id in ('VM-001', 'VM-002', 'VM-003', 'SN-01')),
    online_changed_at = case when id in ('VM-001', 'VM-002', 'VM-003', 'SN-01') then now() else now() - interval '2 hours' end`.execute(db)
  await Promise.all(machines.map((m) => m.close()))
  return {
    database, broker, gw, base: `http://127.0.0.1:${gw.httpPort}`, sent,
    stop: async () => {
      await gw.gateway.stop()
      await broker.broker.stop()
      await database.drop()
    },
  }
}
