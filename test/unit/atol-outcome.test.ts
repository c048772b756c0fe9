import { describe, expect, it } from 'vitest'
import { buildReceiptRequest } from '../../gateway/atol/receipt-request.js'
import type { AtolReportPayload } from '../../gateway/atol/atol.types.js'
import { afterReport, afterSend, pollDelay, retryDelay, type OpenAttempt, type OutcomeContext } from '../../gateway/fiscalizer/atol-outcome.js'
import { parseReceiptQr } from '../../protocol/qr.js'

const built = buildReceiptRequest({
  kassa: { inn: '7707083893', sno: 'usn_income', timeZone: 'Europe/Moscow' },
  machine: { number: 'VM-001', address: 'г. Москва, ул. Тверская, 1', place: 'Вестибюль' },
  items: [{ sku: 'A1', name: 'Вода', price: 12_000, qty: 1, vat: 'vat22' }], paymentMethod: 'card', total: 12_000,
  externalId: 'VM-001/s1/1', now: new Date('2026-11-28T12:00:00Z'),
}, { client: { email: 'r@vending.example' } })
if (!built.ok) throw new Error(built.reason)

const sending: OpenAttempt = {
  saleRowId: 7, machineId: 'VM-001', saleId: 's1', attemptId: 70, kassaId: 'KA', attempt: 1, externalId: 'VM-001/s1/1',
  operation: 'sell', request: built.request, uuid: null, status: 'sending', polls: 0, errors: 0, timeZone: 'Europe/Moscow',
}
const waiting: OpenAttempt = { ...sending, status: 'wait', uuid: 'u-1' }
const ctx: OutcomeContext = { now: new Date('2026-11-28T12:00:07Z'), pollMs: 1000, publicUrl: 'http://receipts.test', maxAttempts: 3 }
const payload: AtolReportPayload = {
  total: 120, fn_number: '9999078900005678', shift_number: 1, receipt_datetime: '28.11.2026 15:00:05', fiscal_receipt_number: 3,
  fiscal_document_number: 4, ecr_registration_number: '0000000001012345', fiscal_document_attribute: 3_449_555_941,
}
const providerError = (type: string, code: number, text: string) => ({ type, code, text })

describe('ATOL outcomes: what each answer does to the attempt and the sale', () => {
  it('follows an accepted or duplicate sell by its uuid and polls it after one base interval', () => {
    for (const result of [{ kind: 'accepted' as const, uuid: 'u-9' }, { kind: 'duplicate' as const, uuid: 'u-9' }]) {
      expect(afterSend(sending, result, ctx)).toEqual({
        attempt: { id: 70, status: 'wait', uuid: 'u-9', sent: true, polled: false, errors: 'reset', error: null, report: null },
        sale: { id: 7, state: 'submitted', delayMs: 1000, lastError: null, attempt: 1, fn: null, fd: null },
      })
    }
  })

  it('resends the same external_id after a timeout, 5xx or a duplicate without uuid, backing off ×2 up to a cap', () => {
    const timeout = afterSend({ ...sending, errors: 2 }, { kind: 'timeout' }, ctx)
    expect(timeout.attempt).toMatchObject({ status: 'sending', errors: 'count' })
    expect(timeout.sale).toMatchObject({ state: 'submitted', delayMs: 4000 })
    const busy = afterSend({ ...sending, errors: 30 }, { kind: 'error', retryable: true, status: 503, error: { code: 50, text: 'busy', type: 'system' } }, ctx)
    expect(busy.sale).toMatchObject({ state: 'submitted', delayMs: 60_000, lastError: 'HTTP 503 system 50: busy' })
    expect(afterSend(sending, { kind: 'duplicate' }, ctx).attempt).toMatchObject({ status: 'sending', uuid: null })
  })

  it('keeps a sale waiting, slowly, while the kassa\'s credentials are refused: the configuration is wrong, not the sale', () => {
    const step = afterSend({ ...sending, errors: 30 }, { kind: 'error', retryable: false, status: 401, error: { code: 12, text: 'Неверный логин', type: 'system' } }, ctx)
    expect(step.sale).toMatchObject({ state: 'submitted', delayMs: 300_000 })
    expect(step.display).toBeUndefined()
  })

  it('fails a sale the provider refuses to register, with its text on the machine', () => {
    const step = afterSend(sending, { kind: 'error', retryable: false, status: 400, error: { code: 32, text: 'Ошибка валидации', type: 'system' } }, ctx)
    expect(step.attempt.status).toBe('rejected')
    expect(step.sale).toMatchObject({ state: 'failed', lastError: 'Ошибка валидации' })
    expect(step.display).toEqual({ v: 1, type: 'rejected', saleId: 's1', reason: 'Ошибка валидации' })
  })

  it('polls a waiting document ×1.5 up to 30 s, and never ends it on a report error (it may be signed)', () => {
    expect(afterReport({ ...waiting, polls: 2 }, { kind: 'wait' }, ctx).sale).toMatchObject({ state: 'submitted', delayMs: 2250 })
    expect([pollDelay(0, 1000), pollDelay(40, 1000), retryDelay(0, 50), retryDelay(99, 50)]).toEqual([1000, 30_000, 50, 60_000])
    const gone = afterReport(waiting, { kind: 'error', retryable: false, status: 400, error: { code: 31, text: 'group', type: 'system' } }, ctx)
    expect(gone.sale.state).toBe('submitted')
  })

  it('turns done into the receipt, its QR from the provider\'s numbers, and the display', () => {
    const step = afterReport(waiting, { kind: 'done', payload }, ctx)
    expect(step.sale).toEqual({ id: 7, state: 'done', delayMs: null, lastError: null, attempt: 1, fn: '9999078900005678', fd: 4 })
    expect(step.receipt?.fields).toMatchObject({ fn: '9999078900005678', fd: 4, fp: '3449555941', total: 12_000 })
    expect(step.display).toMatchObject({ type: 'receipt', saleId: 's1', url: 'http://receipts.test/r/9999078900005678/4?fp=3449555941' })
    const qr = parseReceiptQr((step.display as { qr: string }).qr)
    expect(qr).toEqual({ t: '20261128T1500', s: 12_000, fn: '9999078900005678', i: 4, fp: '3449555941', n: 1 })
  })

  it('refuses a done whose total is not the sale\'s, without a second attempt (that could sign twice)', () => {
    const step = afterReport(waiting, { kind: 'done', payload: { ...payload, total: 121 } }, ctx)
    expect(step.attempt.status).toBe('done')
    expect(step.sale.state).toBe('failed')
    expect(step.nextAttempt).toBeUndefined()
  })

  it('retries a retryable fail under the next external_id with a fresh timestamp, up to maxAttempts', () => {
    const step = afterReport(waiting, { kind: 'fail', retryable: true, error: providerError('timeout', 1, 'Превышено время') }, ctx)
    expect(step.attempt).toMatchObject({ status: 'fail', error: 'timeout 1: Превышено время' })
    expect(step.sale).toMatchObject({ state: 'submitted', attempt: 2 })
    expect(step.nextAttempt).toEqual({
      attempt: 2, externalId: 'VM-001/s1/2',
      request: { ...built.request, external_id: 'VM-001/s1/2', timestamp: '28.11.2026 15:00:07' },
    })
    const last = afterReport({ ...waiting, attempt: 3 }, { kind: 'fail', retryable: true, error: providerError('system', 2, 'Сбой') }, ctx)
    expect(last.sale).toMatchObject({ state: 'failed', lastError: 'system 2: Сбой (after 3 attempts)' })
  })

  it('fails a sale on a non-retryable fail with the provider\'s own text', () => {
    const step = afterReport(waiting, { kind: 'fail', retryable: false, error: providerError('driver', 7, 'ИНН не совпадает') }, ctx)
    expect(step.sale).toMatchObject({ state: 'failed', lastError: 'ИНН не совпадает' })
    expect(step.display).toEqual({ v: 1, type: 'rejected', saleId: 's1', reason: 'ИНН не совпадает' })
  })
})
