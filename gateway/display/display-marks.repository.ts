import { sql, type Kysely } from 'kysely'
import type { DisplayMessage } from '../../protocol/index.js'
import { ASYNC_COMMIT, assertNotInTransaction } from '../db/async-commit.js'
import type { Database } from '../db/schema.js'

// Receipt displays of the emulated FN are acknowledged by a mark per FN rather than a row per
// display (migration 0009): `display_marks.through_fd` is the FN's document number up to which
// every display was acknowledged by the broker (documents with no display count as done). A batch
// is a run of consecutive numbers, so a publisher advances the mark over a batch once all its
// displays are acknowledged and the mark has reached the number before it; documents above the
// mark that are a few seconds old are published again by a sweeper (their gateway died between
// commit and PUBACK, or the broker was away).

/** Documents `from`..`to` of an FN, written by one batch; done once `left` displays are acknowledged. */
export interface DisplayRange {
  fn: string
  from: number
  to: number
  /** Receipt displays of the range not acknowledged yet. */
  left: number
}

/**
 * Moves each FN's mark to `to` where it stands in `from - 1 .. to - 1` (one run of acknowledged
 * documents per FN; a mark below `from - 1` waits for the documents before). Returns every listed
 * FN's mark after the statement, so the caller can drop runs it covers. Committed without waiting
 * for fsync: a mark lost in a crash means displays published again, which machines ignore.
 */
export async function advanceMarks(db: Kysely<Database>, runs: readonly { fn: string; from: number; to: number }[]): Promise<Map<string, number>> {
  assertNotInTransaction(db, 'advanceMarks')
  if (runs.length === 0) return new Map()
  const rows = await sql<{ fn: string; through_fd: number }>`
    with v as (select * from unnest(${runs.map((r) => r.fn)}::text[], ${runs.map((r) => r.from)}::int[], ${runs.map((r) => r.to)}::int[]) as v(fn, f, t)),
    moved as (
      update display_marks m set through_fd = v.t, sweeps = 0, sweep_at = now()
      from v where m.fn = v.fn and m.through_fd between v.f - 1 and v.t - 1
      returning m.fn, m.through_fd
    )
    select m.fn, coalesce(moved.through_fd, m.through_fd) as through_fd
    from display_marks m join v on v.fn = m.fn left join moved on moved.fn = m.fn
    cross join ${ASYNC_COMMIT} as async_commit`.execute(db)
  return new Map(rows.rows.map((r) => [r.fn, r.through_fd]))
}

/** A document above its FN's mark, taken by a sweeper: its display (null when it has none). */
export interface DueDocument {
  fn: string
  fd: number
  machineId: string | null
  saleId: string | null
  display: DisplayMessage | null
  text: string | null
}

/**
 * Takes FNs whose documents above the mark are at least `olderThanMs` old and pushes their next
 * sweep back with backoff (5 s doubling to 5 minutes; reset when the mark moves), so that two
 * gateways rarely publish the same displays again. Returns, per FN, the run of documents just
 * above the mark that are that old (at most `limit` in all), in number order. Only FNs with a
 * document returned are taken: one FN's backlog filling `limit` leaves the others due, untouched,
 * for the next sweep, which comes to them first (they have waited longer).
 */
export async function claimDueDocuments(db: Kysely<Database>, olderThanMs: number, limit: number): Promise<DueDocument[]> {
  const rows = await sql<{ fn: string; through_fd: number; fd: number; machine_id: string | null; sale_id: string | null; display: string | null }>`
    with due as (
      select m.fn, m.through_fd, m.sweep_at from display_marks m join fiscal_drives f on f.fn = m.fn
      where f.next_fd - 1 > m.through_fd and m.sweep_at <= now()
        and (select d.signed_at from fiscal_documents d where d.fn = m.fn and d.fd = m.through_fd + 1) <= now() - make_interval(secs => ${olderThanMs / 1000})
      order by m.sweep_at limit 50
      for update of m skip locked
    ), docs as (
      select due.fn, due.through_fd, d.fd, d.sale_row_id, d.display
      from due
      cross join lateral (
        select d.fd, d.sale_row_id, d.display from fiscal_documents d
        where d.fn = due.fn and d.fd > due.through_fd and d.signed_at <= now() - make_interval(secs => ${olderThanMs / 1000})
        order by d.fd limit ${limit}
      ) d
      order by due.sweep_at, due.fn, d.fd limit ${limit}
    ), claimed as (
      -- The exponent is capped before it multiplies: 5 s × 2^41 is past what an interval holds.
      update display_marks m set sweeps = m.sweeps + 1,
        sweep_at = now() + least(interval '5 seconds' * power(2, least(m.sweeps, 6)), interval '5 minutes')
      where m.fn in (select fn from docs)
      returning m.fn
    )
    select docs.fn, docs.through_fd, docs.fd, s.machine_id, s.sale_id, docs.display
    from docs
    join claimed c on c.fn = docs.fn
    left join sales s on s.id = docs.sale_row_id
    order by docs.fn, docs.fd`.execute(db)
  // Only the run right above the mark: a number missing (a younger document) ends the FN's run.
  const out: DueDocument[] = []
  const next = new Map<string, number>()
  for (const r of rows.rows) {
    if (out.length >= limit) break
    const expected = next.get(r.fn) ?? r.through_fd + 1
    if (r.fd !== expected) continue
    next.set(r.fn, expected + 1)
    out.push({
      fn: r.fn, fd: r.fd, machineId: r.machine_id, saleId: r.sale_id, text: r.display,
      display: r.display === null ? null : JSON.parse(r.display) as DisplayMessage,
    })
  }
  return out
}
