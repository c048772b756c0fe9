import { sql, type Kysely } from 'kysely'
import type { AuditCorrectionRow, Database } from '../db/schema.js'
import { storedAudits } from './audit.repository.js'
import { correctionAmounts, countBetween, difference, verdictOf, type Difference, type Split, type Verdict } from './reconcile.js'

export type IntervalStatus = 'reconciled' | 'settling' | 'baseline' | 'profile_unknown'

export interface CorrectionRef {
  id: number
  status: AuditCorrectionRow['status']
  total: number
  cash: number
  ecash: number
  vends: number
  baseDate: string
  fn: string | null
  fd: number | null
  fp: string | null
}

export interface IntervalReport {
  /** The interval's id: the id of the audit that closes it. */
  id: number
  machineId: string
  fromAuditId: number
  toAuditId: number
  from: Date
  to: Date
  status: IntervalStatus
  /** Why it is a baseline or not reconciled. */
  reason: string | null
  profile: string | null
  counted: Split | null
  receipted: Split
  difference: Difference | null
  /** What a correction would carry: each payment kind's shortfall (never netted against another kind). */
  unreceipted: ReturnType<typeof correctionAmounts> | null
  verdict: Verdict | null
  wraps: string[]
  correction: CorrectionRef | null
}

export interface ReconcileOptions {
  from?: Date
  to?: Date
  now: Date
  /** ms after the closing audit before a verdict: sales sold before it may still be on their way. */
  settleMs: number
}

interface ReceiptedRow { value: number; count: number; cash_value: number; cash_count: number; unsettled: number }

/** Receipts (n=1 less refunds) of the machine's sales sold in (from, to], split cash / cashless, and sales still in flight. */
async function receiptedBetween(db: Kysely<Database>, machineId: string, from: Date, to: Date): Promise<{ split: Split; unsettled: number }> {
  const { rows } = await sql<ReceiptedRow>`
    with s as (
      select case when kind = 'refund' then -1 else 1 end as sign, total, payment_method, state,
             (select coalesce(sum((i->>'qty')::int), 0) from jsonb_array_elements(items) i) as qty
      from sales where machine_id = ${machineId} and sold_at > ${from} and sold_at <= ${to}
    )
    select coalesce(sum(sign * total) filter (where state = 'done'), 0)::bigint as value,
           coalesce(sum(sign * qty) filter (where state = 'done'), 0)::bigint as count,
           coalesce(sum(sign * total) filter (where state = 'done' and payment_method = 'cash'), 0)::bigint as cash_value,
           coalesce(sum(sign * qty) filter (where state = 'done' and payment_method = 'cash'), 0)::bigint as cash_count,
           count(*) filter (where state in ('pending', 'submitted'))::bigint as unsettled
    from s`.execute(db)
  const r = rows[0]!
  const n = (v: number | string) => Number(v)
  const cash = { value: n(r.cash_value), count: n(r.cash_count) }
  const total = { value: n(r.value), count: n(r.count) }
  return { split: { total, cash, cashless: { value: total.value - cash.value, count: total.count - cash.count } }, unsettled: n(r.unsettled) }
}

export async function correctionsOf(db: Kysely<Database>, machineId: string): Promise<Map<number, CorrectionRef>> {
  const rows = await db.selectFrom('audit_corrections').selectAll().where('machine_id', '=', machineId).execute()
  return new Map(rows.map((c) => [c.interval_audit_id, {
    id: c.id, status: c.status, total: c.total, cash: c.cash, ecash: c.ecash, vends: c.vends, baseDate: c.base_date, fn: c.fn, fd: c.fd, fp: c.fp,
  }]))
}

/** The machine's intervals whose closing audit was received in [from, to], newest first. */
export async function reconcileMachine(db: Kysely<Database>, machineId: string, opts: ReconcileOptions): Promise<IntervalReport[]> {
  const to = opts.to ?? opts.now
  // From the audit opening the first interval in range (it may be older than `from`). Truncated
  // audits are kept but never reconciled on.
  const chain = (await storedAudits(db, machineId, to, opts.from)).filter((a) => a.summary.complete)
  const corrections = await correctionsOf(db, machineId)
  const reports: IntervalReport[] = []
  for (let i = 1; i < chain.length; i++) {
    const prev = chain[i - 1]!
    const cur = chain[i]!
    if (opts.from && cur.receivedAt < opts.from) continue
    const elapsedS = (cur.receivedAt.getTime() - prev.receivedAt.getTime()) / 1000
    const counting = countBetween(prev.summary, cur.summary, elapsedS)
    const { split: receipted, unsettled } = await receiptedBetween(db, machineId, prev.receivedAt, cur.receivedAt)
    const correction = corrections.get(cur.id) ?? null
    const base = {
      id: cur.id, machineId, fromAuditId: prev.id, toAuditId: cur.id, from: prev.receivedAt, to: cur.receivedAt,
      receipted, correction, wraps: [] as string[],
    }
    if (counting.kind !== 'counted') {
      reports.push({ ...base, status: counting.kind, reason: counting.reason, profile: null, counted: null, difference: null, unreceipted: null, verdict: null })
      continue
    }
    const diff = difference(counting.counted, receipted)
    const settling = unsettled > 0 || opts.now.getTime() - cur.receivedAt.getTime() < opts.settleMs
    reports.push({
      ...base, wraps: counting.wraps, profile: counting.profile.name, counted: counting.counted, difference: diff, unreceipted: correctionAmounts(diff),
      status: settling ? 'settling' : 'reconciled',
      reason: settling ? (unsettled > 0 ? `${unsettled} sales of the interval not yet fiscalized` : 'waiting for sales still on their way') : null,
      verdict: settling ? null : verdictOf(diff, correction !== null && correction.status === 'done'),
    })
  }
  return reports.reverse()
}

/** Machines with an audit received since `since`: the ones whose reconciliation can have changed. */
export async function machinesWithAuditsSince(db: Kysely<Database>, since: Date): Promise<string[]> {
  const rows = await db.selectFrom('audits').select('machine_id').distinct()
    .where('received_at', '>=', since).where('status', '=', 'stored').execute()
  return rows.map((r) => r.machine_id)
}
