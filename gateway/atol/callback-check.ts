// A provider's callback is a hint, never the truth: anyone who learns a uuid can POST a report for
// it. The gateway asks the provider for the report itself (an authenticated GET) and acts on that;
// this compares what the callback claimed with what the provider says.
import type { AtolReportResult } from './atol.client.js'

/** Fields of a signed receipt a forgery would change (fiscal data shown to the customer, the amount). */
const SIGNED_FIELDS = ['fn_number', 'fiscal_document_number', 'fiscal_document_attribute', 'total', 'receipt_datetime', 'shift_number', 'fiscal_receipt_number'] as const

/**
 * Why the callback's claim is not what the provider reports, or null when it agrees or claims
 * nothing (`wait`). Only a finished report (done or fail) is a claim: a callback saying `wait` of a
 * document already signed is stale, not forged.
 */
export function callbackDisagreement(claimed: AtolReportResult, provider: AtolReportResult): string | null {
  if (claimed.kind !== 'done' && claimed.kind !== 'fail') return null
  if (provider.kind !== claimed.kind) return `the callback says ${claimed.kind}, the provider ${provider.kind}`
  if (claimed.kind === 'done' && provider.kind === 'done') {
    for (const field of SIGNED_FIELDS) {
      if (String(claimed.payload[field]) !== String(provider.payload[field])) return `${field} differs from the provider's`
    }
  }
  if (claimed.kind === 'fail' && provider.kind === 'fail' && (claimed.error.code !== provider.error.code || claimed.error.type !== provider.error.type)) {
    return 'the error differs from the provider\'s'
  }
  return null
}

/** What a callback led to: counted by outcome (gateway_atol_callbacks_total). */
export type CallbackOutcome =
  /** No open attempt of that kassa has this uuid: nothing done (404). */
  | 'unknown'
  /** The provider's report agrees with the callback (or the callback claimed nothing). */
  | 'confirmed'
  /** The callback claimed something the provider does not report: logged, nothing taken from it. */
  | 'forged'
  /** The provider could not be asked now: nothing done, the poller asks again. */
  | 'unverified'
