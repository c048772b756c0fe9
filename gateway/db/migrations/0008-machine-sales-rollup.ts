import { sql, type Kysely } from 'kysely'

// Per-machine sales figures for the console's machines list, kept by the database as sales are
// stored, so sorting 10,000 machines by last sale or today's sales reads a row per machine
// instead of probing the sales index once per machine (170–430 ms a page before).
// Frozen in time: never import application code here.
//
// - machine_sales_days: sales, refunds and revenue per machine and local calendar day of the
//   sale (the kassa's time zone, which is the machine's: provisioning refuses any other), as
//   stored, failed ones included.
// - machine_sales_day_fixes: the changes made after storing (a sale that failed, a refund's total
//   aligned to its sale's receipt), apart, so the fiscalizer never waits on a row that ingest
//   holds. A day's figure is days + fixes.
// - machine_sales_last: each machine's last sale (sold_at) and last sale received (received_at).
//
// The insert trigger is one statement per inserted batch (FOR EACH STATEMENT, over the
// transition table), never per sale; it locks its rows in key order, so concurrent batches
// cannot deadlock on them. The update trigger fires only for the rows whose figures change
// (its WHEN is checked without calling the function): a sale marked done costs nothing.
export async function up(db: Kysely<any>): Promise<void> {
  for (const table of ['machine_sales_days', 'machine_sales_day_fixes']) {
    await sql`create table ${sql.table(table)} (
      machine_id text not null references machines (id),
      day date not null,
      sales integer not null,
      refunds integer not null,
      revenue bigint not null,
      -- Day first: the console reads the few days around today for every machine at once.
      primary key (day, machine_id))`.execute(db)
  }
  await sql`create table machine_sales_last (
    machine_id text primary key references machines (id),
    last_sale_at timestamptz,
    last_received_at timestamptz not null)`.execute(db)

  await sql`create function machine_sales_rollup_insert() returns trigger language plpgsql as $$
    begin
      with days as (
        insert into machine_sales_days as d (machine_id, day, sales, refunds, revenue)
        select a.machine_id, (a.sold_at at time zone k.time_zone)::date,
               count(*) filter (where a.kind = 'sale' and a.state <> 'failed'),
               count(*) filter (where a.kind = 'refund' and a.state <> 'failed'),
               coalesce(sum(case when a.kind = 'sale' then a.total else -a.total end) filter (where a.state <> 'failed'), 0)
        from added a join kassas k on k.id = a.kassa_id
        group by 1, 2 order by 1, 2
        on conflict (machine_id, day) do update
          set sales = d.sales + excluded.sales, refunds = d.refunds + excluded.refunds, revenue = d.revenue + excluded.revenue
      )
      insert into machine_sales_last as l (machine_id, last_sale_at, last_received_at)
      select a.machine_id, max(a.sold_at) filter (where a.kind = 'sale'), max(a.received_at)
      from added a group by 1 order by 1
      on conflict (machine_id) do update
        set last_sale_at = greatest(l.last_sale_at, excluded.last_sale_at),
            last_received_at = greatest(l.last_received_at, excluded.last_received_at);
      return null;
    end $$`.execute(db)
  await sql`create trigger sales_rollup_insert after insert on sales
    referencing new table as added for each statement execute function machine_sales_rollup_insert()`.execute(db)

  // One sale's share of its day: (sales, refunds, revenue), nothing when it failed.
  await sql`create function machine_sales_rollup_update() returns trigger language plpgsql as $$
    declare
      sale_day date := (select (new.sold_at at time zone k.time_zone)::date from kassas k where k.id = new.kassa_id);
      was integer := case when old.state = 'failed' then 0 else 1 end;
      is_ integer := case when new.state = 'failed' then 0 else 1 end;
    begin
      insert into machine_sales_day_fixes as f (machine_id, day, sales, refunds, revenue)
      values (new.machine_id, sale_day,
        (case when new.kind = 'sale' then is_ else 0 end) - (case when old.kind = 'sale' then was else 0 end),
        (case when new.kind = 'refund' then is_ else 0 end) - (case when old.kind = 'refund' then was else 0 end),
        is_ * (case when new.kind = 'sale' then new.total else -new.total end)
          - was * (case when old.kind = 'sale' then old.total else -old.total end))
      on conflict (machine_id, day) do update
        set sales = f.sales + excluded.sales, refunds = f.refunds + excluded.refunds, revenue = f.revenue + excluded.revenue;
      return null;
    end $$`.execute(db)
  await sql`create trigger sales_rollup_update after update of state, kind, total on sales for each row
    when ((old.state = 'failed') is distinct from (new.state = 'failed') or old.kind is distinct from new.kind or old.total is distinct from new.total)
    execute function machine_sales_rollup_update()`.execute(db)

  // The sales stored before this migration.
  await sql`insert into machine_sales_days (machine_id, day, sales, refunds, revenue)
    select s.machine_id, (s.sold_at at time zone k.time_zone)::date,
           count(*) filter (where s.kind = 'sale' and s.state <> 'failed'),
           count(*) filter (where s.kind = 'refund' and s.state <> 'failed'),
           coalesce(sum(case when s.kind = 'sale' then s.total else -s.total end) filter (where s.state <> 'failed'), 0)
    from sales s join kassas k on k.id = s.kassa_id group by 1, 2`.execute(db)
  await sql`insert into machine_sales_last (machine_id, last_sale_at, last_received_at)
    select machine_id, max(sold_at) filter (where kind = 'sale'), max(received_at) from sales group by 1`.execute(db)
}

export async function down(db: Kysely<any>): Promise<void> {
  await sql`drop trigger sales_rollup_update on sales`.execute(db)
  await sql`drop trigger sales_rollup_insert on sales`.execute(db)
  await sql`drop function machine_sales_rollup_update()`.execute(db)
  await sql`drop function machine_sales_rollup_insert()`.execute(db)
  for (const table of ['machine_sales_last', 'machine_sales_day_fixes', 'machine_sales_days']) await sql`drop table ${sql.table(table)}`.execute(db)
}
