import { sql, type Kysely, type Transaction } from 'kysely'
import type { DisplayMessage } from '../../protocol/index.js'
import { ASYNC_COMMIT } from '../db/async-commit.js'
import type { Database, FiscalDriveRow } from '../db/schema.js'
import type { DisplayRange } from '../display/display-marks.repository.js'
import type { OutboxEntry } from '../display/outbox.repository.js'
import type { FnState, KassaIdentity, SignedDocument, TaxSystem } from '../fiscal/fn.types.js'
import type { ClaimedSale } from './fiscal.repository.js'

// The emulated signer's batch in two statements instead of seven: the claim reads the kassa with
// its FN and its pending sales, and one statement writes everything the batch produced. Each statement is a round trip
// in which the FN stays locked, so the count bounds how fast one kassa is signed: measured in
// the benchmark (scripts/bench), see CHANGELOG. Both run either inside a transaction (the locked
// batch) or each on its own (the checked batch, emulated.signer.ts: the write commits only if the
// FN row is the version the claim read).

/**
 * Claims a kassa's FN for this transaction and reads, in the same statement, the kassa's identity
 * and its oldest pending sales (with their machine's number, address and place: tags 1036, 1009,
 * 1187). The row lock is the claim (see `claimFiscalDrive` for why a row lock and SKIP LOCKED);
 * `of fd` locks the FN only. The sales are read only when the claim succeeds, under its lock.
 * Outside a transaction (the checked batch) the lock ends with the statement, whose commit need
 * not wait for fsync: it wrote nothing but the lock.
 *
 * A lock taken on a row that another signer changed after this statement's snapshot returns that
 * signer's version of the FN (READ COMMITTED re-reads a locked row), while the pending sales are
 * still read from the older snapshot: sales that signer just receipted, refused or deferred would
 * look pending. So the statement also reads the FN row as its snapshot sees it; when the two
 * versions differ, the claim is read again by a new statement, whose snapshot includes that commit.
 */
export async function claimBatch(tx: Transaction<Database> | Kysely<Database>, kassaId: string, limit: number): Promise<ClaimedBatch | null> {
  for (let attempt = 1; ; attempt++) {
    const claim = (await claimKassas(tx, [kassaId], limit)).get(kassaId) ?? null
    if (claim !== 'stale') return claim
    // Three stale reads in a row: signers are racing on this kassa; leave it to the next poll.
    if (attempt === 3) return null
  }
}

/**
 * `claimBatch` for several kassas in one statement (a fiscalization round, fiscal-round.ts):
 * each kassa's FN claimed, or absent when another signer holds it, or 'stale' (read it again).
 */
export async function claimKassas(tx: Transaction<Database> | Kysely<Database>, kassaIds: readonly string[], limit: number): Promise<Map<string, ClaimedBatch | 'stale'>> {
  const rows = await sql<FiscalDriveRow & { k_name: string; k_inn: string; k_reg: string; k_sno: string; k_tz: string; row_version: string; seen_version: string | null; pending: ClaimedSale[] }>`
    with claimed as (
      select fd.*, fd.xmin::text as row_version, k.name as k_name, k.inn as k_inn, k.reg_number as k_reg, k.sno as k_sno, k.time_zone as k_tz
      from fiscal_drives fd join kassas k on k.id = fd.kassa_id
      where fd.kassa_id = any(${kassaIds}::text[]) and fd.active
      for update of fd skip locked
    )
    select c.*, (select f.xmin::text from fiscal_drives f where f.fn = c.fn) as seen_version,
      coalesce((select json_agg(p order by p.id) from (
        select s.id, s.machine_id, s.sale_id, s.kind, s.refund_of, s.items, s.payment_method, s.total, m.number, m.address, m.place
        from sales s join machines m on m.id = s.machine_id
        where s.kassa_id = c.kassa_id and s.state = 'pending' and s.run_at <= now()
        order by s.id limit ${limit}) p), '[]'::json) as pending
    from claimed c ${tx.isTransaction ? sql`` : sql`cross join ${ASYNC_COMMIT} as async_commit`}`.execute(tx)
  const claims = new Map<string, ClaimedBatch | 'stale'>()
  for (const row of rows.rows) {
    if (row.seen_version !== row.row_version) { claims.set(row.kassa_id, 'stale'); continue }
    const { k_name, k_inn, k_reg, k_sno, k_tz, pending, row_version, seen_version: _seen, ...drive } = row
    claims.set(row.kassa_id, { drive, rowVersion: row_version, kassa: { id: row.kassa_id, name: k_name, inn: k_inn, regNumber: k_reg, sno: k_sno as TaxSystem, timeZone: k_tz }, sales: pending })
  }
  return claims
}

export interface ClaimedBatch {
  drive: FiscalDriveRow
  /** The FN row's version when read (its xmin): any committed change of the row changes it. */
  rowVersion: string
  kassa: KassaIdentity
  sales: ClaimedSale[]
}

export interface BatchWrite {
  kassaId: string
  fn: string
  documents: readonly SignedDocument[]
  /**
   * Sale rows receipted, with their document's number, and the sale and amount signed: a checked
   * write (`ifVersion`) commits only if each of them is still a pending sale of this kassa with
   * that saleId and total.
   */
  done: readonly { id: number; fd: number; saleId: string; total: number }[]
  state: FnState
  blockedReason: string | null
  /**
   * The batch's displays. A receipt's (with `fd`) is stored with its document and acknowledged by
   * the FN's display mark (display-marks.repository.ts); the others get an outbox row.
   */
  displays: readonly (Omit<OutboxEntry, 'id' | 'range'> & { fd?: number })[]
  /**
   * Without a transaction holding the FN: the version of its row the batch was signed from
   * (ClaimedBatch.rowVersion). The statement then writes only if the row is still that version,
   * and writes nothing otherwise (another signer moved the FN meanwhile).
   */
  ifVersion?: string
}

/** The batch written only if the FN row is still `version` (`ifVersion`), as a new object of its own fields. */
export function checkedWrite(w: BatchWrite, version: string): BatchWrite {
  return { kassaId: w.kassaId, fn: w.fn, documents: w.documents, done: w.done, state: w.state, blockedReason: w.blockedReason, displays: w.displays, ifVersion: version }
}

/**
 * What a batch write committed: its displays to publish (receipts carry the batch's range of
 * documents), that range, and the version of the FN row it wrote (its xmin, as
 * ClaimedBatch.rowVersion); null when a checked write found the FN moved or a sale no longer
 * pending, and wrote nothing.
 */
export type BatchWritten = { displays: OutboxEntry[]; range: DisplayRange | null; version: string } | null

const key = (machineId: string, saleId: string) => `${machineId}\u0000${saleId}`

/**
 * Fiscal documents (receipts with their display), receipted sales, the FN's counters and the
 * outbox rows of refusals in one statement.
 * Data-modifying CTEs all run to completion whatever the outer query reads, and a foreign key to
 * a row inserted by a sibling CTE is checked at the end of the statement (PostgreSQL docs, 7.8.4).
 *
 * Sales are joined through `unnest` of arrays, never a JSON recordset: the planner takes a
 * recordset for 100 rows and an unnest for 10, and with 100 it hashed the whole `sales` table
 * for every batch (a sequential scan per batch until the table held some 30,000 rows; seen in
 * pg_stat_user_tables during `npm run bench`, and with EXPLAIN of the prepared statement).
 */
export async function writeBatch(tx: Transaction<Database> | Kysely<Database>, w: BatchWrite): Promise<BatchWritten> {
  return (await writeBatches(tx, [w])).get(w.fn) ?? null
}

/**
 * `writeBatch` for several FNs in one statement (a fiscalization round, fiscal-round.ts): each
 * FN's batch is written only if its row is still the version read (`ifVersion`), so the result
 * holds the FNs written and leaves out those another signer moved, whose batches wrote nothing.
 * One statement is one transaction: the batches written commit together.
 */
export async function writeBatches(tx: Transaction<Database> | Kysely<Database>, writes: readonly BatchWrite[]): Promise<Map<string, NonNullable<BatchWritten>>> {
  const { statement, encoded } = writeStatement(writes)
  const rows = await statement.execute(tx)
  const writtenFns = new Map(rows.rows.flatMap((r) => (r.k === 'fn' ? [[r.fn!, r.version!] as const] : [])))
  // A batch holds each sale once and a sale belongs to one kassa, so (machine, sale) names one
  // receipt or one outbox row of the whole statement.
  const written = new Map(rows.rows.flatMap((r) => (r.k === 'fn' ? [] : [[key(r.machine_id!, r.sale_id!), r] as const])))
  const result = new Map<string, NonNullable<BatchWritten>>()
  writes.forEach((w, i) => {
    if (!writtenFns.has(w.fn)) return
    const mine = encoded[i]!
    const receipts = mine.filter((e) => e.fd !== undefined)
    const range: DisplayRange | null = w.documents.length === 0 ? null
      : { fn: w.fn, from: Math.min(...w.documents.map((d) => d.fd)), to: Math.max(...w.documents.map((d) => d.fd)), left: receipts.length }
    const displays = mine.map((e): OutboxEntry => {
      const row = written.get(key(e.machineId, e.saleId))
      if (e.fd === undefined) return { id: row!.id!, machineId: e.machineId, saleId: e.saleId, payload: e.payload, text: e.text }
      const ageMs = row?.age_ms === null || row?.age_ms === undefined ? {} : { ageMs: Number(row.age_ms) }
      return { id: -1, machineId: e.machineId, saleId: e.saleId, payload: e.payload, text: e.text, range: range!, ...ageMs }
    })
    result.set(w.fn, { displays, range, version: writtenFns.get(w.fn)! })
  })
  return result
}

/**
 * The statement of `writeBatches` and each batch's displays as encoded for it (exported for the
 * test that reads its plan: test/integration/batch-write-plan.test.ts).
 */
export function writeStatement(writes: readonly BatchWrite[]) {
  // Each display is encoded once: the text stored and the message published are the same. The
  // objects made per sale here are written out field by field rather than as `{ ...e, fn }`: a
  // spread followed by a new property costs a map per object on Node 20 (gateway/fiscal/fn.ts).
  const encoded = writes.map((w) => w.displays.map((e) => ({ machineId: e.machineId, saleId: e.saleId, payload: e.payload, fd: e.fd, fn: w.fn, text: JSON.stringify(e.payload) })))
  const receiptText = new Map(encoded.flat().flatMap((e) => (e.fd === undefined ? [] : [[`${e.fn}/${e.fd}`, e.text] as const])))
  const outbox = encoded.flat().filter((e) => e.fd === undefined)
  const docs = writes.flatMap((w) => w.documents.map((d) => ({
    fn: w.fn, fd: d.fd, type: d.type, signed_at: d.signedAt.toISOString(), shift: d.shift, receipt_in_shift: d.receiptInShift,
    sale_row_id: d.saleRowId === null ? null : Number(d.saleRowId), operation: d.operation, total: d.total, fp: d.fp,
    tlv: Buffer.from(d.tlv.buffer, d.tlv.byteOffset, d.tlv.byteLength).toString('hex'), display: receiptText.get(`${w.fn}/${d.fd}`) ?? null,
  })))
  const done = writes.flatMap((w) => w.done.map((d) => ({ id: d.id, fd: d.fd, saleId: d.saleId, total: d.total, fn: w.fn })))
  const doneCount = new Map<string, number>()
  for (const d of done) doneCount.set(d.fn, (doneCount.get(d.fn) ?? 0) + 1)
  const states = writes.map((w) => w.state)
  const iso = (d: Date | null) => (d === null ? null : d.toISOString())
  // Every write hangs on `drive`: with `ifVersion`, when an FN's row changed since it was read, the
  // update finds no row and nothing else of that FN's batch is written. Data-modifying CTEs see one
  // snapshot, so the others read `drive`'s RETURNING rather than the table. An update that meets
  // the row locked by another signer waits for it, then re-checks the version on the row that
  // signer committed. A checked write also needs every sale it receipts to be, in its snapshot, a
  // pending sale of that kassa with the saleId and total signed: a batch signed from sales that
  // came with the broker's kick rather than from a claim (fiscal-round.ts) was never read from
  // the table, and this is where it is read. A signer that receipts or refuses one of them moves
  // the FN; a sale no longer pending here means the kick's copy is stale, and nothing is written.
  // Those sales (`signed`) are looked up one by one by id, and their state tested after. With the
  // state in a join, the planner (taking each side for one row) read the kassa's pending sales
  // through their partial index once for every sale signed, so a batch of 200 with thousands
  // pending (a burst) read them all 200 times; as a plain join on the id, it hashed the whole
  // table while its statistics were those of a young table (a seq scan in 780 of 906 writes over
  // 1 ms of a bench's one-kassa step). The `limit 1` keeps the lookup a subquery of its own, which
  // only the primary key serves (test/integration/batch-write-plan.test.ts).
  const statement = sql<{ k: 'fn' | 'done' | 'outbox'; fn: string | null; id: number | null; machine_id: string | null; sale_id: string | null; age_ms: number | null; version: string | null }>`
    with state as (
      select * from unnest(${states.map((s) => s.fn)}::text[], ${writes.map((w) => w.ifVersion ?? null)}::text[],
        ${states.map((s) => s.nextFd)}::int[], ${states.map((s) => s.shiftNumber)}::int[], ${states.map((s) => iso(s.shiftOpenedAt))}::timestamptz[],
        ${states.map((s) => s.receiptsInShift)}::int[], ${states.map((s) => s.unsentCount)}::int[], ${states.map((s) => iso(s.firstUnsentAt))}::timestamptz[],
        ${writes.map((w) => w.blockedReason)}::text[], ${states.map((s) => doneCount.get(s.fn) ?? 0)}::int[])
        as v(fn, if_version, next_fd, shift_number, shift_opened_at, receipts_in_shift, unsent_count, first_unsent_at, blocked_reason, n_done)
    ), signed as materialized (
      select e.fn, s.kassa_id, s.state, s.run_at from unnest(${done.map((d) => d.id)}::bigint[], ${done.map((d) => d.fn)}::text[], ${done.map((d) => d.saleId)}::text[], ${done.map((d) => d.total)}::bigint[])
        as e(id, fn, sale_id, total)
      cross join lateral (select s.kassa_id, s.state, s.run_at from sales s where s.id = e.id and s.sale_id = e.sale_id and s.total = e.total limit 1) s
    ), drive as (
      update fiscal_drives f set next_fd = v.next_fd, shift_number = v.shift_number, shift_opened_at = v.shift_opened_at,
        receipts_in_shift = v.receipts_in_shift, unsent_count = v.unsent_count, first_unsent_at = v.first_unsent_at,
        blocked_reason = v.blocked_reason
      from state v
      where f.fn = v.fn and (v.if_version is null or (f.xmin::text = v.if_version and v.n_done = (
        select count(*) from signed e where e.fn = v.fn and e.kassa_id = f.kassa_id and e.state = 'pending' and e.run_at <= now())))
      returning f.fn, f.kassa_id, f.xmin::text as version
    ), docs as (
      insert into fiscal_documents (fn, fd, kassa_id, type, signed_at, shift, receipt_in_shift, sale_row_id, operation, total, fp, tlv, display)
      select drive.fn, v.fd, drive.kassa_id, v.type, v.signed_at, v.shift, v.receipt_in_shift, v.sale_row_id, v.operation, v.total, v.fp, decode(v.tlv, 'hex'), v.display
      from jsonb_to_recordset(${JSON.stringify(docs)}::jsonb) as v(fn text, fd integer, type smallint, signed_at timestamptz, shift integer,
        receipt_in_shift integer, sale_row_id bigint, operation smallint, total bigint, fp text, tlv text, display text)
      join drive on drive.fn = v.fn
    ), done as (
      update sales s set state = 'done', fn = v.fn, fd = v.fd, done_at = now(), last_error = null
      from unnest(${done.map((d) => d.id)}::bigint[], ${done.map((d) => d.fd)}::int[], ${done.map((d) => d.fn)}::text[]) as v(id, fd, fn)
      where s.id = v.id and v.fn in (select fn from drive)
      returning s.machine_id, s.sale_id, s.received_at
    ), outbox as (
      insert into display_outbox (machine_id, sale_id, payload)
      select v.m, v.s, v.p::jsonb
      from unnest(${outbox.map((e) => e.fn)}::text[], ${outbox.map((e) => e.machineId)}::text[], ${outbox.map((e) => e.saleId)}::text[], ${outbox.map((e) => e.text)}::text[]) as v(fn, m, s, p)
      where v.fn in (select fn from drive)
      returning id, machine_id, sale_id
    )
    select 'fn' as k, fn, null::bigint as id, null::text as machine_id, null::text as sale_id, null::float8 as age_ms, version from drive
    union all
    select 'done', null, null, machine_id, sale_id, extract(epoch from clock_timestamp() - received_at)::float8 * 1000, null from done
    union all
    select 'outbox', null, id, machine_id, sale_id, null, null from outbox`
  return { statement, encoded }
}
