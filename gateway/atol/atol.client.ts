// HTTP client for ATOL Online v5 and protocol-compatible providers (Ecom Kassa): token, sell,
// sell_refund, report. Every outcome is a value; see retry-policy.ts for what is worth retrying.
// It never logs, and the password leaves this closure only in the getToken body.
import {
  AtolErrorResponseSchema, AtolGetTokenResponseSchema, AtolRegisterResponseSchema, AtolReportResponseSchema,
  AtolCorrectionRequestSchema, AtolSellRequestSchema, type AtolCorrectionRequest, type AtolOperation, type AtolProviderError,
  type AtolReportPayload, type AtolSellRequest,
} from './atol.types.js'
import type { z } from 'zod'
import {
  DEFAULT_DUPLICATE_ERROR_CODES, REPORT_NOT_READY_CODES, isRetryableFail, isRetryableStatus,
} from './retry-policy.js'

/** A provider error, or one we name: type `network` | `protocol` | `invalid_request` with code null. */
export interface AtolError {
  code: number | null
  text: string
  type: string
  errorId?: string
}

export type AtolFailure =
  /** status null: no HTTP answer (network) or nothing was sent (invalid_request). */
  | { kind: 'error'; retryable: boolean; status: number | null; error: AtolError }
  /** No answer within timeoutMs: the request may have been registered; resend the same external_id. */
  | { kind: 'timeout' }

export type AtolTokenResult = { kind: 'token'; token: string; expiresAt: Date } | AtolFailure
export type AtolSellResult =
  | { kind: 'accepted'; uuid: string }
  /** The external_id was registered before (our earlier attempt); poll this uuid. */
  | { kind: 'duplicate'; uuid?: string }
  | AtolFailure
export type AtolReportResult =
  | { kind: 'wait' }
  | { kind: 'done'; payload: AtolReportPayload }
  /** Finished unsigned. retryable: send again under a NEW external_id. */
  | { kind: 'fail'; error: AtolError; retryable: boolean }
  | AtolFailure

export interface AtolClientOptions {
  /** e.g. `https://online.atol.ru/possystem/v5/` or `https://app.ecomkassa.ru/fiscalorder/v5/`. */
  baseUrl: string
  login: string
  password: string
  group: string
  fetch?: typeof fetch
  now?: () => Date
  /** Per HTTP request, ms. */
  timeoutMs: number
  /** ATOL tokens live 24 h (docs/fiscal.md §4.1), ms. */
  tokenLifetimeMs?: number
  /** Refresh this long before expiry, so no call goes out with a token about to lapse, ms. */
  tokenRefreshMarginMs?: number
  duplicateErrorCodes?: readonly number[]
  retryableDriverCodes?: readonly number[]
}

export interface AtolClient {
  getToken(): Promise<AtolTokenResult>
  sell(body: AtolSellRequest): Promise<AtolSellResult>
  sellRefund(body: AtolSellRequest): Promise<AtolSellResult>
  /** A correction receipt (form 31): `POST {group}/sell_correction`. */
  sellCorrection(body: AtolCorrectionRequest): Promise<AtolSellResult>
  report(uuid: string): Promise<AtolReportResult>
}

type Answer = { kind: 'answer'; status: number; json: unknown }

const HOUR = 3_600_000

function toError(e: AtolProviderError): AtolError {
  return { code: e.code, text: e.text, type: e.type, ...(e.error_id ? { errorId: e.error_id } : {}) }
}
const localError = (type: string, text: string): AtolError => ({ code: null, text, type })

function describeThrown(err: unknown): string {
  const cause = (err as { cause?: { code?: unknown; message?: unknown } } | null)?.cause
  if (cause && typeof cause.code === 'string') return cause.code
  return err instanceof Error ? err.message : String(err)
}

export function createAtolClient(options: AtolClientOptions): AtolClient {
  const doFetch = options.fetch ?? fetch
  const now = options.now ?? (() => new Date())
  const base = options.baseUrl.endsWith('/') ? options.baseUrl : `${options.baseUrl}/`
  const group = encodeURIComponent(options.group)
  const lifetime = options.tokenLifetimeMs ?? 24 * HOUR
  const margin = options.tokenRefreshMarginMs ?? HOUR
  const duplicateCodes = options.duplicateErrorCodes ?? DEFAULT_DUPLICATE_ERROR_CODES
  const { login, password } = options

  let cached: { token: string; expiresAt: number } | null = null
  // One getToken in flight at a time: concurrent sells share it instead of each logging in.
  let inflight: Promise<AtolTokenResult> | null = null

  async function send(method: 'GET' | 'POST', path: string, body?: unknown, token?: string): Promise<Answer | AtolFailure> {
    const headers: Record<string, string> = { accept: 'application/json' }
    if (body !== undefined) headers['content-type'] = 'application/json; charset=utf-8'
    if (token !== undefined) headers.token = token
    try {
      const res = await doFetch(new URL(path, base), {
        method, headers, signal: AbortSignal.timeout(options.timeoutMs),
        ...(body !== undefined && { body: JSON.stringify(body) }),
      })
      const text = await res.text()
      let json: unknown
      try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
      return { kind: 'answer', status: res.status, json }
    } catch (err) {
      // Only our AbortSignal.timeout aborts, so AbortError is a timeout too (DOMException, not always an Error).
      const name = (err as { name?: unknown } | null)?.name
      if (name === 'TimeoutError' || name === 'AbortError') return { kind: 'timeout' }
      return { kind: 'error', retryable: true, status: null, error: localError('network', describeThrown(err)) }
    }
  }

  /** A non-success answer: the provider's error body if any, classified by HTTP status. */
  function failed(answer: Answer, what: string): AtolFailure {
    const parsed = AtolErrorResponseSchema.safeParse(answer.json)
    const error = parsed.success ? toError(parsed.data.error) : localError('protocol', `${what}: HTTP ${answer.status} without an error body`)
    const retryable = answer.status < 300 || isRetryableStatus(answer.status)
    return { kind: 'error', retryable, status: answer.status, error }
  }

  async function fetchToken(): Promise<AtolTokenResult> {
    const requestedAt = now().getTime() // the token's 24 h count from before the request: conservative
    const answer = await send('POST', 'getToken', { login, pass: password })
    if (answer.kind !== 'answer') return answer
    const parsed = AtolGetTokenResponseSchema.safeParse(answer.json)
    if (answer.status === 200 && parsed.success && parsed.data.token && !parsed.data.error) {
      cached = { token: parsed.data.token, expiresAt: requestedAt + lifetime }
      return { kind: 'token', token: cached.token, expiresAt: new Date(cached.expiresAt) }
    }
    const result = failed(answer, 'getToken')
    // Wrong credentials will not fix themselves: only 5xx/429 are worth another getToken.
    return result.kind === 'error' && (answer.status === 401 || answer.status === 403) ? { ...result, retryable: false } : result
  }

  async function getToken(): Promise<AtolTokenResult> {
    if (cached && now().getTime() < cached.expiresAt - margin) {
      return { kind: 'token', token: cached.token, expiresAt: new Date(cached.expiresAt) }
    }
    inflight ??= fetchToken().finally(() => { inflight = null })
    return inflight
  }

  /** Sends with the cached token; on 401 fetches a fresh token and tries exactly once more. */
  async function authorized(method: 'GET' | 'POST', path: string, body?: unknown): Promise<Answer | AtolFailure> {
    for (let attempt = 1; ; attempt++) {
      const token = await getToken()
      if (token.kind !== 'token') return token
      const answer = await send(method, path, body, token.token)
      if (answer.kind !== 'answer' || answer.status !== 401 || attempt === 2) return answer
      // Drop only the token that failed: a concurrent call may already hold a newer one.
      if (cached?.token === token.token) cached = null
    }
  }

  async function register(operation: AtolOperation | 'sell_correction', body: unknown, schema: z.ZodType = AtolSellRequestSchema): Promise<AtolSellResult> {
    const valid = schema.safeParse(body)
    if (!valid.success) {
      const text = valid.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')
      return { kind: 'error', retryable: false, status: null, error: localError('invalid_request', text) }
    }
    const answer = await authorized('POST', `${group}/${operation}`, valid.data)
    if (answer.kind !== 'answer') return answer
    const parsed = AtolRegisterResponseSchema.safeParse(answer.json)
    const error = parsed.success && parsed.data.error ? toError(parsed.data.error) : null
    // A duplicate may come as 200 or 4xx depending on provider and version: the code decides.
    if (error?.code != null && duplicateCodes.includes(error.code)) {
      const uuid = parsed.success ? parsed.data.uuid : null
      return uuid ? { kind: 'duplicate', uuid } : { kind: 'duplicate' }
    }
    if (answer.status === 200 && parsed.success && !error && parsed.data.uuid) return { kind: 'accepted', uuid: parsed.data.uuid }
    if (answer.status === 200 && error) {
      return { kind: 'error', retryable: isRetryableFail(error, options.retryableDriverCodes), status: 200, error }
    }
    return failed(answer, operation)
  }

  async function report(uuid: string): Promise<AtolReportResult> {
    const answer = await authorized('GET', `${group}/report/${encodeURIComponent(uuid)}`)
    if (answer.kind !== 'answer') return answer
    const parsed = AtolReportResponseSchema.safeParse(answer.json)
    if (parsed.success) {
      const { status, payload, error } = parsed.data
      if (status === 'wait') return { kind: 'wait' }
      if (status === 'done' && payload) return { kind: 'done', payload }
      if (status === 'fail' && error) {
        const e = toError(error)
        return { kind: 'fail', error: e, retryable: isRetryableFail(e, options.retryableDriverCodes) }
      }
    }
    const result = failed(answer, 'report')
    if (result.kind === 'error' && result.error.code !== null && REPORT_NOT_READY_CODES.includes(result.error.code)) {
      return { ...result, retryable: true }
    }
    return result
  }

  return {
    getToken,
    sell: (body) => register('sell', body),
    sellRefund: (body) => register('sell_refund', body),
    sellCorrection: (body) => register('sell_correction', body, AtolCorrectionRequestSchema),
    report,
  }
}
