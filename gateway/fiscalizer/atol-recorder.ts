import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import { ATOL_PROVIDER } from '../atol/atol-clients.js'
import type { Database } from '../db/schema.js'
import type { OutboxEntry } from '../display/outbox.repository.js'
import type { OpenAttempt, Step } from './atol-outcome.js'
import { recordSteps } from './atol.repository.js'

/** Most steps written by one transaction. */
const BATCH = 500

/**
 * Commits the steps the provider's answers led to, in batches: while one commit runs, the answers
 * arriving meanwhile gather for the next (adaptive, no timer). A failed commit is not retried here:
 * its sales keep their lease and whoever claims them after it asks the provider again, which is
 * idempotent (the same external_id, or a report of the same uuid).
 */
export function createAtolRecorder(deps: { db: Kysely<Database>; logger: Logger; onCommitted: (displays: OutboxEntry[]) => void }) {
  const log = deps.logger
  let buffer: { row: OpenAttempt; step: Step }[] = []
  let flushing: Promise<void> | null = null

  async function flush(): Promise<void> {
    while (buffer.length > 0) {
      const batch = buffer.splice(0, BATCH)
      try {
        const { displays } = await recordSteps(deps.db, ATOL_PROVIDER, batch)
        if (displays.length > 0) deps.onCommitted(displays)
      } catch (err) {
        log.error({ err, count: batch.length }, 'could not record provider outcomes; the sales are taken again after their lease')
      }
    }
    flushing = null
  }

  return {
    push(row: OpenAttempt, step: Step): void {
      if (step.sale.state === 'failed') {
        log.warn({ machineId: row.machineId, saleId: row.saleId, externalId: row.externalId, reason: step.sale.lastError }, 'the provider did not fiscalize the sale')
      }
      buffer.push({ row, step })
      flushing ??= flush()
    },
    /** Resolves when everything pushed so far is committed (or given up). */
    async idle(): Promise<void> {
      while (flushing) await flushing
    },
  }
}
