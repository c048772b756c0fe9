import { sql, type Kysely } from 'kysely'

// Machine audits (EVA-DTS) and the correction receipts issued for what they show unreceipted.
// Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  // Every audit a machine uploaded, as received: the raw bytes (their G85 covers the CR LF line
  // ends), when, and their SHA-256. The same bytes twice are one audit. A rejected audit is kept
  // with its reason, as a bad sale is.
  await db.schema
    .createTable('audits')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id'))
    .addColumn('hash', 'text', (c) => c.notNull())
    // Milliseconds, as JavaScript holds them: interval bounds read back compare equal in SQL.
    .addColumn('received_at', sql`timestamptz(3)`, (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('raw', 'bytea', (c) => c.notNull())
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('stored', 'rejected')`))
    .addColumn('reason', 'text')
    // What the parser read (figures, products, warnings); null when nothing could be read.
    .addColumn('summary', 'jsonb')
    .addUniqueConstraint('audits_machine_hash', ['machine_id', 'hash'])
    .execute()
  await sql`create index audits_machine on audits (machine_id, received_at, id)`.execute(db)

  // One correction receipt per reconciliation interval, ever: the interval is named by the audit
  // that closes it, and the unique key holds however often (and from however many processes) the
  // command is repeated.
  await db.schema
    .createTable('audit_corrections')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('interval_audit_id', 'bigint', (c) => c.notNull().unique().references('audits.id'))
    .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id'))
    .addColumn('kassa_id', 'text', (c) => c.notNull().references('kassas.id'))
    .addColumn('provider', 'text', (c) => c.notNull())
    // sending | wait: at a cloud kassa, answer not final yet; done: signed; fail: the provider refused.
    .addColumn('status', 'text', (c) => c.notNull().check(sql`status in ('sending', 'wait', 'done', 'fail')`))
    .addColumn('total', 'bigint', (c) => c.notNull())
    .addColumn('cash', 'bigint', (c) => c.notNull())
    .addColumn('ecash', 'bigint', (c) => c.notNull())
    .addColumn('vends', 'integer', (c) => c.notNull())
    // FFD 1178: the date of the corrected settlements, on the kassa's calendar (YYYY-MM-DD).
    .addColumn('base_date', 'text', (c) => c.notNull())
    .addColumn('items', 'jsonb', (c) => c.notNull())
    .addColumn('fn', 'text')
    .addColumn('fd', 'integer')
    .addColumn('fp', 'text')
    .addColumn('signed_at', 'timestamptz')
    .addColumn('external_id', 'text')
    .addColumn('uuid', 'text')
    .addColumn('request', 'jsonb')
    // A cloud kassa's final report (fn, fd, fp, shift, receipt time): its receipt page is built from it.
    .addColumn('report', 'jsonb')
    .addColumn('error', 'text')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()
  await sql`create index audit_corrections_machine on audit_corrections (machine_id)`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('audit_corrections').execute()
  await db.schema.dropTable('audits').execute()
}
