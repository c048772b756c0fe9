import { sql, type Kysely } from 'kysely'

// A refund is checked against its machine's own sales: is the named sale already refunded? Without
// an index on (machine_id, refund_of) that read every sale the machine ever made, while the
// kassa's FN was locked for the refund's batch. Partial: only refunds are indexed, so a sale's
// insert pays nothing for it.
// Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create index sales_refunds on sales (machine_id, refund_of) where kind = 'refund'`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop index sales_refunds`.execute(db)
}
