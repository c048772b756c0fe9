import { sql, type Kysely, type Transaction } from 'kysely'
import type { AtolSellRequest } from '../atol/atol.types.js'
import type { Database, KassaRow } from '../db/schema.js'
import { enqueueDisplays, type OutboxEntry } from '../display/outbox.repository.js'
import type { OpenAttempt, Step } from './atol-outcome.js'

/**
 * Claims an ATOL kassa's queue of pending sales for this transaction: the PostgreSQL lock is the
 * claim, so two gateways never build attempts for the same sales, and a dead gateway's claim ends
 * with its connection. NO KEY UPDATE rather than UPDATE: it excludes another claim but not the
 * KEY SHARE locks that inserting sales (FK to kassas) takes, so ingest never waits on it.
 */
export async function claimAtolKassa(tx: Transaction<Database>, kassaId: string): Promise<KassaRow | null> {
  const row = await tx.selectFrom('kassas').selectAll().where('id', '=', kassaId)
    .forNoKeyUpdate().skipLocked().executeTakeFirst()
  return row ?? null
}

export interface FirstAttempt { saleRowId: number; kassaId: string; externalId: string; operation: 'sell' | 'sell_refund'; request: AtolSellRequest }

/** pending → submitted with attempt 1 in `sending`, due at once: the poller sends it. */
export async function submitSales(tx: Transaction<Database>, attempts: readonly FirstAttempt[]): Promise<void> {
  if (attempts.length === 0) return
  await tx.insertInto('atol_attempts').values(attempts.map((a) => ({
    sale_row_id: a.saleRowId, kassa_id: a.kassaId, attempt: 1, external_id: a.externalId,
    operation: a.operation, request: JSON.stringify(a.request),
  }))).execute()
  await tx.updateTable('sales').set({ state: 'submitted', attempts: 1, last_error: null, run_at: sql`now()` })
    .where('id', 'in', attempts.map((a) => a.saleRowId)).execute()
}

export interface ClaimedAttempt { row: OpenAttempt; providerConfig: unknown }

type AttemptRow = {
  sale_row_id: number; machine_id: string; sale_id: string; attempt_id: number; kassa_id: string; attempt: number
  external_id: string; operation: 'sell' | 'sell_refund'; request: AtolSellRequest; uuid: string | null
  status: 'sending' | 'wait'; polls: number; errors: number; time_zone: string; provider_config: unknown
}

const toClaimed = (r: AttemptRow): ClaimedAttempt => ({
  row: {
    saleRowId: r.sale_row_id, machineId: r.machine_id, saleId: r.sale_id, attemptId: r.attempt_id, kassaId: r.kassa_id,
    attempt: r.attempt, externalId: r.external_id, operation: r.operation, request: r.request, uuid: r.uuid,
    status: r.status, polls: r.polls, errors: r.errors, timeZone: r.time_zone,
  },
  providerConfig: r.provider_config,
})

/**
 * Claims submitted sales whose next step (send or poll) is due, leasing them by pushing run_at out
 * by leaseMs; any gateway's poller may take them once the lease runs out, so a killed gateway's work
 * resumes without a stale-claim sweeper (graphile-worker's locked_at, without the sweeper).
 * SKIP LOCKED lets several gateways claim side by side. A kassa gets at most its `room` (default
 * perKassa): what this gateway can hold for it, so a claimed sale waits at most a few request
 * timeouts for its turn. `held` are the sales this gateway still works on: should one outlive its
 * lease (a stalled process), it is not claimed a second time by the same gateway.
 */
export async function claimDueAttempts(
  db: Kysely<Database>,
  o: { limit: number; perKassa: number; room?: Readonly<Record<string, number>>; held?: readonly number[]; leaseMs: number },
): Promise<ClaimedAttempt[]> {
  const rows = await sql<AttemptRow>`
    with due as (
      -- The outer state and run_at test is not redundant: when FOR UPDATE meets a row another gateway
      -- has just leased, PostgreSQL re-checks only this WHERE against the new row (the subquery's ids
      -- come from the old snapshot), so without it both gateways would lease and send the same sale.
      select s.id from sales s
      where s.state = 'submitted' and s.run_at <= now()
        and s.id not in (select value::bigint from jsonb_array_elements_text(${JSON.stringify(o.held ?? [])}::jsonb))
        and s.id in (
        select id from (
          select id, row_number() over (partition by kassa_id order by run_at) as n
          from sales where state = 'submitted' and run_at <= now()) ranked
        where n <= coalesce((${JSON.stringify(o.room ?? {})}::jsonb ->> kassa_id)::int, ${o.perKassa}))
      order by s.run_at limit ${o.limit}
      for update skip locked
    ), leased as (
      update sales s set run_at = now() + ${o.leaseMs} * interval '1 millisecond'
      from due where s.id = due.id
      returning s.id, s.machine_id, s.sale_id
    )
    select l.id as sale_row_id, l.machine_id, l.sale_id, a.id as attempt_id, a.kassa_id, a.attempt, a.external_id,
           a.operation, a.request, a.uuid, a.status, a.polls, a.errors, k.time_zone, k.provider_config
    from leased l
    join atol_attempts a on a.sale_row_id = l.id and a.status in ('sending', 'wait')
    join kassas k on k.id = a.kassa_id`.execute(db)
  return rows.rows.map(toClaimed)
}

/** Gives claimed sales back at once (a stopping gateway that will not send them). */
export async function releaseLeases(db: Kysely<Database>, saleRowIds: readonly number[]): Promise<void> {
  if (saleRowIds.length === 0) return
  await db.updateTable('sales').set({ run_at: sql`now()` }).where('id', 'in', saleRowIds).where('state', '=', 'submitted').execute()
}

/** The open attempt a callback names: its uuid, of a submitted sale of that kassa. */
export async function findWaitingAttempt(db: Kysely<Database>, kassaId: string, uuid: string): Promise<ClaimedAttempt | null> {
  const rows = await sql<AttemptRow>`
    select s.id as sale_row_id, s.machine_id, s.sale_id, a.id as attempt_id, a.kassa_id, a.attempt, a.external_id,
           a.operation, a.request, a.uuid, a.status, a.polls, a.errors, k.time_zone, k.provider_config
    from atol_attempts a join sales s on s.id = a.sale_row_id join kassas k on k.id = a.kassa_id
    where a.uuid = ${uuid} and a.kassa_id = ${kassaId} and a.status = 'wait' and s.state = 'submitted'`.execute(db)
  return rows.rows[0] ? toClaimed(rows.rows[0]) : null
}

/**
 * Writes the steps decided for a batch of attempts in one transaction, receipts and displays
 * included. An attempt that is no longer open (a callback and a poll raced, or a lease ran out and
 * another gateway finished it) is skipped: the first writer wins, nothing is recorded twice.
 */
export async function recordSteps(db: Kysely<Database>, provider: string, items: readonly { row: OpenAttempt; step: Step }[]): Promise<{ applied: number; displays: OutboxEntry[] }> {
  if (items.length === 0) return { applied: 0, displays: [] }
  return db.transaction().execute(async (tx) => {
    const open = await sql<{ id: number }>`
      select a.id from atol_attempts a join sales s on s.id = a.sale_row_id
      where a.id in (${sql.join(items.map((i) => i.row.attemptId))}) and a.status in ('sending', 'wait') and s.state = 'submitted'
      order by s.id for update of s, a`.execute(tx)
    const ids = new Set(open.rows.map((r) => r.id))
    const live = items.filter((i) => ids.has(i.row.attemptId))
    if (live.length === 0) return { applied: 0, displays: [] }

    const attempts = live.map(({ step: { attempt: a } }) => ({
      id: a.id, status: a.status, uuid: a.uuid, sent: a.sent, polled: a.polled, count_error: a.errors === 'count', error: a.error, report: a.report,
    }))
    await sql`
      update atol_attempts a set status = v.status, uuid = coalesce(v.uuid, a.uuid),
        sends = a.sends + v.sent::int, polls = a.polls + v.polled::int,
        errors = case when v.count_error then a.errors + 1 else 0 end,
        error = v.error, report = coalesce(v.report, a.report), updated_at = now(),
        accepted_at = case when v.uuid is not null then coalesce(a.accepted_at, now()) else a.accepted_at end,
        finished_at = case when v.status in ('done', 'fail', 'rejected') then now() else a.finished_at end
      from jsonb_to_recordset(${JSON.stringify(attempts)}::jsonb)
        as v(id bigint, status text, uuid text, sent boolean, polled boolean, count_error boolean, error text, report jsonb)
      where a.id = v.id and a.id = any(${attempts.map((a) => a.id)}::bigint[])`.execute(tx)

    const next = live.filter((i) => i.step.nextAttempt)
    if (next.length > 0) {
      await tx.insertInto('atol_attempts').values(next.map(({ row, step }) => ({
        sale_row_id: row.saleRowId, kassa_id: row.kassaId, attempt: step.nextAttempt!.attempt,
        external_id: step.nextAttempt!.externalId, operation: row.operation, request: JSON.stringify(step.nextAttempt!.request),
      }))).execute()
    }

    const receipts = live.filter((i) => i.step.receipt)
    if (receipts.length > 0) {
      await tx.insertInto('provider_receipts').values(receipts.map(({ row, step }) => {
        const { fields: r, receiptDatetime, payload } = step.receipt!
        return {
          sale_row_id: row.saleRowId, kassa_id: row.kassaId, attempt_id: row.attemptId, provider, uuid: row.uuid ?? '',
          operation: row.operation === 'sell_refund' ? 2 : 1, fn: r.fn, fd: r.fd, fp: r.fp, shift: r.shift,
          receipt_in_shift: r.receiptInShift, signed_at: r.signedAt, receipt_datetime: receiptDatetime, total: r.total,
          reg_number: r.regNumber, ofd_receipt_url: r.ofdReceiptUrl ?? null, qr: r.qr, payload: JSON.stringify(payload),
        }
      })).execute()
    }

    const sales = live.map(({ step: { sale: s } }) => ({
      id: s.id, state: s.state, delay_ms: s.delayMs, last_error: s.lastError, attempt: s.attempt, fn: s.fn, fd: s.fd,
    }))
    await sql`
      update sales s set state = v.state, last_error = v.last_error, attempts = v.attempt,
        run_at = case when v.delay_ms is null then s.run_at else now() + v.delay_ms * interval '1 millisecond' end,
        fn = coalesce(v.fn, s.fn), fd = coalesce(v.fd, s.fd),
        done_at = case when v.state in ('done', 'failed') then now() else s.done_at end
      from jsonb_to_recordset(${JSON.stringify(sales)}::jsonb)
        as v(id bigint, state text, delay_ms double precision, last_error text, attempt integer, fn text, fd integer)
      where s.id = v.id and s.id = any(${sales.map((s) => s.id)}::bigint[])`.execute(tx)

    const displays = await enqueueDisplays(tx, live.filter((i) => i.step.display).map(({ row, step }) => ({
      machineId: row.machineId, saleId: row.saleId, payload: step.display!,
    })))
    return { applied: live.length, displays }
  })
}
