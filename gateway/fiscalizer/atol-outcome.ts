// What an ATOL answer means for the sale and its attempt. Pure: the poller calls the provider,
// these functions decide, atol.repository.ts writes. The rules behind each branch are in
// gateway/atol/retry-policy.ts; the states are pending → submitted → done | failed (README.md#how-a-sale-becomes-a-receipt-and-why-none-is-lost-or-doubled).
import type { DisplayMessage } from '../../protocol/index.js'
import type { AtolError, AtolReportResult, AtolSellResult } from '../atol/atol.client.js'
import { formatAtolDateTime } from '../atol/atol-time.js'
import type { AtolOperation, AtolReportPayload, AtolSellRequest } from '../atol/atol.types.js'
import { rublesToKopecks } from '../atol/amounts.js'
import { atolExternalId } from '../atol/receipt-request.js'
import { receiptFromReport, type AtolReceiptFields } from '../atol/receipt-result.js'
import type { AtolAttemptStatus } from '../db/schema.js'
import { providerReceiptDisplay } from './provider-receipt-display.js'

/** A submitted sale and its open attempt, as the poller claimed it. */
export interface OpenAttempt {
  saleRowId: number
  machineId: string
  saleId: string
  attemptId: number
  kassaId: string
  attempt: number
  externalId: string
  operation: AtolOperation
  request: AtolSellRequest
  uuid: string | null
  status: 'sending' | 'wait'
  polls: number
  errors: number
  timeZone: string
}

export interface OutcomeContext {
  now: Date
  /** The poller's base interval, ms. */
  pollMs: number
  publicUrl: string
  /** Attempts (external_ids) one sale may spend on retryable `fail`s. */
  maxAttempts: number
}

export interface Step {
  attempt: {
    id: number; status: AtolAttemptStatus; uuid: string | null; sent: boolean; polled: boolean
    /** reset: a good answer; count: one more transient error (the backoff exponent). */
    errors: 'reset' | 'count'; error: string | null; report: unknown
  }
  sale: {
    id: number; state: 'submitted' | 'done' | 'failed'
    /** When the poller looks again (submitted only), ms from now. */
    delayMs: number | null; lastError: string | null; attempt: number; fn: string | null; fd: number | null
  }
  receipt?: { fields: AtolReceiptFields; receiptDatetime: string; payload: AtolReportPayload }
  nextAttempt?: { attempt: number; externalId: string; request: AtolSellRequest }
  display?: DisplayMessage
}

const SECOND = 1000
/** Report polls back off ×1.5 up to this (ATOL signs in 4–6 s, docs/fiscal.md §4.1), ms. */
const MAX_POLL_DELAY = 30 * SECOND
/** Transient errors back off ×2 up to this; config problems (credentials, URL) up to SLOW, ms. */
const MAX_RETRY_DELAY = 60 * SECOND
const MAX_SLOW_DELAY = 5 * 60 * SECOND

export const pollDelay = (polls: number, base: number): number => Math.min(base * 1.5 ** Math.min(polls, 12), MAX_POLL_DELAY)
export const retryDelay = (errors: number, base: number, slow = false): number =>
  Math.min(base * 2 ** Math.min(errors, 16), slow ? MAX_SLOW_DELAY : MAX_RETRY_DELAY)

/** `driver 7: ИНН не совпадает…`: the provider's own text first-class, for operators and the display. */
export function describeAtolError(e: AtolError): string {
  return `${e.type || 'error'}${e.code === null ? '' : ` ${e.code}`}: ${e.text || 'no text'}`
}

function keep(row: OpenAttempt, ctx: OutcomeContext, patch: { uuid?: string; sent?: boolean; polled?: boolean; error: string | null; slow?: boolean }): Step {
  const transient = patch.error !== null
  const uuid = patch.uuid ?? row.uuid
  return {
    attempt: {
      id: row.attemptId, status: uuid === null ? 'sending' : 'wait', uuid, sent: patch.sent ?? false, polled: patch.polled ?? false,
      errors: transient ? 'count' : 'reset', error: patch.error, report: null,
    },
    sale: {
      id: row.saleRowId, state: 'submitted', lastError: patch.error, attempt: row.attempt, fn: null, fd: null,
      delayMs: transient ? retryDelay(row.errors, ctx.pollMs, patch.slow) : patch.polled ? pollDelay(row.polls, ctx.pollMs) : ctx.pollMs,
    },
  }
}

/**
 * Nothing was asked of the provider: the kassa cannot be reached as configured (slow: an operator
 * must fix it), or the provider is pushing back (429/5xx) and the kassa's lane waits out its backoff.
 */
export function notAsked(row: OpenAttempt, reason: string, ctx: OutcomeContext, slow: boolean): Step {
  return keep(row, ctx, { error: reason, slow })
}

/** The sale ends `failed`: its machine gets `rejected` with the provider's reason. */
function fail(row: OpenAttempt, status: AtolAttemptStatus, error: string, report: unknown, polled: boolean): Step {
  return {
    attempt: { id: row.attemptId, status, uuid: row.uuid, sent: !polled, polled, errors: 'reset', error, report },
    sale: { id: row.saleRowId, state: 'failed', delayMs: null, lastError: error, attempt: row.attempt, fn: null, fd: null },
    display: { v: 1, type: 'rejected', saleId: row.saleId, reason: error },
  }
}

/** After `POST sell|sell_refund` of an attempt in `sending`. */
export function afterSend(row: OpenAttempt, result: AtolSellResult, ctx: OutcomeContext): Step {
  switch (result.kind) {
    case 'accepted':
      return keep(row, ctx, { uuid: result.uuid, sent: true, error: null })
    case 'duplicate':
      // Our earlier send of this external_id got through: follow that document, never a new one.
      return result.uuid
        ? keep(row, ctx, { uuid: result.uuid, sent: true, error: null })
        : keep(row, ctx, { sent: true, error: 'the provider has this external_id but named no uuid; resending it', slow: true })
    case 'timeout':
      return keep(row, ctx, { sent: true, error: 'no answer in time; the same external_id is resent' })
    case 'error': {
      const text = `${result.status === null ? '' : `HTTP ${result.status} `}${describeAtolError(result.error)}`
      if (result.retryable) return keep(row, ctx, { sent: true, error: text })
      // Credentials or URL: the kassa's configuration is wrong, not the sale; nothing was registered.
      if (result.status === 401 || result.status === 403 || result.status === 404) return keep(row, ctx, { sent: true, error: text, slow: true })
      return fail(row, 'rejected', result.error.text || text, { error: result.error, status: result.status }, false)
    }
  }
}

/** After `GET report/{uuid}` (or a callback carrying the same report) of an attempt in `wait`. */
export function afterReport(row: OpenAttempt, result: AtolReportResult, ctx: OutcomeContext): Step {
  switch (result.kind) {
    case 'wait':
      return keep(row, ctx, { polled: true, error: null })
    case 'timeout':
      return keep(row, ctx, { polled: true, error: 'report: no answer in time' })
    case 'error':
      // Even a non-retryable answer must not end the sale: the document may be signed already.
      return keep(row, ctx, { polled: true, error: `report: HTTP ${result.status ?? '-'} ${describeAtolError(result.error)}`, slow: !result.retryable })
    case 'done':
      return done(row, result.payload, ctx)
    case 'fail': {
      const report = { status: 'fail', error: result.error }
      const error = describeAtolError(result.error)
      if (!result.retryable) return fail(row, 'fail', result.error.text || error, report, true)
      if (row.attempt >= ctx.maxAttempts) return fail(row, 'fail', `${error} (after ${row.attempt} attempts)`, report, true)
      // Nothing was signed and this external_id is spent forever: the next attempt takes a new one.
      const attempt = row.attempt + 1
      const externalId = atolExternalId(row.machineId, row.saleId, attempt)
      return {
        attempt: { id: row.attemptId, status: 'fail', uuid: row.uuid, sent: false, polled: true, errors: 'reset', error, report },
        sale: { id: row.saleRowId, state: 'submitted', delayMs: retryDelay(row.attempt - 1, ctx.pollMs), lastError: error, attempt, fn: null, fd: null },
        nextAttempt: { attempt, externalId, request: { ...row.request, external_id: externalId, timestamp: formatAtolDateTime(ctx.now, row.timeZone) } },
      }
    }
  }
}

function done(row: OpenAttempt, payload: AtolReportPayload, ctx: OutcomeContext): Step {
  const expectedTotal = rublesToKopecks(row.request.receipt.total) ?? undefined
  const parsed = receiptFromReport(payload, { operation: row.operation, timeZone: row.timeZone, ...(expectedTotal !== undefined && { expectedTotal }) })
  const report = { status: 'done', payload }
  // Signed, but not what we asked for or unreadable: a person must look (a correction receipt);
  // another attempt could sign the sale twice.
  if (!parsed.ok) return fail(row, 'done', `the provider's receipt cannot be accepted: ${parsed.reason}`, report, true)
  const r = parsed.receipt
  return {
    attempt: { id: row.attemptId, status: 'done', uuid: row.uuid, sent: false, polled: true, errors: 'reset', error: null, report },
    sale: { id: row.saleRowId, state: 'done', delayMs: null, lastError: null, attempt: row.attempt, fn: r.fn, fd: r.fd },
    receipt: { fields: r, receiptDatetime: payload.receipt_datetime, payload },
    display: providerReceiptDisplay(row.saleId, r, row.operation, row.timeZone, ctx.publicUrl),
  }
}
