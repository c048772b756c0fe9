// A report body (a provider's callback, or any stored report) → the result a poll would give,
// classified by the same rules as the client's `report()`.
import type { AtolReportResult } from './atol.client.js'
import { AtolReportResponseSchema } from './atol.types.js'
import { isRetryableFail } from './retry-policy.js'

export type ReportBody = { ok: true; uuid: string; result: AtolReportResult } | { ok: false; reason: string }

export function reportFromBody(body: unknown, retryableDriverCodes: readonly number[] = []): ReportBody {
  const parsed = AtolReportResponseSchema.safeParse(body)
  if (!parsed.success) return { ok: false, reason: 'not an ATOL report' }
  const { uuid, status, payload, error } = parsed.data
  if (!uuid) return { ok: false, reason: 'the report names no uuid' }
  if (status === 'wait') return { ok: true, uuid, result: { kind: 'wait' } }
  if (status === 'done' && payload) return { ok: true, uuid, result: { kind: 'done', payload } }
  if (status === 'fail' && error) {
    const e = { code: error.code, text: error.text, type: error.type, ...(error.error_id ? { errorId: error.error_id } : {}) }
    return { ok: true, uuid, result: { kind: 'fail', error: e, retryable: isRetryableFail(e, retryableDriverCodes) } }
  }
  return { ok: false, reason: `status ${JSON.stringify(status)} without its payload or error` }
}
