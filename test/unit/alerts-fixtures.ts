import type { AlertThresholds } from '../../gateway/alerts/alert.types.js'
import type { KassaState, MachineState } from '../../gateway/operator/fleet-state.js'

export const THRESHOLDS: AlertThresholds = {
  offlineMin: 10, noSalesHours: 3, temperatureMinC: 0, temperatureMaxC: 12, shiftHours: 23,
  fnExpiryDays: 30, fnFillPercent: 90, ofdUnsentDays: 3, pendingS: 60,
}

export const T0 = new Date('2026-11-28T09:00:00Z') // 12:00 in Moscow
export const plus = (base: Date, ms: number) => new Date(base.getTime() + ms)
export const MIN = 60_000
export const HOUR = 60 * MIN
export const DAY = 24 * HOUR

export function machine(o: Partial<MachineState & { usualHours: number[] }> = {}): MachineState & { usualHours: number[] } {
  return {
    id: 'VM-001', kassaId: 'K1', number: 'VM-001', address: 'г. Москва, ул. Тверская, 1', place: 'Вестибюль', timeZone: 'Europe/Moscow',
    disabled: false, createdAt: plus(T0, -30 * DAY), online: true, onlineSince: plus(T0, -DAY), lastSeenAt: T0, lastSaleAt: plus(T0, -MIN),
    salesToday: 0, refundsToday: 0, revenueToday: 0, pendingSales: 0, errors: [], temperatureC: 5, doorOpen: false, cashBoxKop: 0,
    stock: null, telemetry: null, telemetryAt: T0, usualHours: [9, 10, 11, 12, 13, 14, 15, 16, 17, 18], ...o,
  }
}

type Fn = NonNullable<KassaState['fn']>
export function kassa(o: { fn?: Partial<Fn>; shiftOpenedAt?: Date | null; ofd?: KassaState['ofd']; oldestPendingAt?: Date | null } = {}): KassaState {
  const shiftOpenedAt = o.shiftOpenedAt === undefined ? plus(T0, -HOUR) : o.shiftOpenedAt
  return {
    id: 'K1', name: 'ООО «Вендинг»', inn: '7707083893', regNumber: '0000000001012345', sno: 'usn_income', timeZone: 'Europe/Moscow', provider: 'emulated',
    fn: {
      number: '9999078900001234', model: 'fn-36', registeredAt: plus(T0, -100 * DAY), expiresAt: plus(T0, 1010 * DAY), daysLeft: 1010,
      docLimit: 1000, docsUsed: 10, docsLeft: 990, fillRatio: 0.01, nextFd: 11, blockedReason: null, ...o.fn,
    },
    shift: { open: shiftOpenedAt !== null, number: 1, openedAt: shiftOpenedAt, ageS: null, receipts: 5 },
    ofd: o.ofd ?? { unsentCount: 0, firstUnsentAt: null, oldestUnsentAgeS: null },
    backlog: { pending: o.oldestPendingAt ? 1 : 0, oldestPendingAt: o.oldestPendingAt ?? null, oldestPendingAgeS: null, failed: 0 },
    machines: ['VM-001'],
  }
}
