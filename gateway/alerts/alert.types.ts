import type { KassaState, MachineState } from '../operator/fleet-state.js'

/** Alert thresholds (env ALERT_*, parsed in config.ts). */
export interface AlertThresholds {
  /** A machine offline longer than this (minutes). */
  offlineMin: number
  /** No sale for this long (hours) during one of the machine's usual hours. */
  noSalesHours: number
  /** Cabinet temperature range (°C); outside it is an alert. */
  temperatureMinC: number
  temperatureMaxC: number
  /** A shift open this long (hours) has not been closed by the timer (the FN refuses at 24). */
  shiftHours: number
  /** FN lifetime left below this (days). */
  fnExpiryDays: number
  /** FN document capacity used above this (percent). */
  fnFillPercent: number
  /** Oldest document not confirmed by the OFD older than this (days); the FN blocks at 30. */
  ofdUnsentDays: number
  /** A sale waiting for its receipt longer than this (seconds). */
  pendingS: number
}

export type AlertRule =
  | 'machine_offline' | 'machine_no_sales' | 'machine_temperature' | 'machine_errors'
  | 'machine_unreceipted'
  | 'kassa_shift_long' | 'kassa_fn_expiry' | 'kassa_fn_memory' | 'kassa_ofd_unsent' | 'kassa_pending_old' | 'kassa_fn_blocked'
  | 'machine_sale_conflict'

export type Severity = 'warning' | 'critical'

export interface Alert {
  /** `rule:subjectId`: the same problem keeps the same key while it lasts. */
  key: string
  rule: AlertRule
  severity: Severity
  subject: { kind: 'machine' | 'kassa'; id: string }
  /** The API resource of the subject. */
  link: string
  /** For people, in Russian (the dashboard shows it as is). */
  message: string
  /** When the threshold was crossed, from the data where it tells (offline at + N min…), else when first seen. */
  since: Date
  details: Record<string, unknown>
}

/** What a rule returns: `since` null means "not derivable from the data": the evaluator fills in first seen. */
export type AlertCandidate = Omit<Alert, 'since'> & { since: Date | null }

/** An interval between two audits in which a machine counted vends that got no receipt. */
export interface UnreceiptedInterval {
  machineId: string
  intervalId: number
  from: Date
  to: Date
  /** Kopecks and vends without a receipt. */
  value: number
  count: number
}

/** A machine's sales refused as `conflict` (its saleId reused with other content) within CONFLICT_WINDOW_MS. */
export interface MachineConflicts {
  machineId: string
  count: number
  firstAt: Date
  lastAt: Date
  lastSaleId: string
}

export interface FleetSnapshot {
  machines: readonly (MachineState & { usualHours: readonly number[] })[]
  kassas: readonly KassaState[]
  /** Settled reconciliation intervals with the verdict `unreceipted` (absent: not loaded). */
  unreceipted?: readonly UnreceiptedInterval[]
  /** Sales refused as `conflict` lately, per machine (absent: not loaded). */
  conflicts?: readonly MachineConflicts[]
}
