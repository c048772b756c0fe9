import { openDatabase, type DatabaseHandle } from '../../gateway/db/database.js'
import { migrateToLatest } from '../../gateway/db/migrate.js'
import { parseFleetArgs } from '../../gateway/fleet/fleet.args.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { createScratchDatabase } from '../lib/database-admin.js'

// The harness's own database and fleet: created fresh on the local server, dropped at the end.

export const DEFAULT_SERVER_URL = 'postgres://postgres@127.0.0.1:5432/postgres'

export interface ChaosDatabase {
  name: string
  url: string
  /** The harness's handle (direct, not through the proxy). */
  handle: DatabaseHandle
  drop(): Promise<void>
}

export async function createChaosDatabase(serverUrl: string, prefix = 'vt_chaos'): Promise<ChaosDatabase> {
  const scratch = await createScratchDatabase(serverUrl, prefix)
  const handle = await openDatabase({ url: scratch.url, dataDir: '', poolSize: 4 })
  await migrateToLatest(handle.db)
  return {
    name: scratch.name, url: scratch.url, handle,
    drop: async () => {
      await handle.close().catch(() => undefined) // closed already after an earlier drop
      await scratch.drop()
    },
  }
}

export const CHAOS_KASSA = {
  id: 'K1', name: 'ООО «Вендинг»', inn: '7707083893', reg: '0000000001012345',
  fn: '9999078900001234', sno: 'usn_income', tz: 'Europe/Moscow',
} as const

/** Runs `npm run fleet -- <argv>` in this process: the same parsing, defaults and checks. */
export async function fleetCommand(handle: DatabaseHandle, argv: string[]): Promise<unknown> {
  const { command, args } = parseFleetArgs(argv)
  const result = await runFleetCommand(handle.db, command, args)
  if (result.exitCode !== 0) throw new Error(`fleet ${argv[0]} failed: ${JSON.stringify(result.output)}`)
  return result.output
}

/** One kassa and `count` machines through the fleet commands, as an operator provisions them. */
export async function provisionChaosFleet(handle: DatabaseHandle, count: number): Promise<{ id: string; secret: string }[]> {
  const k = CHAOS_KASSA
  await fleetCommand(handle, ['add-kassa', '--id', k.id, '--name', k.name, '--inn', k.inn, '--reg', k.reg, '--fn', k.fn, '--sno', k.sno, '--tz', k.tz, '--doc-limit', '1000000'])
  const machines: { id: string; secret: string }[] = []
  for (let i = 1; i <= count; i++) {
    const id = `CM-${String(i).padStart(4, '0')}`
    machines.push(await fleetCommand(handle, ['add-machine', '--id', id, '--kassa', k.id, '--address', 'г. Москва, ул. Тверская, 1', '--place', 'Вестибюль']) as { id: string; secret: string })
  }
  return machines
}

