import type { Kysely } from 'kysely'
import { createAtolClientRegistry } from '../atol/atol-clients.js'
import { buildCorrectionRequest, correctionAttempt, correctionExternalId } from '../atol/correction-request.js'
import { receiptFromReport } from '../atol/receipt-result.js'
import type { AtolCorrectionRequest } from '../atol/atol.types.js'
import type { AuditCorrectionRow, Database } from '../db/schema.js'
import { findKassa, kassaIdentity } from '../fiscalizer/fiscal.repository.js'
import { claimCorrection, completeCorrection, findCorrection, retryCorrection } from './correction.repository.js'
import type { CorrectionOutcome, ProviderCorrection } from './correction.service.js'

export interface AtolCorrectionDeps {
  providerSecret: (name: string) => string | undefined
  fetch?: typeof fetch
  /** ms between report polls, and how long the command waits for the provider's result. */
  pollMs?: number
  waitMs?: number
}

/**
 * A correction receipt on a cloud kassa: registered once under a deterministic external_id (a
 * resend after a timeout is the same request, which the provider answers as a duplicate), then
 * polled until the provider's FN has signed it. A correction still waiting when the command gives
 * up stays `wait`: running the command again polls it, and never sends another. One the provider
 * refused (`fail`, nothing signed) is sent again as the next attempt when the command is run again.
 */
export function atolCorrection(deps: AtolCorrectionDeps): ProviderCorrection {
  const registry = createAtolClientRegistry({ providerSecret: deps.providerSecret, ...(deps.fetch && { fetch: deps.fetch }) })
  return async (db, planned, existing, now): Promise<CorrectionOutcome> => {
    const kassa = (await findKassa(db, planned.kassaId))!
    const atol = await registry.forKassa(kassa.id, kassa.provider_config)
    if (!atol.ok) return { ok: false, reason: atol.reason }
    const { client, config } = atol.kassa
    let row: AuditCorrectionRow | undefined = existing ?? undefined
    let created = false
    if (!row || row.status === 'fail') {
      const attempt = row ? correctionAttempt(row.external_id, planned.machineId, planned.intervalAuditId) + 1 : 1
      const machine = (await db.selectFrom('machines').select(['number', 'address', 'place']).where('id', '=', planned.machineId).executeTakeFirst())!
      const built = buildCorrectionRequest({
        kassa: kassaIdentity(kassa), machine, items: planned.items, cash: planned.cash, ecash: planned.ecash, baseDate: planned.baseDate,
        externalId: correctionExternalId(planned.machineId, planned.intervalAuditId, attempt), now,
      }, {
        ...(config.clientEmail !== undefined && { client: { email: config.clientEmail } }),
        ...(config.clientPhone !== undefined && { client: { phone: config.clientPhone } }),
        ...(config.companyEmail !== undefined && { companyEmail: config.companyEmail }),
      })
      if (!built.ok) return { ok: false, reason: `the correction cannot be sent: ${built.reason}` }
      const next = { ...planned, status: 'sending' as const, externalId: built.request.external_id, request: built.request }
      created = row ? await retryCorrection(db, row.id, next) : (await claimCorrection(db, next)) !== null
      row = (await findCorrection(db, planned.intervalAuditId))!
    }
    if (row.status === 'sending') {
      const sent = await client.sellCorrection(row.request as AtolCorrectionRequest)
      if (sent.kind === 'accepted' || (sent.kind === 'duplicate' && sent.uuid)) {
        await db.updateTable('audit_corrections').set({ status: 'wait', uuid: sent.uuid! }).where('id', '=', row.id).execute()
      } else if (sent.kind === 'error' && !sent.retryable) {
        await completeCorrection(db, row.id, { status: 'fail', error: `${sent.error.code ?? sent.error.type}: ${sent.error.text}` })
      }
      row = (await findCorrection(db, planned.intervalAuditId))!
    }
    const deadline = Date.now() + (deps.waitMs ?? 30_000)
    while (row.status === 'wait' && row.uuid !== null && Date.now() < deadline) {
      const report = await client.report(row.uuid)
      if (report.kind === 'done') {
        const r = receiptFromReport(report.payload, { operation: 'sell', timeZone: kassa.time_zone, expectedTotal: row.total })
        await completeCorrection(db, row.id, r.ok
          ? { status: 'done', fn: r.receipt.fn, fd: r.receipt.fd, fp: r.receipt.fp, signedAt: r.receipt.signedAt, report: report.payload }
          : { status: 'fail', report: report.payload, error: `the provider's report does not fit: ${r.reason}` })
      } else if (report.kind === 'fail') {
        await completeCorrection(db, row.id, { status: 'fail', error: `${report.error.code ?? report.error.type}: ${report.error.text}` })
      } else await new Promise((r) => setTimeout(r, deps.pollMs ?? 500))
      row = (await findCorrection(db, planned.intervalAuditId))!
    }
    return { ok: true, created, correction: row }
  }
}
