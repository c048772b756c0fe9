import { sql, type Kysely } from 'kysely'

// The kassa states (operator API, and the alert rules every ALERT_INTERVAL_S) list each kassa's
// machines; without an index on machines.kassa_id every kassa read the whole machines table: at
// 100 kassas and 10,000 machines, some 125,000 buffer reads and half a second of the database's
// CPU per evaluation (pg_stat_statements during `npm run bench`).
// Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index machines_kassa on machines (kassa_id, id)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index machines_kassa`.execute(db)
}
