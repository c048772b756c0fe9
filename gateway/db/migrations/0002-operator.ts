import { sql, type Kysely } from 'kysely'

// Fleet health for operators. Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  // Telemetry samples for the machine detail view, pruned to a window (TELEMETRY_HISTORY_*).
  // Keyed on the machine's own `at`, so every gateway of a cluster may insert the sample it
  // received (each sees every message: no shared subscriptions on Aedes) and one row remains.
  await db.schema
    .createTable('telemetry_history')
    .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id'))
    .addColumn('at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('telemetry', 'jsonb', (c) => c.notNull())
    .addPrimaryKeyConstraint('telemetry_history_pk', ['machine_id', 'at'])
    .execute()
  await sql`create index telemetry_history_received on telemetry_history (received_at)`.execute(db)

  // Today's sales, the last sale and the usual hours per machine are range scans on this index;
  // without it every dashboard poll and alert pass would read the whole sales table.
  await sql`create index sales_machine_sold on sales (machine_id, sold_at)`.execute(db)
  // Backlog counts per kassa read only these rows (normally few), never the table.
  await sql`create index sales_submitted on sales (kassa_id, id) where state = 'submitted'`.execute(db)
  await sql`create index sales_failed on sales (kassa_id, id) where state = 'failed'`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const index of ['sales_failed', 'sales_submitted', 'sales_machine_sold']) await db.schema.dropIndex(index).execute()
  await db.schema.dropTable('telemetry_history').execute()
}
