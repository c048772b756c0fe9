import { describe, expect, it } from 'vitest'
import type { AtolReportResult } from '../../gateway/atol/atol.client.js'
import { callbackDisagreement } from '../../gateway/atol/callback-check.js'

const payload = {
  total: 120, fn_number: '9999078900005678', shift_number: 3, receipt_datetime: '01.12.2026 12:00:05', fiscal_receipt_number: 7,
  fiscal_document_number: 42, ecr_registration_number: '0000000001012345', fiscal_document_attribute: 3449555941,
}
const done = (p: Partial<typeof payload> = {}): AtolReportResult => ({ kind: 'done', payload: { ...payload, ...p } })
const fail = (code: number): AtolReportResult => ({ kind: 'fail', error: { code, text: 'x', type: 'system' }, retryable: true })
const wait: AtolReportResult = { kind: 'wait' }

describe('a callback compared with the provider\'s report', () => {
  it('agrees when the provider reports the same document, or the callback claims nothing', () => {
    expect(callbackDisagreement(done(), done())).toBeNull()
    expect(callbackDisagreement(done({ fiscal_document_attribute: '3449555941' as never }), done())).toBeNull() // fp as a string
    expect(callbackDisagreement(fail(1), fail(1))).toBeNull()
    expect(callbackDisagreement(wait, done())).toBeNull() // stale, not forged
  })

  it.each([
    ['a "done" the provider has not signed', done(), wait, 'the callback says done, the provider wait'],
    ['a fake fiscal sign', done({ fiscal_document_attribute: 1 }), done(), 'fiscal_document_attribute differs from the provider\'s'],
    ['a changed total', done({ total: 1 }), done(), 'total differs from the provider\'s'],
    ['another FN', done({ fn_number: '9999078900009999' }), done(), 'fn_number differs from the provider\'s'],
    ['a "fail" of a document still waiting', fail(1), wait, 'the callback says fail, the provider wait'],
    ['a "fail" of a signed document', fail(1), done(), 'the callback says fail, the provider done'],
    ['another error', fail(1), fail(2), 'the error differs from the provider\'s'],
  ])('names %s', (_name, claimed, provider, reason) => {
    expect(callbackDisagreement(claimed, provider)).toBe(reason)
  })
})
