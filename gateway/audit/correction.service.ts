import type { Kysely } from 'kysely'
import type { Database } from '../db/schema.js'
import { fiscalLocalTime, signCorrection } from '../fiscal/index.js'
import { claimFiscalDrive, fnStateFromRow, findKassa, insertDocuments, kassaIdentity, saveFnState } from '../fiscalizer/fiscal.repository.js'
import { correctionItems } from './correction-items.js'
import { profileFor } from './counter-profile.js'
import {
  auditSummary, claimCorrection, completeCorrection, findCorrection, kassaUsualVat, machineCatalogue,
  receiptedBySku, type NewCorrection,
} from './correction.repository.js'
import { correctionAmounts } from './reconcile.js'
import { reconcileMachine, type IntervalReport } from './reconciliation.repository.js'
import type { AuditCorrectionRow } from '../db/schema.js'

export interface CorrectionRequest {
  machineId: string
  intervalId: number
  now: Date
  settleMs: number
}

export type CorrectionOutcome =
  | { ok: true; created: boolean; correction: AuditCorrectionRow }
  | { ok: false; reason: string }

/** Signs a correction on a cloud kassa (ATOL v5 `sell_correction`); set by the caller that has the clients. */
export type ProviderCorrection = (db: Kysely<Database>, c: NewCorrection, row: AuditCorrectionRow | null, now: Date) => Promise<CorrectionOutcome>

/** What the interval's correction receipt carries: amounts as the audit split them, items, date. */
async function plan(db: Kysely<Database>, interval: IntervalReport, kassa: { id: string; provider: string; time_zone: string }): Promise<NewCorrection> {
  const amounts = correctionAmounts(interval.difference!)
  const [before, after] = await Promise.all([auditSummary(db, interval.fromAuditId), auditSummary(db, interval.toAuditId)])
  // A maker whose product blocks count free vends too cannot itemise: one item for the amount.
  const itemised = after !== null && profileFor(after.identity)?.productsIncludeFree !== true
  const items = correctionItems({
    total: amounts.total, vends: amounts.vends, before: itemised ? before?.products ?? [] : [], after: itemised ? after.products : [],
    scale: 10 ** (2 - (after?.decimals ?? 2)),
    receipted: await receiptedBySku(db, interval.machineId, interval.from, interval.to),
    catalogue: await machineCatalogue(db, interval.machineId), defaultVat: await kassaUsualVat(db, kassa.id),
  })
  return {
    intervalAuditId: interval.id, machineId: interval.machineId, kassaId: kassa.id, provider: kassa.provider, status: 'sending',
    ...amounts, items,
    // FFD 1178: the vends happened by the closing audit; its date on the kassa's calendar.
    baseDate: fiscalLocalTime(interval.to, kassa.time_zone).iso.slice(0, 10),
  }
}

/**
 * Issues the one correction receipt of an unreceipted interval, or returns the one it already has
 * (however often, and from however many processes, it is asked: the interval's row is unique).
 */
export async function issueCorrection(db: Kysely<Database>, req: CorrectionRequest, provider?: ProviderCorrection): Promise<CorrectionOutcome> {
  const existing = await findCorrection(db, req.intervalId)
  if (existing && existing.machine_id !== req.machineId) return { ok: false, reason: `interval ${req.intervalId} belongs to machine ${existing.machine_id}` }
  const machine = await db.selectFrom('machines').select(['id', 'kassa_id', 'number', 'address', 'place']).where('id', '=', req.machineId).executeTakeFirst()
  if (!machine) return { ok: false, reason: `unknown machine ${req.machineId}` }
  const kassa = await findKassa(db, machine.kassa_id)
  if (!kassa) return { ok: false, reason: `kassa ${machine.kassa_id} not found` }
  // A provider's `fail` signed nothing: asking again makes the next attempt (atol-correction.ts).
  if (existing && (existing.status === 'done' || kassa.provider === 'emulated')) {
    return { ok: true, created: false, correction: existing }
  }

  const closing = await db.selectFrom('audits').select('received_at').where('id', '=', req.intervalId).where('machine_id', '=', req.machineId).executeTakeFirst()
  const intervals = closing
    ? await reconcileMachine(db, req.machineId, { from: closing.received_at, to: closing.received_at, now: req.now, settleMs: req.settleMs })
    : []
  const interval = intervals.find((i) => i.id === req.intervalId)
  if (!interval) return { ok: false, reason: `machine ${req.machineId} has no interval ${req.intervalId} (an interval is named by the audit that closes it)` }
  // Another process corrected it since `existing` was read: its correction, not a refusal.
  if (!existing && interval.correction !== null) return issueCorrection(db, req, provider)
  if ((!existing || existing.status === 'fail') && interval.verdict !== 'unreceipted') {
    const what = interval.verdict ?? `${interval.status}${interval.reason ? `: ${interval.reason}` : ''}`
    return { ok: false, reason: `interval ${req.intervalId} is ${what}: nothing to correct` }
  }
  const correction = await plan(db, interval, kassa)
  if (kassa.provider !== 'emulated') {
    if (!provider) return { ok: false, reason: `kassa ${kassa.id} is served by ${kassa.provider}: no client for it here` }
    return provider(db, correction, existing ?? null, req.now)
  }

  const signed = await db.transaction().execute(async (tx) => {
    const id = await claimCorrection(tx, { ...correction, status: 'done' })
    if (id === null) return null // another process corrected it meanwhile
    const drive = await claimFiscalDrive(tx, kassa.id, { wait: true })
    if (!drive) throw new CorrectionRefused(`kassa ${kassa.id} has no active FN`)
    const result = signCorrection(fnStateFromRow(drive), kassaIdentity(kassa), {
      machine: { number: machine.number, address: machine.address, place: machine.place },
      items: correction.items, cash: correction.cash, ecash: correction.ecash, baseDate: correction.baseDate,
    }, req.now)
    if (result.blocked) throw new CorrectionRefused(result.blocked.message)
    const doc = result.documents.find((d) => d.type === 31)!
    await insertDocuments(tx, kassa.id, drive.fn, result.documents)
    await saveFnState(tx, result.state, null)
    await completeCorrection(tx, id, { status: 'done', fn: drive.fn, fd: doc.fd, fp: doc.fp, signedAt: doc.signedAt })
    return id
  }).catch((err: unknown) => {
    if (err instanceof CorrectionRefused) return err
    throw err
  })
  if (signed instanceof CorrectionRefused) return { ok: false, reason: signed.message }
  const row = (await findCorrection(db, req.intervalId))!
  return { ok: true, created: signed !== null, correction: row }
}

class CorrectionRefused extends Error {}
