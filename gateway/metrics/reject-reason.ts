// Rejection reasons are free text (they name fields and values); metric labels must come from a
// small fixed set, or every distinct message would become a time series of its own.

const INGEST_CLASSES: [RegExp, string][] = [
  [/^payload too large/, 'too_large'],
  [/^payload is not valid UTF-8/, 'encoding'],
  [/^payload is not JSON/, 'json'],
  [/^duplicate key/, 'duplicate_key'],
  [/^unknown machine/, 'unknown_machine'],
  [/^topic does not name a machine/, 'topic'],
  [/payment\.amount .* does not equal/, 'amount_mismatch'],
  [/forbidden character|lone surrogate/, 'text'],
  [/^at: .* the gateway's clock$/, 'time'],
  [/^could not be stored: /, 'database'],
]

/** A sale refused at ingest: one of a few classes, `schema` for any other validation failure. */
export function ingestRejectClass(reason: string): string {
  return INGEST_CLASSES.find(([re]) => re.test(reason))?.[1] ?? 'schema'
}

/** A sale the fiscalizer refused: a refund it cannot match, or one no FN could sign as given. */
export function fiscalRejectClass(reason: string): string {
  return /^sale .* (is unknown|belongs to another machine|is itself a refund|has no receipt to refund|is already refunded)$/.test(reason)
    ? 'refund'
    : 'unsignable'
}
