// Catalogue of unexpected failures (stable codes) and of database errors worth retrying.

export const ERROR_CODES = {
  GW_ERR_MIGRATION: 'a database migration failed',
  GW_ERR_DB_UNAVAILABLE: 'the database cannot be reached',
  GW_ERR_INGEST_FLUSH: 'a batch of sales could not be written',
  GW_ERR_FISCALIZE: 'a fiscalization batch failed',
  GW_ERR_DISPLAY_PUBLISH: 'a display message could not be published',
  GW_ERR_PGLITE_STREAM: 'streaming queries are not supported on embedded PGlite',
} as const
export type ErrorCode = keyof typeof ERROR_CODES

export class GatewayError extends Error {
  constructor(readonly code: ErrorCode, message: string, options?: { cause?: unknown }) {
    super(`${code}: ${message}`, options)
    this.name = 'GatewayError'
  }
}

// SQLSTATEs after which the same work may simply be tried again (graphile-worker keeps a similar table).
const RETRYABLE_SQLSTATES: Record<string, string> = {
  '40001': 'serialization_failure',
  '40P01': 'deadlock_detected',
  '55P03': 'lock_not_available',
  '57P01': 'admin_shutdown',
  '57P02': 'crash_shutdown',
  '57P03': 'cannot_connect_now',
  '08000': 'connection_exception',
  '08003': 'connection_does_not_exist',
  '08006': 'connection_failure',
  '08001': 'sqlclient_unable_to_establish_sqlconnection',
  '08004': 'sqlserver_rejected_establishment_of_sqlconnection',
}
const RETRYABLE_NODE_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH'])

/**
 * SQLSTATE classes that blame the data of the statement, not the database: 21 cardinality,
 * 22 data exception (22P05: NUL in text, 22021: invalid byte sequence), 23 integrity constraint,
 * 54 program limit exceeded. Retrying the same rows fails the same way; ingest splits the batch
 * to find the message at fault (ingest/contained-write.ts).
 */
const CONTENT_SQLSTATE_CLASSES = new Set(['21', '22', '23', '54'])

/** True when the statement failed because of what it carried (see CONTENT_SQLSTATE_CLASSES). */
export function isContentDbError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && CONTENT_SQLSTATE_CLASSES.has(code.slice(0, 2))
}

/** True for transient database failures: lost connections, deadlocks, serialization conflicts. */
export function isRetryableDbError(err: unknown): boolean {
  const e = err as { code?: unknown; message?: unknown } | null
  if (!e) return false
  if (typeof e.code === 'string' && (e.code in RETRYABLE_SQLSTATES || RETRYABLE_NODE_CODES.has(e.code))) return true
  const message = typeof e.message === 'string' ? e.message : ''
  return /Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/i.test(message)
}
