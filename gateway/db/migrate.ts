import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely'
import { GatewayError } from '../errors.js'
import * as m0001 from './migrations/0001-initial.js'
import * as m0002 from './migrations/0002-operator.js'
import * as m0003 from './migrations/0003-atol.js'
import * as m0004 from './migrations/0004-conflicts.js'
import * as m0005 from './migrations/0005-audits.js'
import * as m0006 from './migrations/0006-secret-hmac.js'
import * as m0007 from './migrations/0007-accounts.js'
import * as m0008 from './migrations/0008-machine-sales-rollup.js'
import * as m0009 from './migrations/0009-display-marks.js'
import * as m0010 from './migrations/0010-machines-by-kassa.js'
import * as m0011 from './migrations/0011-lean-statistics.js'
import * as m0012 from './migrations/0012-refund-lookup.js'

// Listed here rather than read from disk, so migrations work the same under tsx, in tests and bundled.
const MIGRATIONS: Record<string, Migration> = {
  '0001-initial': m0001,
  '0002-operator': m0002,
  '0003-atol': m0003,
  '0004-conflicts': m0004,
  '0005-audits': m0005,
  '0006-secret-hmac': m0006,
  '0007-accounts': m0007,
  '0008-machine-sales-rollup': m0008,
  '0009-display-marks': m0009,
  '0010-machines-by-kassa': m0010,
  '0011-lean-statistics': m0011,
  '0012-refund-lookup': m0012,
}

const provider: MigrationProvider = { getMigrations: async () => MIGRATIONS }

/** Brings the schema to the latest migration; throws GW_ERR_MIGRATION naming the migration and the cause. */
export async function migrateToLatest(db: Kysely<any>): Promise<void> {
  const { error, results } = await new Migrator({ db, provider }).migrateToLatest()
  if (error) {
    const failed = results?.find((r) => r.status === 'Error')?.migrationName
    // No migration ran when the database could not be reached at all (refused, no such database or role).
    const what = failed ? `migration ${failed} failed` : 'could not open the database'
    throw new GatewayError('GW_ERR_MIGRATION', `${what}: ${error instanceof Error ? error.message || (error as { code?: string }).code : String(error)}`, { cause: error })
  }
}
