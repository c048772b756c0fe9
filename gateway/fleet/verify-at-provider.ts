import { sql, type Kysely } from 'kysely'
import { rublesToKopecks } from '../atol/amounts.js'
import type { AtolReportResult } from '../atol/atol.client.js'
import { ATOL_PROVIDER, createAtolClientRegistry } from '../atol/atol-clients.js'
import type { Database } from '../db/schema.js'
import type { VerifyFailure } from './verify.js'

export interface ProviderCheckOptions {
  /** A cloud kassa's password by its variable name (config.providerSecret); without it nothing is asked. */
  providerSecret?: (name: string) => string | undefined
  fetch?: typeof fetch
  /** Reports asked at once per kassa. */
  concurrency?: number
}

export interface ProviderCheck {
  /** Attempts whose report the provider gave. */
  checked: number
  /** Attempts that could not be asked (no credentials here, the provider unreachable): not failures. */
  unchecked: number
}

type Attempt = {
  id: number; kassa_id: string; uuid: string; attempt: number; status: string; machine_id: string; sale_id: string; sale_row_id: number
  provider_config: unknown; receipt_fn: string | null; receipt_fd: number | null; receipt_fp: string | null; receipt_total: number | null; receipt_attempt: number | null
}

const PAGE = 2000

/**
 * What only the provider can confirm: every attempt the gateway sent, asked again by its uuid
 * (report/{uuid}, kept 32 days). A stored receipt must be the provider's signed document field for
 * field; a sale must have at most one signed document, or the provider fiscalized it twice (a
 * retry after a `fail` that was not one); an attempt recorded as failed must not be signed there.
 */
export async function verifyAtProvider(db: Kysely<Database>, fail: (f: VerifyFailure) => void, options: ProviderCheckOptions): Promise<ProviderCheck> {
  const result: ProviderCheck = { checked: 0, unchecked: 0 }
  const registry = options.providerSecret ? createAtolClientRegistry({ providerSecret: options.providerSecret, ...(options.fetch && { fetch: options.fetch }) }) : null
  const signedBySale = new Map<number, string[]>()
  for (let after = 0; ;) {
    const rows = (await sql<Attempt>`
      select a.id, a.kassa_id, a.uuid, a.attempt, a.status, s.machine_id, s.sale_id, s.id as sale_row_id, k.provider_config,
             p.fn as receipt_fn, p.fd as receipt_fd, p.fp as receipt_fp, p.total as receipt_total, p.attempt_id as receipt_attempt
      from atol_attempts a join sales s on s.id = a.sale_row_id join kassas k on k.id = a.kassa_id
      left join provider_receipts p on p.sale_row_id = s.id
      where a.uuid is not null and k.provider = ${ATOL_PROVIDER} and a.id > ${after}
      order by a.id limit ${PAGE}`.execute(db)).rows
    const reports = await askAll(rows, registry, options.concurrency ?? 8)
    rows.forEach((a, i) => {
      const report = reports[i]
      const where = { fn: a.receipt_fn ?? '', fd: a.receipt_fd }
      const at = (reason: string) => fail({ ...where, reason: `${reason} (sale ${a.machine_id}/${a.sale_id}, attempt ${a.attempt}, uuid ${a.uuid})` })
      if (!report || report.kind === 'error' || report.kind === 'timeout') { result.unchecked++; return }
      result.checked++
      if (report.kind === 'done') {
        signedBySale.set(a.sale_row_id, [...(signedBySale.get(a.sale_row_id) ?? []), a.uuid])
        if (Number(a.receipt_attempt) === Number(a.id)) {
          const p = report.payload
          const differs = p.fn_number !== a.receipt_fn || p.fiscal_document_number !== a.receipt_fd ||
            String(p.fiscal_document_attribute) !== a.receipt_fp || rublesToKopecks(p.total) !== Number(a.receipt_total)
          if (differs) at(`the stored receipt (FN ${a.receipt_fn} FD ${a.receipt_fd} fp ${a.receipt_fp}) is not the document the provider signed (FN ${p.fn_number} FD ${p.fiscal_document_number} fp ${p.fiscal_document_attribute})`)
        } else if (a.status !== 'done') {
          at(`recorded as ${a.status}, but the provider signed it (FN ${report.payload.fn_number} FD ${report.payload.fiscal_document_number})`)
        }
      } else if (Number(a.receipt_attempt) === Number(a.id)) {
        at(`the stored receipt's document is ${report.kind} at the provider`)
      }
    })
    if (rows.length < PAGE) break
    after = rows.at(-1)!.id
  }
  for (const [, uuids] of signedBySale) {
    if (uuids.length > 1) fail({ fn: '', fd: null, reason: `one sale, ${uuids.length} documents signed by the provider: ${uuids.join(', ')}` })
  }
  return result
}

async function askAll(rows: readonly Attempt[], registry: ReturnType<typeof createAtolClientRegistry> | null, concurrency: number): Promise<(AtolReportResult | null)[]> {
  const out: (AtolReportResult | null)[] = rows.map(() => null)
  if (!registry) return out
  let next = 0
  async function worker(): Promise<void> {
    while (next < rows.length) {
      const i = next++
      const a = rows[i]!
      const kassa = await registry!.forKassa(a.kassa_id, a.provider_config)
      out[i] = kassa.ok ? await kassa.kassa.client.report(a.uuid) : null
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, rows.length) }, worker))
  return out
}
