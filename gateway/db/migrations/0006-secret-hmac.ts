import { sql, type Kysely } from 'kysely'

// Machine secrets in the keyed scheme (`hmac-sha256$<key id>$<mac>`, checked in microseconds) beside
// the former scrypt hashes, which the broker rewrites on each machine's next good login. Nothing to
// convert here: a hash cannot be rewritten without the secret. Frozen in time: never import
// application code here.
export async function up(db: Kysely<any>): Promise<void> {
  // Only the two schemes the broker can check: anything else would lock the machine out silently.
  await sql`alter table machines add constraint machines_secret_scheme
    check (secret_hash like 'hmac-sha256$%' or secret_hash like 'scrypt$%')`.execute(db)
  // The machines still on scrypt (each costs ~40 ms of broker CPU at its next login), counted
  // without reading the table.
  await sql`create index machines_scrypt_secret on machines (id) where secret_hash like 'scrypt$%'`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropIndex('machines_scrypt_secret').execute()
  await sql`alter table machines drop constraint machines_secret_scheme`.execute(db)
}
