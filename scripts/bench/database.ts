import { randomBytes } from 'node:crypto'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDatabase, type DatabaseHandle } from '../../gateway/db/database.js'
import { migrateToLatest } from '../../gateway/db/migrate.js'
import { parseFleetArgs } from '../../gateway/fleet/fleet.args.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { DEV_MACHINE_SECRET_KEY, keyedSecretHash } from '../../protocol/index.js'
import { createScratchDatabase } from '../lib/database-admin.js'

// The run's own database: a fresh one on the DATABASE_URL server, dropped after; or embedded PGlite
// in a temp dir, removed after. Provisioned here, then closed: the broker and gateway open it.

export interface BenchDatabase {
  kind: 'postgres' | 'pglite'
  /** For the broker and gateway processes; undefined with PGlite (they get `dataDir`). */
  url: string | undefined
  dataDir: string | undefined
  drop(): Promise<void>
}

export interface BenchMachine { id: string; secret: string }

export async function createBenchDatabase(serverUrl: string | undefined): Promise<BenchDatabase> {
  if (!serverUrl) {
    const dataDir = mkdtempSync(join(tmpdir(), 'vt-bench-'))
    return { kind: 'pglite', url: undefined, dataDir, drop: async () => rmSync(dataDir, { recursive: true, force: true }) }
  }
  const scratch = await createScratchDatabase(serverUrl, 'vt_bench')
  return { kind: 'postgres', url: scratch.url, dataDir: undefined, drop: scratch.drop }
}

const machineId = (i: number) => `BM-${String(i).padStart(5, '0')}`
const kassaId = (k: number) => `BK-${String(k).padStart(3, '0')}`

/** Kassas through the fleet commands (each a new emulated FN), machines in bulk: `count` machines, `perKassa` each. */
export async function provisionBench(db: BenchDatabase, count: number, perKassa: number): Promise<BenchMachine[]> {
  const handle: DatabaseHandle = await openDatabase({ url: db.url, dataDir: db.dataDir ?? '', poolSize: 2 })
  try {
    await migrateToLatest(handle.db)
    const kassas = Math.ceil(count / perKassa)
    for (let k = 1; k <= kassas; k++) {
      const { command, args } = parseFleetArgs(['add-kassa', '--id', kassaId(k), '--name', 'ООО «Вендинг»', '--inn', '7707083893',
        '--reg', `000000000101${String(k).padStart(4, '0')}`, '--fn', `9999078900${String(k).padStart(6, '0')}`,
        '--sno', 'usn_income', '--tz', 'Europe/Moscow', '--doc-limit', '10000000'])
      const result = await runFleetCommand(handle.db, command, args)
      if (result.exitCode !== 0) throw new Error(`add-kassa ${kassaId(k)}: ${JSON.stringify(result.output)}`)
    }
    // A fleet provisioned an hour ago, as in steady operation. Provisioned now, every machine would
    // fall in the broker's credentials watcher's 30 s look-back behind the newest change, and the
    // broker would re-read all of them every second until another machine's credentials change
    // (broker/credentials.watcher.ts, CHANGE_OVERLAP_MS): reported, not measured here.
    const provisionedAt = new Date(Date.now() - 3_600_000)
    const secret = randomBytes(24).toString('base64url')
    // The keyed hash the fleet CLI writes, under the key the bench's broker runs with; one secret for all.
    const secretHash = keyedSecretHash(secret, DEV_MACHINE_SECRET_KEY)
    const machines: BenchMachine[] = []
    for (let start = 1; start <= count; start += 1000) {
      const rows = []
      for (let i = start; i < Math.min(start + 1000, count + 1); i++) {
        rows.push({ id: machineId(i), kassa_id: kassaId(Math.ceil(i / perKassa)), number: machineId(i),
          address: 'г. Москва, ул. Тверская, 1', place: 'Вестибюль, 1 этаж', time_zone: 'Europe/Moscow', secret_hash: secretHash,
          credentials_at: provisionedAt })
        machines.push({ id: machineId(i), secret })
      }
      await handle.db.insertInto('machines').values(rows).execute()
    }
    return machines
  } finally {
    await handle.close()
  }
}
