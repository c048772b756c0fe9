// Which ATOL outcomes are worth trying again, and with which external_id.
// external_id is unique forever per group, even for failed documents (docs/fiscal.md §4.1), so there are
// two kinds of "again":
//   same id  — the document may or may not be registered; resending is idempotent (a duplicate answer
//              gives the existing uuid), so it can never produce a second receipt;
//   new id   — ATOL finished the document as `fail` (nothing was signed); only a new id is accepted.
//
// | outcome                                          | retryable | again with | why
// |--------------------------------------------------|-----------|------------|---------------------------------------------
// | request timeout (AbortSignal), no answer         | yes       | same id    | it may have been registered; a resend answers duplicate + uuid
// | network error (refused, reset, DNS)              | yes       | same id    | transient; idempotent resend
// | HTTP 5xx                                         | yes       | same id    | provider-side fault; registered or not, the resend is safe
// | HTTP 429 Too Many Requests, 408                  | yes       | same id    | back-pressure; back off and resend
// | 2xx body we cannot read                          | yes       | same id    | protocol glitch; the resend or a report tells the truth
// | error code in duplicateErrorCodes (default 33)   | —         | —          | not an error: the document exists; poll its uuid
// | report: error code 34 "state not found yet"      | yes       | poll again | ATOL answers it right after registration
// | HTTP 401 after one token refresh; getToken 401   | no        | —          | login, password or group is wrong: an operator must fix config
// | other HTTP 4xx (400 validation, 403, 404)        | no        | —          | the same body fails the same way
// | our own body fails AtolSellRequestSchema         | no        | —          | a bug on our side; never send it
// | report `fail`, error.type `timeout`              | yes       | NEW id     | ATOL gave up waiting for the kassa (300 s); nothing was signed
// | report `fail`, error.type `system`               | yes       | NEW id     | provider-internal fault; nothing was signed
// | report `fail`, error.type `driver`               | no        | —          | the kassa/FN rejected the data (INN, sums, FN state): same data, same answer
// |   … unless its code is in retryableDriverCodes   | yes       | NEW id     | operator-declared transient kassa states (empty by default)
// | report `fail`, any other or unknown type         | no        | —          | unknown: a person looks before more documents are spent
//
// ATOL's numeric error codes are not public in full (docs/fiscal.md §6 q.4); 33/34 follow the v4 numbering
// and are options, not constants baked into the logic.

/** v4/v5 code for "a receipt with this external_id and group_code already exists". */
export const DEFAULT_DUPLICATE_ERROR_CODES: readonly number[] = [33]
/** v4/v5 code for "receipt state not found, try later" on a report. */
export const REPORT_NOT_READY_CODES: readonly number[] = [34]

/** HTTP status of an error answer (after the one token refresh) → retryable with the same id? */
export function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 429 || status === 408
}

/** A report `fail` → may the sale be sent again under a NEW external_id? */
export function isRetryableFail(
  error: { type: string; code: number | null },
  retryableDriverCodes: readonly number[] = [],
): boolean {
  if (error.type === 'timeout' || error.type === 'system') return true
  if (error.type === 'driver') return error.code !== null && retryableDriverCodes.includes(error.code)
  return false
}
