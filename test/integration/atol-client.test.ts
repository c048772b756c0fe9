import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import { createAtolClient, type AtolClientOptions, type AtolReportResult } from '../../gateway/atol/atol.client.js'
import type { AtolSellRequest } from '../../gateway/atol/atol.types.js'
import { atolExternalId, buildReceiptRequest } from '../../gateway/atol/receipt-request.js'
import { receiptFromReport } from '../../gateway/atol/receipt-result.js'
import type { SaleItem } from '../../protocol/index.js'
import { CODES, createAtolServer, type AtolServer } from '../support/atol-server.js'

const T0 = Date.parse('2026-11-28T12:21:05Z')
const WAIT_MS = 5_000
const kassa = { inn: '7707083893', sno: 'usn_income' as const, timeZone: 'Asia/Yekaterinburg' }
const machine = { number: 'VM-001', address: 'г. Екатеринбург, ул. Ленина, 1', place: 'Холл, 1 этаж' }
const items: SaleItem[] = [
  { sku: 'A12', name: 'Вода 0,5 л', price: 12_000, qty: 1, vat: 'vat22' },
  { sku: 'B07', name: 'Батончик', price: 8_950, qty: 3, vat: 'vat22_122' },
]
const TOTAL = 38_850

let server: AtolServer
let clock: number

beforeEach(async () => {
  clock = T0
  // One clock for the double and the client: "wait" then "done" and token age advance without sleeping.
  server = await createAtolServer({ waitMs: WAIT_MS, now: () => new Date(clock), timeZone: kassa.timeZone, inn: kassa.inn })
})
afterEach(() => server.stop())

function client(over: Partial<AtolClientOptions> = {}) {
  return createAtolClient({
    baseUrl: server.url, login: server.login, password: server.password, group: server.group,
    now: () => new Date(clock), timeoutMs: 2_000, ...over,
  })
}

function request(saleId: string, attempt = 1): AtolSellRequest {
  const result = buildReceiptRequest(
    { kassa, machine, items, paymentMethod: 'card', total: TOTAL, externalId: atolExternalId('VM-001', saleId, attempt), now: new Date(clock) },
    { client: { email: 'receipts@vending.example' } },
  )
  if (!result.ok) throw new Error(result.reason)
  return result.request
}

async function accepted(promise: Promise<unknown>): Promise<string> {
  const result = await promise
  expect(result).toEqual({ kind: 'accepted', uuid: expect.any(String) })
  return (result as { uuid: string }).uuid
}

async function doneAfterWait(c: ReturnType<typeof client>, uuid: string): Promise<Extract<AtolReportResult, { kind: 'done' }>> {
  clock += WAIT_MS
  const report = await c.report(uuid)
  expect(report.kind).toBe('done')
  return report as Extract<AtolReportResult, { kind: 'done' }>
}

/** Waits for a condition with a deadline (no fixed sleeps). */
async function until(condition: () => boolean, deadlineMs = 5_000): Promise<void> {
  const deadline = Date.now() + deadlineMs
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met before the deadline')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
}

const signedFor = (externalId: string) => server.documents.filter((d) => d.externalId === externalId && d.status === 'done')

describe('ATOL v5 client against the test double', () => {
  it('sells, reports wait, then done, and the payload maps to fn/fd/fp and the FNS QR', async () => {
    const c = client()
    const uuid = await accepted(c.sell(request('s1')))
    expect(await c.report(uuid)).toEqual({ kind: 'wait' })

    const { payload } = await doneAfterWait(c, uuid)
    const result = receiptFromReport(payload, { operation: 'sell', timeZone: kassa.timeZone, expectedTotal: TOTAL })
    const doc = server.documents[0]!
    // fd 1 is the shift-open report; the receipt is fd 2. 12:21:10Z is 17:21:10 in Yekaterinburg.
    expect(result).toEqual({
      ok: true,
      receipt: {
        fn: server.fnNumber, fd: 2, fp: doc.fp, shift: 1, receiptInShift: 1, signedAt: new Date(T0 + WAIT_MS),
        total: TOTAL, regNumber: '0000000001012345',
        qr: `t=20261128T1721&s=388.50&fn=${server.fnNumber}&i=2&fp=${doc.fp}&n=1`,
      },
    })
    expect(doc.request.receipt.device_number).toBe('VM-001')

    // The refund of that sale is a sell_refund: the next number, n=2.
    const refundUuid = await accepted(c.sellRefund(request('r1')))
    const refund = receiptFromReport((await doneAfterWait(c, refundUuid)).payload, { operation: 'sell_refund', timeZone: kassa.timeZone })
    expect(refund.ok && [refund.receipt.fd, refund.receipt.receiptInShift, refund.receipt.qr.slice(-4)]).toEqual([3, 2, '&n=2'])
    expect(server.fnDocuments.map((d) => [d.fd, d.kind])).toEqual([[1, 'shift_open'], [2, 'receipt'], [3, 'receipt']])
  })

  it('gets a fresh token when the provider expires it mid-run, without a duplicate document', async () => {
    const c = client()
    await accepted(c.sell(request('a')))
    server.expireTokens()
    await accepted(c.sell(request('b')))
    expect(server.counters).toMatchObject({ tokensIssued: 2, unauthorized: 1, sellsAccepted: 2, duplicates: 0 })
    expect(server.documents.map((d) => d.externalId)).toEqual(['VM-001/a/1', 'VM-001/b/1'])
  })

  it('refreshes the token before its 24 h run out, not after a refusal', async () => {
    const c = client()
    await accepted(c.sell(request('a')))
    clock += 23.5 * 3_600_000
    await accepted(c.sell(request('b')))
    expect(server.counters).toMatchObject({ tokensIssued: 2, unauthorized: 0 })
  })

  it('shares one getToken between concurrent calls', async () => {
    const c = client()
    await Promise.all(['a', 'b', 'c', 'd'].map((s) => accepted(c.sell(request(s)))))
    expect(server.counters.tokensIssued).toBe(1)
  })

  it('gives up after one refresh when the fresh token is refused too (not retryable)', async () => {
    const c = client({
      fetch: async (input, init) => {
        const res = await fetch(input, init)
        if (String(input).endsWith('/getToken')) server.expireTokens() // every token dies at birth
        return res
      },
    })
    const result = await c.sell(request('a'))
    expect(result).toEqual({ kind: 'error', retryable: false, status: 401, error: expect.objectContaining({ code: CODES.badToken }) })
    expect(server.counters.tokensIssued).toBe(2)
    expect(server.documents).toHaveLength(0)
  })

  it('reports wrong credentials as not retryable, without the password in the result', async () => {
    const result = await client({ password: 'not-the-password-xyz' }).sell(request('a'))
    expect(result).toEqual({ kind: 'error', retryable: false, status: 401, error: expect.objectContaining({ code: CODES.badCredentials }) })
    expect(JSON.stringify(result)).not.toContain('not-the-password-xyz')
  })

  it('reports a 5xx burst as retryable; a retry with the same external_id gives one document', async () => {
    const c = client()
    await c.getToken()
    server.fail5xx(2)
    const body = request('burst')
    expect(await c.sell(body)).toMatchObject({ kind: 'error', retryable: true, status: 500 })
    expect(await c.sell(body)).toMatchObject({ kind: 'error', retryable: true, status: 503 })
    const uuid = await accepted(c.sell(body))
    await doneAfterWait(c, uuid)
    expect(signedFor(body.external_id)).toHaveLength(1)
    expect(server.documents).toHaveLength(1)
  })

  it.each([
    ['never answers', 'hang' as const],
    ['answers after the client gave up', { delayMs: 1_000 }],
  ])('after a timeout (the double %s) a resend of the same external_id gets the same uuid: one document', async (_name, mode) => {
    const c = client({ timeoutMs: 200 })
    await c.getToken()
    server.timeoutNext(1, mode)
    const body = request('slow')
    expect(await c.sell(body)).toEqual({ kind: 'timeout' })
    await until(() => server.counters.injectedTimeouts === 1)

    const again = await c.sell(body)
    const original = server.documents[0]!
    expect(again).toEqual({ kind: 'duplicate', uuid: original.uuid })
    const { payload } = await doneAfterWait(c, original.uuid)
    expect(payload.fiscal_document_number).toBe(2)
    expect(server.documents).toHaveLength(1)
    expect(signedFor(body.external_id)).toHaveLength(1)
    expect(server.counters).toMatchObject({ duplicates: 1, duplicateBodyMismatches: 0 })
  })

  it('understands the other duplicate answers: without a uuid, and as a plain acceptance', async () => {
    const c = client()
    const body = request('dup')
    const uuid = await accepted(c.sell(body))
    server.duplicateExternalId = 'conflict-without-uuid'
    expect(await c.sell(body)).toEqual({ kind: 'duplicate' })
    server.duplicateExternalId = 'accept-existing'
    expect(await c.sell(body)).toEqual({ kind: 'accepted', uuid })
    expect(server.documents).toHaveLength(1)
  })

  it('classifies fail by error type; a retryable fail is retried under a new external_id', async () => {
    const c = client()
    server.failNext({ type: 'timeout', code: 1, text: 'Превышено время ожидания ответа от ККТ' })
    const first = request('f', 1)
    expect(await c.report(await accepted(c.sell(first)))).toEqual({ kind: 'wait' })
    clock += WAIT_MS
    expect(await c.report(server.documents[0]!.uuid)).toEqual({
      kind: 'fail', retryable: true,
      error: { code: 1, text: 'Превышено время ожидания ответа от ККТ', type: 'timeout', errorId: expect.any(String) },
    })
    // The failed id is spent forever: a resend is a duplicate, so the retry takes attempt 2.
    expect((await c.sell(first)).kind).toBe('duplicate')
    const { payload } = await doneAfterWait(c, await accepted(c.sell(request('f', 2))))
    expect(payload.fiscal_document_number).toBe(2) // the failed document took no number

    server.failNext({ type: 'system', code: 2, text: 'Внутренняя ошибка' })
    const system = await accepted(c.sell(request('g')))
    clock += WAIT_MS
    expect(await c.report(system)).toMatchObject({ kind: 'fail', retryable: true })

    server.failNext({ type: 'driver', code: 7, text: 'ИНН не совпадает с ИНН в ФН' })
    const driver = await accepted(c.sell(request('h')))
    clock += WAIT_MS
    expect(await c.report(driver)).toMatchObject({ kind: 'fail', retryable: false, error: { type: 'driver', code: 7 } })
  })

  it('reports a body the provider rejects as not retryable, and never sends one our schema rejects', async () => {
    const c = client()
    const wrongInn = { ...request('v'), receipt: { ...request('v').receipt, company: { ...request('v').receipt.company, inn: '500100732259' } } }
    expect(await c.sell(wrongInn)).toMatchObject({ kind: 'error', retryable: false, status: 400, error: { code: CODES.invalid } })

    const before = server.counters.rejected
    const invalid = await c.sell({ ...request('w'), external_id: '' })
    expect(invalid).toMatchObject({ kind: 'error', retryable: false, status: null, error: { type: 'invalid_request' } })
    expect(server.counters.rejected).toBe(before)
  })

  it('treats a report for a uuid not known yet as retryable', async () => {
    expect(await client().report('00000000-0000-4000-8000-000000000000')).toMatchObject({
      kind: 'error', retryable: true, status: 404, error: { code: CODES.notFound },
    })
  })

  it('reports an unreachable provider as a retryable network error', async () => {
    const gone = await createAtolServer()
    await gone.stop()
    const result = await client({ baseUrl: gone.url }).sell(request('n'))
    expect(result).toMatchObject({ kind: 'error', retryable: true, status: null, error: { type: 'network' } })
  })
})
