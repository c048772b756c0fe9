import { LatencyHistogram, type Percentiles } from './histogram.js'
import type { DisplayOutcome } from './machine.js'

/** The result of a fleet run: what `npm run sim` prints and the benchmark reads. */
export interface FleetReport {
  machines: number
  /** Machines that connected at least once. */
  connected: number
  /** s the sales phase actually lasted. */
  durationS: number
  /** New sales made in this run. */
  sent: number
  /** Sales answered with a receipt (first answer). */
  receipted: number
  rejected: number
  /** A different receipt (fn/fd) for a sale already receipted: two receipts for one sale. */
  duplicates: number
  /** The same answer again: expected after a republish crossed the first answer. */
  repeats: number
  /** A receipt after a rejection or the reverse. */
  conflicts: number
  /** Still waiting for an answer at the end, after the drain: lost. */
  unanswered: number
  /** Copies sent again after a timeout. */
  republished: number
  /** Unanswered sales taken from the state file at start (answered ones count as receipted). */
  restored: number
  /** Display messages for a saleId the machine did not know, and ones that failed validation. */
  unknown: number
  invalid: number
  /** Sale made → its first receipt, ms, as the customer waits; restored sales are not measured (their wait spans a restart). */
  latencyMs: Percentiles
  /** ms by which sales started later than their open-loop schedule: large values mean the simulator itself was the bottleneck. */
  scheduleLagMs: Percentiles
  /** Sales made per second over the sales phase. */
  ratePerSecond: number
  /** Connection errors by message (at most 5 kinds), e.g. a refused login. */
  connectionErrors: Record<string, number>
  /** Vends counted in the machines' audits whose sales were never published (the `offline` option): how many, kopecks, per machine. */
  offline: OfflineVends
  /** EVA-DTS audits uploaded, answered stored or rejected, and still unanswered at the end. */
  audits: { uploaded: number; stored: number; rejected: number; unanswered: number }
}

export interface OfflineVends {
  vends: number
  value: number
  byMachine: Record<string, { vends: number; value: number }>
}

/** A progress reading, about once a second. */
export interface FleetSnapshot {
  phase: 'connecting' | 'selling' | 'draining' | 'closing' | 'done'
  elapsedS: number
  machines: number
  /** Machines connected right now. */
  online: number
  sent: number
  receipted: number
  rejected: number
  duplicates: number
  republished: number
  /** Sales waiting for their display message. */
  inFlight: number
  /** Sales made per second since the previous snapshot. */
  ratePerSecond: number
  /** p99 of the latency so far, ms. */
  p99Ms: number
}

/** The counters of a run, fed by the machines' outcomes. */
export class FleetCounters {
  sent = 0
  receipted = 0
  rejected = 0
  duplicates = 0
  repeats = 0
  conflicts = 0
  unknown = 0
  invalid = 0
  republished = 0
  restored = 0
  readonly offline: OfflineVends = { vends: 0, value: 0, byMachine: {} }
  readonly audits = { uploaded: 0, stored: 0, rejected: 0 }
  readonly latency = new LatencyHistogram()
  readonly scheduleLag = new LatencyHistogram()
  readonly connectionErrors = new Map<string, number>()

  count(outcome: DisplayOutcome): void {
    switch (outcome.kind) {
      case 'receipt':
        this.receipted += 1
        if (!outcome.sale.restored) this.latency.record(outcome.latencyMs)
        break
      case 'rejected':
        this.rejected += 1
        break
      case 'repeat':
        this.repeats += 1
        break
      case 'duplicate':
        this.duplicates += 1
        break
      case 'conflict':
        this.conflicts += 1
        break
      case 'unknown':
        this.unknown += 1
        break
    }
  }

  offlineVend(machineId: string, value: number): void {
    this.offline.vends += 1
    this.offline.value += value
    const m = (this.offline.byMachine[machineId] ??= { vends: 0, value: 0 })
    m.vends += 1
    m.value += value
  }

  connectionError(err: Error): void {
    const key = err.message
    if (this.connectionErrors.has(key) || this.connectionErrors.size < 5) {
      this.connectionErrors.set(key, (this.connectionErrors.get(key) ?? 0) + 1)
    }
  }

  report(fleet: { machines: number; connected: number; durationS: number; unanswered: number; auditsUnanswered: number }): FleetReport {
    const durationS = Math.round(fleet.durationS * 1000) / 1000
    return {
      machines: fleet.machines,
      connected: fleet.connected,
      durationS,
      sent: this.sent,
      receipted: this.receipted,
      rejected: this.rejected,
      duplicates: this.duplicates,
      repeats: this.repeats,
      conflicts: this.conflicts,
      unanswered: fleet.unanswered,
      republished: this.republished,
      restored: this.restored,
      unknown: this.unknown,
      invalid: this.invalid,
      latencyMs: this.latency.summary(),
      scheduleLagMs: this.scheduleLag.summary(),
      ratePerSecond: durationS > 0 ? Math.round((this.sent / durationS) * 10) / 10 : 0,
      connectionErrors: Object.fromEntries(this.connectionErrors),
      offline: structuredClone(this.offline),
      audits: { ...this.audits, unanswered: fleet.auditsUnanswered },
    }
  }
}
