// Alert rules: pure functions of the fleet's state, the thresholds and the clock.
import type { KassaState, MachineState } from '../operator/fleet-state.js'
import type { AlertCandidate, AlertRule, AlertThresholds, FleetSnapshot, MachineConflicts, Severity } from './alert.types.js'
import { machinesUnreceipted } from './unreceipted.rule.js'

const MIN_MS = 60_000
const HOUR_MS = 60 * MIN_MS
const DAY_MS = 24 * HOUR_MS
/** The FN blocks when the oldest unconfirmed document is this old (docs/fiscal.md §3.3). */
export const OFD_BLOCK_DAYS = 30

type Machine = MachineState & { usualHours: readonly number[] }
const at = (base: Date, plusMs: number) => new Date(base.getTime() + plusMs)

export function alert(rule: AlertRule, severity: Severity, subject: 'machine' | 'kassa', id: string, message: string,
  since: Date | null, details: Record<string, unknown> = {}): AlertCandidate {
  const link = subject === 'machine' ? `/api/machines/${encodeURIComponent(id)}` : `/api/kassas/${encodeURIComponent(id)}`
  return { key: `${rule}:${id}`, rule, severity, subject: { kind: subject, id }, link, message, since, details }
}

const hourFormats = new Map<string, Intl.DateTimeFormat>()
/** The hour of the day (0–23) at `now` in `timeZone`. */
export function localHour(now: Date, timeZone: string): number {
  let f = hourFormats.get(timeZone)
  if (!f) hourFormats.set(timeZone, (f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: 'numeric', hourCycle: 'h23' })))
  return Number(f.format(now))
}

export function machineOffline(m: Machine, t: AlertThresholds, now: Date): AlertCandidate | null {
  if (m.online || m.disabled) return null
  // A machine never seen is offline since it was provisioned.
  const offlineAt = m.onlineSince ?? m.createdAt
  const since = at(offlineAt, t.offlineMin * MIN_MS)
  if (now < since) return null
  return alert('machine_offline', 'warning', 'machine', m.id, 'Автомат не в сети', since, { offlineAt, lastSeenAt: m.lastSeenAt })
}

/** No sale for `noSalesHours` while the local hour is one in which it usually sells (an offline machine has its own alert). */
export function machineNoSales(m: Machine, t: AlertThresholds, now: Date): AlertCandidate | null {
  if (!m.online || m.disabled || m.lastSaleAt === null) return null
  if (!m.usualHours.includes(localHour(now, m.timeZone))) return null
  const since = at(m.lastSaleAt, t.noSalesHours * HOUR_MS)
  if (now < since) return null
  return alert('machine_no_sales', 'warning', 'machine', m.id, `Нет продаж больше ${t.noSalesHours} ч в обычные часы работы`, since,
    { lastSaleAt: m.lastSaleAt, usualHours: m.usualHours })
}

export function machineTemperature(m: Machine, t: AlertThresholds): AlertCandidate | null {
  const c = m.temperatureC
  if (c === null || (c >= t.temperatureMinC && c <= t.temperatureMaxC)) return null
  return alert('machine_temperature', 'warning', 'machine', m.id, `Температура ${c} °C вне диапазона ${t.temperatureMinC}…${t.temperatureMaxC} °C`, null,
    { temperatureC: c, minC: t.temperatureMinC, maxC: t.temperatureMaxC, at: m.telemetryAt })
}

export function machineErrors(m: Machine): AlertCandidate | null {
  if (m.errors.length === 0) return null
  return alert('machine_errors', 'warning', 'machine', m.id, `Ошибки автомата: ${m.errors.join(', ')}`, null, { errors: m.errors, at: m.telemetryAt })
}

export function kassaShiftLong(k: KassaState, t: AlertThresholds, now: Date): AlertCandidate | null {
  const openedAt = k.shift?.openedAt ?? null
  if (openedAt === null) return null
  const since = at(openedAt, t.shiftHours * HOUR_MS)
  if (now < since) return null
  return alert('kassa_shift_long', 'critical', 'kassa', k.id, `Смена открыта больше ${t.shiftHours} ч (ФН откажет после 24 ч)`, since, { openedAt })
}

export function kassaFnExpiry(k: KassaState, t: AlertThresholds, now: Date): AlertCandidate | null {
  if (!k.fn) return null
  const since = at(k.fn.expiresAt, -t.fnExpiryDays * DAY_MS)
  if (now < since) return null
  return alert('kassa_fn_expiry', 'warning', 'kassa', k.id, `Срок ФН истекает: осталось ${k.fn.daysLeft} дн.`, since,
    { fn: k.fn.number, expiresAt: k.fn.expiresAt, daysLeft: k.fn.daysLeft })
}

export function kassaFnMemory(k: KassaState, t: AlertThresholds): AlertCandidate | null {
  if (!k.fn || k.fn.fillRatio * 100 <= t.fnFillPercent) return null
  return alert('kassa_fn_memory', 'warning', 'kassa', k.id, `Память ФН заполнена на ${Math.floor(k.fn.fillRatio * 100)}%`, null,
    { fn: k.fn.number, docsUsed: k.fn.docsUsed, docLimit: k.fn.docLimit })
}

export function kassaOfdUnsent(k: KassaState, t: AlertThresholds, now: Date): AlertCandidate | null {
  const first = k.ofd?.firstUnsentAt ?? null
  if (first === null || k.ofd!.unsentCount === 0) return null
  const since = at(first, t.ofdUnsentDays * DAY_MS)
  if (now < since) return null
  const blocksAt = at(first, OFD_BLOCK_DAYS * DAY_MS)
  // Critical in the last days before the FN blocks, as ОФД-confirmation warnings escalate.
  const severity: Severity = blocksAt.getTime() - now.getTime() <= t.ofdUnsentDays * DAY_MS ? 'critical' : 'warning'
  return alert('kassa_ofd_unsent', severity, 'kassa', k.id, `Документы не переданы в ОФД больше ${t.ofdUnsentDays} дн. (ФН заблокируется через 30)`, since,
    { unsentCount: k.ofd!.unsentCount, firstUnsentAt: first, blocksAt })
}

export function kassaPendingOld(k: KassaState, t: AlertThresholds, now: Date): AlertCandidate | null {
  const oldest = k.backlog.oldestPendingAt
  if (oldest === null) return null
  const since = at(oldest, t.pendingS * 1000)
  if (now < since) return null
  return alert('kassa_pending_old', 'critical', 'kassa', k.id, `Продажи ждут чека больше ${t.pendingS} с`, since,
    { pending: k.backlog.pending, oldestPendingAt: oldest })
}

export function kassaFnBlocked(k: KassaState): AlertCandidate | null {
  if (!k.fn?.blockedReason) return null
  return alert('kassa_fn_blocked', 'critical', 'kassa', k.id, 'ФН заблокирован: чеки не формируются', null, { fn: k.fn.number, reason: k.fn.blockedReason })
}

/**
 * A machine reused a saleId for a different sale: the later sale was refused (`conflict`), so a
 * real sale may have no receipt while its machine shows another's. Firmware must be looked at.
 */
export function machineSaleConflict(c: MachineConflicts): AlertCandidate {
  return alert('machine_sale_conflict', 'critical', 'machine', c.machineId, 'Повтор номера продажи с другим содержимым: продажа без чека',
    c.firstAt, { count: c.count, lastAt: c.lastAt, lastSaleId: c.lastSaleId, list: `/api/conflicts?machine=${encodeURIComponent(c.machineId)}` })
}

/** Every alert the state calls for now. */
export function evaluateRules(s: FleetSnapshot, t: AlertThresholds, now: Date): AlertCandidate[] {
  const found: (AlertCandidate | null)[] = []
  for (const m of s.machines) {
    found.push(machineOffline(m, t, now), machineNoSales(m, t, now), machineTemperature(m, t), machineErrors(m))
  }
  for (const k of s.kassas) {
    found.push(kassaShiftLong(k, t, now), kassaFnExpiry(k, t, now), kassaFnMemory(k, t), kassaOfdUnsent(k, t, now),
      kassaPendingOld(k, t, now), kassaFnBlocked(k))
  }
  found.push(...machinesUnreceipted(s.unreceipted ?? []))
  for (const c of s.conflicts ?? []) found.push(machineSaleConflict(c))
  return found.filter((a): a is AlertCandidate => a !== null)
}
