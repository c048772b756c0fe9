import { sql, type Kysely } from 'kysely'
import type { MachineCredentials, MachineCredentialsChange, MachineDirectory } from './machine-directory.js'

// The columns of `machines` the broker reads (gateway/db/migrations/0001-initial.ts). Declared here
// because broker/ never imports gateway/; a column rename there breaks the broker's integration tests.
export interface BrokerMachinesTable {
  id: string
  secret_hash: string
  disabled: boolean
  credentials_at: Date
}

export interface BrokerDatabase {
  machines: BrokerMachinesTable
}

export function createMachineDirectoryRepository(db: Kysely<BrokerDatabase>): MachineDirectory {
  return {
    async find(id: string): Promise<MachineCredentials | null> {
      const row = await db
        .selectFrom('machines')
        .select(['secret_hash', 'disabled'])
        .where('id', '=', id)
        .executeTakeFirst()
      return row ? { secretHash: row.secret_hash, disabled: row.disabled } : null
    },

    async upgradeSecretHash(id: string, from: string, to: string): Promise<boolean> {
      const row = await db.updateTable('machines').set({ secret_hash: to, credentials_at: sql`now()` })
        .where('id', '=', id).where('secret_hash', '=', from).returning('id').executeTakeFirst()
      return row !== undefined
    },

    async clock(): Promise<Date> {
      const { rows } = await sql<{ now: Date | string }>`select now() as now`.execute(db)
      return new Date(rows[0]!.now)
    },

    async changedSince(since: Date): Promise<MachineCredentialsChange[]> {
      const rows = await db
        .selectFrom('machines')
        .select(['id', 'secret_hash', 'disabled', 'credentials_at'])
        .where('credentials_at', '>', since)
        .orderBy('credentials_at')
        .execute()
      return rows.map((r) => ({ id: r.id, secretHash: r.secret_hash, disabled: r.disabled, credentialsAt: new Date(r.credentials_at) }))
    },
  }
}
