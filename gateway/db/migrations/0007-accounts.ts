import { sql, type Kysely } from 'kysely'

// Operator accounts, API keys, the audit log, alert history and notification deliveries, and the
// indexes the console's lists and charts read. Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`create table operator_users (
    id serial primary key,
    username text not null unique,
    -- scrypt$N$r$p$salt$hash (base64url): the parameters travel with the hash, so they can be raised later.
    password_hash text not null,
    role text not null check (role in ('admin', 'operator', 'viewer')),
    created_at timestamptz not null default now(),
    disabled_at timestamptz
  )`.execute(db)
  // Only the SHA-256 of a session id is stored: a read of this table logs nobody in.
  await sql`create table operator_sessions (
    token_hash text primary key,
    user_id int not null references operator_users (id) on delete cascade,
    csrf text not null,
    created_at timestamptz not null default now(),
    expires_at timestamptz not null
  )`.execute(db)
  await sql`create index operator_sessions_expires on operator_sessions (expires_at)`.execute(db)
  await sql`create table api_keys (
    id serial primary key,
    name text not null unique,
    key_hash text not null unique,
    role text not null check (role in ('admin', 'operator', 'viewer')),
    created_by text not null,
    created_at timestamptz not null default now(),
    revoked_at timestamptz,
    last_used_at timestamptz
  )`.execute(db)
  await sql`create table audit_log (
    id bigserial primary key,
    at timestamptz not null default now(),
    actor text not null,
    action text not null,
    subject text,
    detail jsonb not null default '{}'
  )`.execute(db)

  // One row per time an alert was raised; acknowledged and cleared fill in as they happen. Several
  // gateways evaluate the same rules: the partial unique index keeps one open row per alert key.
  await sql`create table alert_events (
    id bigserial primary key,
    key text not null,
    rule text not null,
    severity text not null,
    subject_kind text not null,
    subject_id text not null,
    message text not null,
    raised_at timestamptz not null,
    acknowledged_at timestamptz,
    acknowledged_by text,
    cleared_at timestamptz
  )`.execute(db)
  await sql`create unique index alert_events_open on alert_events (key) where cleared_at is null`.execute(db)
  await sql`create index alert_events_raised on alert_events (raised_at desc)`.execute(db)
  // Each send to each channel, kept so a failing channel's failures are visible and retried.
  await sql`create table notification_deliveries (
    id bigserial primary key,
    alert_event_id bigint references alert_events (id) on delete cascade,
    channel text not null,
    reason text not null,
    attempt int not null,
    status text not null check (status in ('sent', 'failed')),
    error text,
    at timestamptz not null default now()
  )`.execute(db)
  await sql`create index notification_deliveries_event on notification_deliveries (alert_event_id, channel, id)`.execute(db)
  await sql`create index notification_deliveries_at on notification_deliveries (at desc)`.execute(db)

  // Journal and charts: sales by period across the fleet and per kassa (per machine uses sales_machine_sold).
  await sql`create index sales_sold on sales (sold_at)`.execute(db)
  await sql`create index sales_kassa_sold on sales (kassa_id, sold_at)`.execute(db)
  // Kassa page: its documents newest first, and its shift reports.
  await sql`create index fiscal_documents_kassa on fiscal_documents (kassa_id, signed_at desc)`.execute(db)
  // Shift reports only (two a day per kassa): the shift history and each shift's close report.
  await sql`create index fiscal_documents_reports on fiscal_documents (kassa_id, signed_at desc) where type <> 3`.execute(db)
  await sql`create index fiscal_documents_shift_reports on fiscal_documents (fn, shift) where type <> 3`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  for (const index of ['fiscal_documents_shift_reports', 'fiscal_documents_reports', 'fiscal_documents_kassa', 'sales_kassa_sold', 'sales_sold']) await sql`drop index ${sql.raw(index)}`.execute(db)
  for (const table of ['notification_deliveries', 'alert_events', 'audit_log', 'api_keys', 'operator_sessions', 'operator_users']) {
    await sql`drop table ${sql.raw(table)}`.execute(db)
  }
}
