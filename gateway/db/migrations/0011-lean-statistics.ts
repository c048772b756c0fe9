import { sql, type Kysely } from 'kysely'

// ANALYZE keeps no statistics on the columns no query filters, joins or sorts by: a sale's items
// and declared content and its last error, a document's TLV, display and fiscal sign. They were
// the costliest part of the statistics keeper's ANALYZE (gateway/db/statistics.ts, on a server
// with autovacuum off and on PGlite), sampling 30,000 rows of large values: `analyze sales,
// fiscal_documents` at 40,000 sales took 560–620 ms of the database's CPU, 370–440 ms without.
// Frozen in time: never import application code here.
const LEAN = { sales: ['items', 'declared', 'last_error'], fiscal_documents: ['tlv', 'display', 'fp'] } as const

export async function up(db: Kysely<any>): Promise<void> {
  for (const [table, columns] of Object.entries(LEAN)) {
    for (const column of columns) await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} set statistics 0`.execute(db)
  }
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const [table, columns] of Object.entries(LEAN)) {
    for (const column of columns) await sql`alter table ${sql.table(table)} alter column ${sql.ref(column)} set statistics -1`.execute(db)
  }
}
