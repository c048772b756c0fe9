import { sql, type Kysely } from 'kysely'

// Frozen in time: never import application code here (kysely's migration rule).
export async function up(db: Kysely<any>): Promise<void> {
  await db.schema
    .createTable('kassas')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('name', 'text', (c) => c.notNull())
    .addColumn('inn', 'text', (c) => c.notNull())
    .addColumn('reg_number', 'text', (c) => c.notNull())
    .addColumn('sno', 'text', (c) => c.notNull())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('provider', 'text', (c) => c.notNull().defaultTo('emulated'))
    .addColumn('provider_config', 'jsonb')
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .execute()

  await db.schema
    .createTable('fiscal_drives')
    .addColumn('fn', 'text', (c) => c.primaryKey())
    .addColumn('kassa_id', 'text', (c) => c.notNull().references('kassas.id'))
    .addColumn('model', 'text', (c) => c.notNull())
    .addColumn('secret', 'bytea', (c) => c.notNull())
    .addColumn('registered_at', 'timestamptz', (c) => c.notNull())
    .addColumn('doc_limit', 'integer', (c) => c.notNull())
    .addColumn('next_fd', 'integer', (c) => c.notNull().defaultTo(1))
    .addColumn('shift_number', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('shift_opened_at', 'timestamptz')
    .addColumn('receipts_in_shift', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('unsent_count', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('first_unsent_at', 'timestamptz')
    .addColumn('active', 'boolean', (c) => c.notNull().defaultTo(true))
    .addColumn('blocked_reason', 'text')
    .addColumn('replaced_at', 'timestamptz')
    .execute()
  // One working FN per kassa; replaced drives stay for verify and receipt pages.
  await sql`create unique index fiscal_drives_one_active on fiscal_drives (kassa_id) where active`.execute(db)

  await db.schema
    .createTable('machines')
    .addColumn('id', 'text', (c) => c.primaryKey())
    .addColumn('kassa_id', 'text', (c) => c.notNull().references('kassas.id'))
    .addColumn('number', 'text', (c) => c.notNull())
    .addColumn('address', 'text', (c) => c.notNull())
    .addColumn('place', 'text', (c) => c.notNull())
    .addColumn('time_zone', 'text', (c) => c.notNull())
    .addColumn('secret_hash', 'text', (c) => c.notNull())
    .addColumn('disabled', 'boolean', (c) => c.notNull().defaultTo(false))
    // Moved on every secret rotation or disable, so the broker can re-check live connections.
    .addColumn('credentials_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('online', 'boolean', (c) => c.notNull().defaultTo(false))
    .addColumn('online_changed_at', 'timestamptz')
    .addColumn('last_seen_at', 'timestamptz')
    .addColumn('telemetry', 'jsonb')
    .addColumn('telemetry_at', 'timestamptz')
    .execute()

  // The broker polls for credentials changed since its last look.
  await sql`create index machines_credentials_at on machines (credentials_at)`.execute(db)

  await db.schema
    .createTable('sales')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('machine_id', 'text', (c) => c.notNull().references('machines.id'))
    .addColumn('sale_id', 'text', (c) => c.notNull())
    .addColumn('kassa_id', 'text', (c) => c.notNull().references('kassas.id'))
    .addColumn('kind', 'text', (c) => c.notNull())
    .addColumn('refund_of', 'text')
    .addColumn('items', 'jsonb', (c) => c.notNull())
    .addColumn('payment_method', 'text', (c) => c.notNull())
    .addColumn('total', 'bigint', (c) => c.notNull())
    .addColumn('sold_at', 'timestamptz', (c) => c.notNull())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('state', 'text', (c) => c.notNull().defaultTo('pending'))
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    .addColumn('last_error', 'text')
    .addColumn('run_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('fn', 'text')
    .addColumn('fd', 'integer')
    .addColumn('done_at', 'timestamptz')
    .addUniqueConstraint('sales_machine_sale_unique', ['machine_id', 'sale_id'])
    .addCheckConstraint('sales_state_check', sql`state in ('pending', 'submitted', 'done', 'failed')`)
    .execute()
  await sql`create index sales_pending on sales (kassa_id, id) where state = 'pending'`.execute(db)
  await sql`create index sales_machine_recent on sales (machine_id, id desc)`.execute(db)

  await db.schema
    .createTable('fiscal_documents')
    .addColumn('fn', 'text', (c) => c.notNull().references('fiscal_drives.fn'))
    .addColumn('fd', 'integer', (c) => c.notNull())
    .addColumn('kassa_id', 'text', (c) => c.notNull().references('kassas.id'))
    .addColumn('type', 'smallint', (c) => c.notNull())
    .addColumn('signed_at', 'timestamptz', (c) => c.notNull())
    .addColumn('shift', 'integer', (c) => c.notNull())
    .addColumn('receipt_in_shift', 'integer')
    .addColumn('sale_row_id', 'bigint', (c) => c.references('sales.id'))
    .addColumn('operation', 'smallint')
    .addColumn('total', 'bigint', (c) => c.notNull())
    .addColumn('fp', 'text', (c) => c.notNull())
    .addColumn('tlv', 'bytea', (c) => c.notNull())
    .addPrimaryKeyConstraint('fiscal_documents_pk', ['fn', 'fd'])
    .execute()
  // Exactly one receipt per sale, enforced by the database as well as by the claim.
  await sql`create unique index fiscal_documents_one_per_sale on fiscal_documents (sale_row_id) where sale_row_id is not null`.execute(db)

  await db.schema
    .createTable('display_outbox')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('machine_id', 'text', (c) => c.notNull())
    .addColumn('sale_id', 'text', (c) => c.notNull())
    .addColumn('payload', 'jsonb', (c) => c.notNull())
    .addColumn('created_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('sent_at', 'timestamptz')
    .addColumn('attempts', 'integer', (c) => c.notNull().defaultTo(0))
    // The publishing gateway has this long to see its PUBACK before a sweeper (any gateway) resends.
    .addColumn('next_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now() + interval '5 seconds'`))
    .execute()
  await sql`create index display_outbox_unsent on display_outbox (next_at) where sent_at is null`.execute(db)
  await sql`create index display_outbox_sale on display_outbox (machine_id, sale_id)`.execute(db)

  await db.schema
    .createTable('rejected_messages')
    .addColumn('id', 'bigserial', (c) => c.primaryKey())
    .addColumn('received_at', 'timestamptz', (c) => c.notNull().defaultTo(sql`now()`))
    .addColumn('topic', 'text', (c) => c.notNull())
    .addColumn('machine_id', 'text')
    .addColumn('sale_id', 'text')
    .addColumn('reason', 'text', (c) => c.notNull())
    .addColumn('payload', 'bytea', (c) => c.notNull())
    .execute()
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const table of ['rejected_messages', 'display_outbox', 'fiscal_documents', 'sales', 'machines', 'fiscal_drives', 'kassas']) {
    await db.schema.dropTable(table).execute()
  }
}
