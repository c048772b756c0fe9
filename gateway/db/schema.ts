import type { ColumnType, Generated, Insertable, Selectable } from 'kysely'

// Row types of the tables created by the migrations. Amounts are kopecks; times are UTC instants.
type Timestamp = ColumnType<Date, Date | string, Date | string>
type DefaultedTimestamp = ColumnType<Date, Date | string | undefined, Date | string>
type Json<T> = ColumnType<T, string, string>

export interface KassaTable {
  id: string
  name: string
  inn: string
  reg_number: string
  sno: string
  time_zone: string
  provider: Generated<string>
  provider_config: Json<unknown> | null
  created_at: DefaultedTimestamp
}

export interface FiscalDriveTable {
  fn: string
  kassa_id: string
  model: string
  secret: Uint8Array
  registered_at: Timestamp
  doc_limit: number
  next_fd: Generated<number>
  shift_number: Generated<number>
  shift_opened_at: Timestamp | null
  receipts_in_shift: Generated<number>
  unsent_count: Generated<number>
  first_unsent_at: Timestamp | null
  active: Generated<boolean>
  blocked_reason: string | null
  replaced_at: Timestamp | null
}

export interface MachineTable {
  id: string
  kassa_id: string
  number: string
  address: string
  place: string
  time_zone: string
  secret_hash: string
  disabled: Generated<boolean>
  credentials_at: DefaultedTimestamp
  created_at: DefaultedTimestamp
  online: Generated<boolean>
  online_changed_at: Timestamp | null
  last_seen_at: Timestamp | null
  telemetry: Json<unknown> | null
  telemetry_at: Timestamp | null
}

export type SaleState = 'pending' | 'submitted' | 'done' | 'failed'

export interface SaleTable {
  id: Generated<number>
  machine_id: string
  sale_id: string
  kassa_id: string
  kind: 'sale' | 'refund'
  refund_of: string | null
  items: Json<unknown>
  payment_method: string
  total: number
  sold_at: Timestamp
  received_at: DefaultedTimestamp
  state: ColumnType<SaleState, SaleState | undefined, SaleState>
  attempts: Generated<number>
  last_error: string | null
  run_at: DefaultedTimestamp
  fn: string | null
  fd: number | null
  done_at: Timestamp | null
  /** What the machine sent when the columns above say otherwise (0004-conflicts): a refund's own claim. */
  declared: Json<unknown> | null
}

/** A repeat of a (machine, saleId) with other content, refused with reason `conflict` (0004-conflicts). */
export interface SaleConflictTable {
  id: Generated<number>
  received_at: DefaultedTimestamp
  machine_id: string
  sale_id: string
  sale_row_id: number
  stored_state: string
  stored: Json<unknown>
  incoming: Json<unknown>
  payload: Uint8Array
}

export interface FiscalDocumentTable {
  fn: string
  fd: number
  kassa_id: string
  type: number
  signed_at: Timestamp
  shift: number
  receipt_in_shift: number | null
  sale_row_id: number | null
  operation: number | null
  total: number
  fp: string
  tlv: Uint8Array
  /** The display message published for this receipt (JSON text); null for documents without one. */
  display: string | null
}

/** How far the broker has acknowledged each FN's receipt displays (migration 0009). */
export interface DisplayMarkTable {
  fn: string
  through_fd: number
  sweep_at: DefaultedTimestamp
  sweeps: Generated<number>
}

export interface DisplayOutboxTable {
  id: Generated<number>
  machine_id: string
  sale_id: string
  payload: Json<unknown>
  created_at: DefaultedTimestamp
  sent_at: Timestamp | null
  attempts: Generated<number>
  next_at: DefaultedTimestamp
}

export interface RejectedMessageTable {
  id: Generated<number>
  received_at: DefaultedTimestamp
  topic: string
  machine_id: string | null
  sale_id: string | null
  reason: string
  payload: Uint8Array
}

/** Telemetry samples kept for a bounded window (0002-operator). */
export interface TelemetryHistoryTable {
  machine_id: string
  /** The machine's own time of the sample. */
  at: Timestamp
  received_at: DefaultedTimestamp
  telemetry: Json<unknown>
}

export type AtolAttemptStatus = 'sending' | 'wait' | 'done' | 'fail' | 'rejected'

/** One attempt to fiscalize a sale at an ATOL-v5 provider (0003-atol). */
export interface AtolAttemptTable {
  id: Generated<number>
  sale_row_id: number
  kassa_id: string
  attempt: number
  external_id: string
  operation: 'sell' | 'sell_refund'
  request: Json<unknown>
  status: ColumnType<AtolAttemptStatus, AtolAttemptStatus | undefined, AtolAttemptStatus>
  uuid: string | null
  sends: Generated<number>
  polls: Generated<number>
  errors: Generated<number>
  error: string | null
  report: Json<unknown> | null
  created_at: DefaultedTimestamp
  updated_at: DefaultedTimestamp
  accepted_at: Timestamp | null
  finished_at: Timestamp | null
}

/** A receipt signed by a cloud-kassa provider's FN (0003-atol); the provider keeps the document. */
export interface ProviderReceiptTable {
  sale_row_id: number
  kassa_id: string
  attempt_id: number
  provider: string
  uuid: string
  /** FFD 1054: 1 приход, 2 возврат прихода. */
  operation: number
  fn: string
  fd: number
  fp: string
  shift: number
  receipt_in_shift: number
  signed_at: Timestamp
  receipt_datetime: string
  total: number
  reg_number: string
  ofd_receipt_url: string | null
  qr: string
  payload: Json<unknown>
  created_at: DefaultedTimestamp
}

/** An EVA-DTS audit as a machine uploaded it (0005-audits). */
export interface AuditTable {
  id: Generated<number>
  machine_id: string
  /** SHA-256 of `raw`, hex. */
  hash: string
  received_at: DefaultedTimestamp
  raw: Uint8Array
  status: 'stored' | 'rejected'
  reason: string | null
  summary: Json<unknown> | null
}

/** The correction receipt of one reconciliation interval (0005-audits). */
export interface AuditCorrectionTable {
  id: Generated<number>
  /** The audit closing the interval: one correction per interval, ever. */
  interval_audit_id: number
  machine_id: string
  kassa_id: string
  provider: string
  status: 'sending' | 'wait' | 'done' | 'fail'
  total: number
  cash: number
  ecash: number
  vends: number
  base_date: string
  items: Json<unknown>
  fn: string | null
  fd: number | null
  fp: string | null
  signed_at: Timestamp | null
  external_id: string | null
  uuid: string | null
  request: Json<unknown> | null
  report: Json<unknown> | null
  error: string | null
  created_at: DefaultedTimestamp
}

export interface Database {
  kassas: KassaTable
  fiscal_drives: FiscalDriveTable
  machines: MachineTable
  sales: SaleTable
  fiscal_documents: FiscalDocumentTable
  display_outbox: DisplayOutboxTable
  display_marks: DisplayMarkTable
  rejected_messages: RejectedMessageTable
  telemetry_history: TelemetryHistoryTable
  atol_attempts: AtolAttemptTable
  provider_receipts: ProviderReceiptTable
  audits: AuditTable
  audit_corrections: AuditCorrectionTable
  sale_conflicts: SaleConflictTable
}

export type KassaRow = Selectable<KassaTable>
export type FiscalDriveRow = Selectable<FiscalDriveTable>
export type MachineRow = Selectable<MachineTable>
export type SaleRow = Selectable<SaleTable>
export type NewSale = Insertable<SaleTable>
export type FiscalDocumentRow = Selectable<FiscalDocumentTable>
export type AtolAttemptRow = Selectable<AtolAttemptTable>
export type ProviderReceiptRow = Selectable<ProviderReceiptTable>
export type AuditRow = Selectable<AuditTable>
export type AuditCorrectionRow = Selectable<AuditCorrectionTable>
