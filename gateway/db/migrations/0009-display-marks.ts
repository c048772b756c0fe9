import { sql, type Kysely } from 'kysely'

// Receipt displays without a row per display. Each receipt signed on the emulated FN carries the
// display published for it (`fiscal_documents.display`, the message's JSON text), and one row per
// FN says how far, in the FN's own numbering, the broker has acknowledged the displays:
// `display_marks.through_fd`. Documents above it that are a few seconds old are published again.
// Before, each receipt also inserted a `display_outbox` row (three index entries) and updated it
// on PUBACK (a non-HOT update, two more): about a fifth of the database's writes per sale
// (scripts/bench, CHANGELOG). The outbox stays for the displays that have no document of this
// FN: refusals and receipts of cloud kassas.
// Frozen in time: never import application code here.
export async function up(db: Kysely<any>): Promise<void> {
  await sql`alter table fiscal_documents add column display text`.execute(db)
  await sql`create table display_marks (
    fn text primary key references fiscal_drives (fn),
    -- Every document of the FN up to this number has had its display acknowledged, or has none.
    through_fd integer not null,
    -- When a sweeper may take this FN's unacknowledged displays again, and how many times it has.
    sweep_at timestamptz not null default now(),
    sweeps integer not null default 0)`.execute(db)
  // Documents signed before this migration had their displays in the outbox.
  await sql`insert into display_marks (fn, through_fd) select fn, next_fd - 1 from fiscal_drives`.execute(db)
  // A new FN starts with its mark: documents it has before its first batch have no display.
  await sql`create function display_marks_for_new_fn() returns trigger language plpgsql as $$
    begin
      insert into display_marks (fn, through_fd) values (new.fn, new.next_fd - 1);
      return null;
    end $$`.execute(db)
  await sql`create trigger fiscal_drives_display_mark after insert on fiscal_drives
    for each row execute function display_marks_for_new_fn()`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger fiscal_drives_display_mark on fiscal_drives`.execute(db)
  await sql`drop function display_marks_for_new_fn()`.execute(db)
  await sql`drop table display_marks`.execute(db)
  await sql`alter table fiscal_documents drop column display`.execute(db)
}
