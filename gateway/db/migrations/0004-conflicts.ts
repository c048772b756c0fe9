import { sql, type Kysely } from 'kysely'

// Conflicting repeats of a saleId, and what a machine declared when the stored sale says otherwise.
// Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  // A (machine, saleId) repeated with other content: refused with reason `conflict`, kept with both
  // sides for the operator. `stored` is the content of the sale as stored, `incoming` the content
  // of the refused one and `payload` its bytes as they came.
  await db.schema
    .createTable('sale_conflicts')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id'))
    .addColumn('sale_id', 'text', (c) => c.notNull())
    .addColumn('sale_row_id', 'bigint', (c) => c.notNull().references('sales.id'))
    .addColumn('stored_state', 'text', (c) => c.notNull())
    .addColumn('stored', 'jsonb', (c) => c.notNull())
    .addColumn('incoming', 'jsonb', (c) => c.notNull())
    .addColumn('payload', 'bytea', (c) => c.notNull())
    .execute()
  await sql`create index sale_conflicts_received on sale_conflicts (received_at)`.execute(db)
  await sql`create index sale_conflicts_machine on sale_conflicts (machine_id, id desc)`.execute(db)

  // The content the machine sent, kept when the stored columns say something else: a refund is
  // receipted for its original's items and total, and its row says what was signed.
  await db.schema.alterTable('sales').addColumn('declared', 'jsonb').execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.alterTable('sales').dropColumn('declared').execute()
  await db.schema.dropTable('sale_conflicts').execute()
}
