// What an operator sees of a machine and a kassa: the API's objects (Dates serialise to ISO
// strings) and the input of the alert rules. Pure: the repositories fill these from SQL rows.
import type { Telemetry } from '../../protocol/index.js'
import { fnHealth, type FnModel } from '../fiscal/index.js'

export interface MachineState {
  id: string
  kassaId: string
  /** FFD 1036 machine number, address (1009) and place (1187) printed on its receipts. */
  number: string
  address: string
  place: string
  timeZone: string
  disabled: boolean
  createdAt: Date
  /** From its retained status: `online`, or `offline` by a clean shutdown or its will. */
  online: boolean
  /** When `online` last changed (null: never seen). */
  onlineSince: Date | null
  /** Last status, telemetry or sale received from it. */
  lastSeenAt: Date | null
  /** The machine's time of its last sale (refunds excluded). */
  lastSaleAt: Date | null
  /** Today in the kassa's time zone, by the machine's sale time; failed sales excluded. */
  salesToday: number
  refundsToday: number
  /** Kopecks: sales minus refunds. */
  revenueToday: number
  /** Sales without a receipt yet (pending or submitted to a cloud kassa). */
  pendingSales: number
  errors: string[]
  temperatureC: number | null
  doorOpen: boolean | null
  cashBoxKop: number | null
  stock: Record<string, number> | null
  /** The latest telemetry as the machine sent it. */
  telemetry: Telemetry | null
  telemetryAt: Date | null
}

export interface KassaState {
  id: string
  name: string
  inn: string
  regNumber: string
  sno: string
  timeZone: string
  provider: string
  /** The active fiscal drive; null when the kassa has none. */
  fn: FnState | null
  shift: { open: boolean; number: number; openedAt: Date | null; ageS: number | null; receipts: number } | null
  /** Documents the FN has not had confirmed by the OFD; it blocks 30 days after the oldest (docs/fiscal.md §3.3). */
  ofd: { unsentCount: number; firstUnsentAt: Date | null; oldestUnsentAgeS: number | null } | null
  backlog: { pending: number; oldestPendingAt: Date | null; oldestPendingAgeS: number | null; failed: number }
  machines: string[]
}

interface FnState {
  number: string
  model: string
  registeredAt: Date
  expiresAt: Date
  daysLeft: number
  docLimit: number
  docsUsed: number
  docsLeft: number
  /** 0…1 of the document capacity. */
  fillRatio: number
  nextFd: number
  /** Why the FN refuses (or would refuse) to sign: full or expired. */
  blockedReason: string | null
}

export interface KassaRowInput {
  id: string; name: string; inn: string; reg_number: string; sno: string; time_zone: string; provider: string
  fn: string | null; model: string | null; registered_at: Date | null; doc_limit: number | null; next_fd: number | null
  shift_number: number | null; shift_opened_at: Date | null; receipts_in_shift: number | null
  unsent_count: number | null; first_unsent_at: Date | null; blocked_reason: string | null
  pending: number; oldest_pending_at: Date | null; failed: number; machines: string[]
}

const ageS = (since: Date | null, now: Date): number | null =>
  since === null ? null : Math.max(0, Math.floor((now.getTime() - since.getTime()) / 1000))

export function kassaState(r: KassaRowInput, now: Date): KassaState {
  const backlog = { pending: r.pending, oldestPendingAt: r.oldest_pending_at, oldestPendingAgeS: ageS(r.oldest_pending_at, now), failed: r.failed }
  const base = {
    id: r.id, name: r.name, inn: r.inn, regNumber: r.reg_number, sno: r.sno, timeZone: r.time_zone, provider: r.provider,
    backlog, machines: r.machines,
  }
  if (r.fn === null || r.registered_at === null || r.doc_limit === null || r.next_fd === null) {
    return { ...base, fn: null, shift: null, ofd: null }
  }
  const health = fnHealth({
    fn: r.fn, model: r.model as FnModel, registeredAt: r.registered_at, docLimit: r.doc_limit, nextFd: r.next_fd,
    shiftNumber: r.shift_number ?? 0, shiftOpenedAt: r.shift_opened_at, receiptsInShift: r.receipts_in_shift ?? 0,
    unsentCount: r.unsent_count ?? 0, firstUnsentAt: r.first_unsent_at,
    secret: new Uint8Array(0), // health reads counters only; the key never leaves the fiscalizer
  }, now)
  return {
    ...base,
    fn: {
      number: r.fn, model: r.model ?? '', registeredAt: r.registered_at, expiresAt: health.expiresAt, daysLeft: health.daysLeft,
      docLimit: r.doc_limit, docsUsed: health.docsUsed, docsLeft: health.docsLeft, fillRatio: health.fillRatio, nextFd: r.next_fd,
      blockedReason: r.blocked_reason ?? health.blocked?.message ?? null,
    },
    shift: {
      open: health.shiftOpen, number: r.shift_number ?? 0, openedAt: r.shift_opened_at,
      ageS: health.shiftAgeMs === null ? null : Math.floor(health.shiftAgeMs / 1000), receipts: r.receipts_in_shift ?? 0,
    },
    ofd: { unsentCount: r.unsent_count ?? 0, firstUnsentAt: r.first_unsent_at, oldestUnsentAgeS: ageS(r.first_unsent_at, now) },
  }
}

export interface MachineRowInput {
  id: string; kassa_id: string; number: string; address: string; place: string; time_zone: string
  disabled: boolean; created_at: Date; online: boolean; online_changed_at: Date | null; last_seen_at: Date | null
  last_sale_at: Date | null; sales_today: number; refunds_today: number; revenue_today: number; pending: number
  telemetry: Telemetry | null; telemetry_at: Date | null
}

export function machineState(r: MachineRowInput): MachineState {
  const t = r.telemetry
  return {
    id: r.id, kassaId: r.kassa_id, number: r.number, address: r.address, place: r.place, timeZone: r.time_zone,
    disabled: r.disabled, createdAt: r.created_at, online: r.online, onlineSince: r.online_changed_at,
    lastSeenAt: r.last_seen_at, lastSaleAt: r.last_sale_at,
    salesToday: r.sales_today, refundsToday: r.refunds_today, revenueToday: r.revenue_today, pendingSales: r.pending,
    errors: t?.errors ?? [], temperatureC: t?.temperatureC ?? null, doorOpen: t?.doorOpen ?? null,
    cashBoxKop: t?.cashBoxKop ?? null, stock: t?.stock ?? null, telemetry: t, telemetryAt: r.telemetry_at,
  }
}
