import type { Kysely } from 'kysely'
import { Migrator, type Migration, type MigrationProvider } from 'kysely/migration'
import * as m0001 from './migrations/0001-initial.js'
import * as m0002 from './migrations/0002-operator.js'
import * as m0003 from './migrations/0003-atol.js'
import * as m0004 from './migrations/0004-conflicts.js'

// Listed here rather than read from disk, so migrations work the same under tsx, in tests and bundled.
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-operator': m0002,
  '0003-atol': m0003,
  '0004-conflicts': m0004,
}

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS }

/** Brings the schema to the latest migration; throws with the failing migration's name. */
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName ?? 'unknown'
    throw new Error(`GW_ERR_MIGRATION: migration ${failed} failed`, { cause: error })
  }
}
