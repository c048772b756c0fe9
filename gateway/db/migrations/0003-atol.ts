import { sql, type Kysely } from 'kysely'

// Cloud-kassa signers (ATOL Online v5 protocol). Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  // Every attempt to fiscalize a sale at a provider. external_id is unique forever per provider group,
  // failed ones included (docs/fiscal.md §4.1), so attempts are never deleted and a `fail` moves to a new row.
  await db.schema
    .createTable('atol_attempts')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('sale_row_id', 'bigint', (c) => c.notNull().references('sales.id'))
    // The kassa the document was sent to: its group and credentials answer the polls.
    .addColumn('kassa_id', 'text', (c) => c.notNull().references('kassas.id'))
    .addColumn('attempt', 'integer', (c) => c.notNull())
    .addColumn('external_id', 'text', (c) => c.notNull().unique())
    .addColumn('operation', 'text', (c) => c.notNull().check(sql`operation in ('sell', 'sell_refund')`))
    // The exact body sent: a resend after a timeout must be byte-for-byte the same request.
    .addColumn('request', 'jsonb', (c) => c.notNull())
    // sending: built, the provider's answer not recorded yet (it may or may not have it)
    // wait: accepted, uuid known, result polled; done | fail: the provider's final result;
    // rejected: refused at registration (validation), nothing registered.
    .addColumn('status', 'text', (c) => c.notNull().defaultTo('sending')
      .check(sql`status in ('sending', 'wait', 'done', 'fail', 'rejected')`))
    .addColumn('uuid', 'text')
    .addColumn('sends', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('polls', 'integer', (c) => c.notNull().defaultTo(0))
    // Consecutive transient errors (5xx, 429, timeouts): the exponent of the backoff.
    .addColumn('errors', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('error', 'text')
    // The final report as received (done or fail), for operators and audits.
    .addColumn('report', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('updated_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('accepted_at', 'timestamptz')
    .addColumn('finished_at', 'timestamptz')
    .addUniqueConstraint('atol_attempts_sale_attempt', ['sale_row_id', 'attempt'])
    .execute()
  // At most one open attempt per sale: the one the poller sends or polls.
  await sql`create unique index atol_attempts_one_open on atol_attempts (sale_row_id) where status in ('sending', 'wait')`.execute(db)
  // Callbacks name the document by uuid.
  await sql`create unique index atol_attempts_uuid on atol_attempts (uuid) where uuid is not null`.execute(db)
  // The poller's claim: submitted sales whose next step is due (0002's sales_submitted is by kassa).
  await sql`create index sales_submitted_due on sales (run_at) where state = 'submitted'`.execute(db)

  // Receipts signed by a provider's FN. Not fiscal_documents: there is no TLV to store (the provider
  // keeps the document) and the FN is not one of our fiscal_drives.
  await db.schema
    .createTable('provider_receipts')
    .addColumn('sale_row_id', 'bigint', (c) => c.primaryKey().references('sales.id'))
    .addColumn('kassa_id', 'text', (c) => c.notNull().references('kassas.id'))
    .addColumn('attempt_id', 'bigint', (c) => c.notNull().references('atol_attempts.id'))
    .addColumn('provider', 'text', (c) => c.notNull())
    .addColumn('uuid', 'text', (c) => c.notNull())
    .addColumn('operation', 'smallint', (c) => c.notNull())
    .addColumn('fn', 'text', (c) => c.notNull())
    .addColumn('fd', 'integer', (c) => c.notNull())
    // Up to 4294967295: text, never an int32.
    .addColumn('fp', 'text', (c) => c.notNull())
    .addColumn('shift', 'integer', (c) => c.notNull())
    .addColumn('receipt_in_shift', 'integer', (c) => c.notNull())
    .addColumn('signed_at', 'timestamptz', (c) => c.notNull())
    // Tag 1012 as the provider wrote it: the kassa's wall-clock time, what the FN signed.
    .addColumn('receipt_datetime', 'text', (c) => c.notNull())
    .addColumn('total', 'bigint', (c) => c.notNull())
    .addColumn('reg_number', 'text', (c) => c.notNull())
    .addColumn('ofd_receipt_url', 'text')
    .addColumn('qr', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    // An FN never numbers two documents alike; the receipt page looks receipts up by (fn, fd).
    .addUniqueConstraint('provider_receipts_fn_fd', ['fn', 'fd'])
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  await db.schema.dropTable('provider_receipts').execute()
  await db.schema.dropIndex('sales_submitted_due').execute()
  await db.schema.dropTable('atol_attempts').execute()
}
