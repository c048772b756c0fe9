import { createHash } from 'node:crypto'
import type { Kysely } from 'kysely'
import type { Logger } from 'pino'
import type { AuditDisplay } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import { insertRejected } from '../ingest/sale.repository.js'
import { parseAudit } from './audit-parser.js'
import { storeAudit, type NewAudit } from './audit.repository.js'

export interface AuditConsumerDeps {
  db: Kysely<Database>
  logger: Logger
  /** Publishes the answer on the machine's display topic (QoS 1). */
  answer: (machineId: string, message: AuditDisplay) => void
  /** An audit was stored (for the reconciliation alert). */
  onStored?: (machineId: string, auditId: number) => void
}

/** What the gateway keeps of an upload and answers: the parse, and a reason when it cannot use it. */
export function classifyAudit(machineId: string, raw: Uint8Array): NewAudit {
  const hash = createHash('sha256').update(raw).digest('hex')
  const parsed = parseAudit(raw)
  if (!parsed.ok) return { machineId, hash, raw, status: 'rejected', reason: parsed.reason, summary: null }
  // The G85 check is what proves the counters arrived as the machine wrote them (EVA-DTS 6.2 §2.4.3).
  if (parsed.audit.crc === 'bad') return { machineId, hash, raw, status: 'rejected', reason: 'G85 check does not match the report', summary: parsed.audit }
  return { machineId, hash, raw, status: 'stored', reason: null, summary: parsed.audit }
}

/** Audits (up to 256 KiB each) waiting to be written; beyond it new ones are dropped unanswered and the machines send them again. */
const QUEUE_MAX = 200

/**
 * Audits on `{prefix}/{id}/audit`: raw bytes, stored once per content and answered with their hash.
 * Audits are rare (one per machine per hour or so): they are written one at a time, in arrival
 * order, off the MQTT handler. The machine republishes until the answer arrives, so a failed write
 * (or an audit dropped from a full queue) is logged and left to that.
 */
export function createAuditConsumer(deps: AuditConsumerDeps) {
  const log = deps.logger
  let tail: Promise<void> = Promise.resolve()
  let queued = 0
  let droppedLoggedAt = -Infinity

  async function handle(topic: string, machineId: string, raw: Uint8Array): Promise<void> {
    const audit = classifyAudit(machineId, raw)
    const outcome = await storeAudit(deps.db, audit)
    if (outcome.kind === 'unknown-machine') {
      await insertRejected(deps.db, [{ topic, machineId, saleId: null, reason: `unknown machine ${machineId}`, payload: raw }])
      deps.answer(machineId, { v: 1, type: 'audit', hash: audit.hash, status: 'rejected', reason: `unknown machine ${machineId}` })
      return
    }
    if (outcome.kind === 'stored') {
      const fields = { machineId, auditId: outcome.id, hash: audit.hash, bytes: raw.length }
      if (outcome.status === 'rejected') log.warn({ ...fields, reason: outcome.reason }, 'audit rejected')
      else log.info({ ...fields, crc: audit.summary?.crc, warnings: audit.summary?.warnings }, 'audit stored')
      if (outcome.status === 'stored') deps.onStored?.(machineId, outcome.id)
    }
    deps.answer(machineId, {
      v: 1, type: 'audit', hash: audit.hash, status: outcome.status, ...(outcome.reason !== null && { reason: outcome.reason }),
    })
  }

  function accept(topic: string, machineId: string, payload: Uint8Array): void {
    if (queued >= QUEUE_MAX) {
      if (Date.now() - droppedLoggedAt > 10_000) {
        droppedLoggedAt = Date.now()
        log.warn({ machineId, queued }, 'audit queue full: audit dropped unanswered (the machine sends it again)')
      }
      return
    }
    // A copy: the MQTT client may reuse the buffer once the handler returns.
    const raw = new Uint8Array(payload)
    queued++
    tail = tail
      .then(() => handle(topic, machineId, raw))
      .catch((err: unknown) => log.error({ err, machineId }, 'could not store an audit; the machine sends it again'))
      .finally(() => { queued-- })
  }

  async function stop(): Promise<void> {
    await tail
  }

  return { accept, stop }
}
export type AuditConsumer = ReturnType<typeof createAuditConsumer>
