import { describe, expect, it } from 'vitest'
import {
  evaluateRules, kassaFnBlocked, kassaFnExpiry, kassaFnMemory, kassaOfdUnsent, kassaPendingOld, kassaShiftLong, localHour,
  machineErrors, machineNoSales, machineOffline, machineTemperature,
} from '../../gateway/alerts/alert.rules.js'
import { DAY, HOUR, kassa, machine, MIN, plus, T0, THRESHOLDS as t } from './alerts-fixtures.js'

describe('machine alert rules', () => {
  it('raises machine_offline once a machine has been offline longer than the threshold, dated when it crossed it', () => {
    const m = machine({ online: false, onlineSince: plus(T0, -5 * MIN) })
    expect(machineOffline(m, t, T0)).toBeNull()
    const a = machineOffline(m, t, plus(T0, 6 * MIN))!
    expect(a).toMatchObject({ key: 'machine_offline:VM-001', severity: 'warning', subject: { kind: 'machine', id: 'VM-001' }, link: '/api/machines/VM-001' })
    expect(a.since).toEqual(plus(T0, 5 * MIN))
    expect(machineOffline({ ...m, online: true, onlineSince: plus(T0, 6 * MIN) }, t, plus(T0, 7 * MIN))).toBeNull()
  })

  it('counts a machine never seen as offline since it was provisioned, and ignores disabled machines', () => {
    const m = machine({ online: false, onlineSince: null, createdAt: T0 })
    expect(machineOffline(m, t, plus(T0, 11 * MIN))?.since).toEqual(plus(T0, 10 * MIN))
    expect(machineOffline({ ...m, disabled: true }, t, plus(T0, 11 * MIN))).toBeNull()
  })

  it('raises machine_no_sales only during its usual hours, and clears on the next sale', () => {
    // T0 is 12:00 in Moscow; the last sale was at 08:00.
    const m = machine({ lastSaleAt: plus(T0, -4 * HOUR), usualHours: [8, 12] })
    expect(localHour(T0, 'Europe/Moscow')).toBe(12)
    const a = machineNoSales(m, t, T0)!
    expect(a.key).toBe('machine_no_sales:VM-001')
    expect(a.since).toEqual(plus(T0, -HOUR))
    expect(machineNoSales({ ...m, usualHours: [8, 9] }, t, T0)).toBeNull() // 12:00 is not a usual hour
    expect(machineNoSales({ ...m, lastSaleAt: plus(T0, -MIN) }, t, T0)).toBeNull()
    expect(machineNoSales({ ...m, online: false }, t, T0)).toBeNull() // its offline alert says why
    expect(machineNoSales({ ...m, usualHours: [] }, t, T0)).toBeNull()
  })

  it('raises machine_temperature outside the range, inclusive bounds are fine', () => {
    expect(machineTemperature(machine({ temperatureC: 12 }), t)).toBeNull()
    expect(machineTemperature(machine({ temperatureC: 0 }), t)).toBeNull()
    expect(machineTemperature(machine({ temperatureC: 14.5 }), t)).toMatchObject({ key: 'machine_temperature:VM-001', since: null, details: { temperatureC: 14.5 } })
    expect(machineTemperature(machine({ temperatureC: -3 }), t)?.rule).toBe('machine_temperature')
    expect(machineTemperature(machine({ temperatureC: null }), t)).toBeNull()
  })

  it('raises machine_errors while the machine reports errors', () => {
    expect(machineErrors(machine({ errors: ['E12 купюроприёмник'] }))).toMatchObject({ key: 'machine_errors:VM-001', message: 'Ошибки автомата: E12 купюроприёмник' })
    expect(machineErrors(machine({ errors: [] }))).toBeNull()
  })
})

describe('kassa alert rules', () => {
  it('raises kassa_shift_long when a shift stays open past the threshold, critical', () => {
    const k = kassa({ shiftOpenedAt: plus(T0, -22 * HOUR) })
    expect(kassaShiftLong(k, t, T0)).toBeNull()
    const a = kassaShiftLong(k, t, plus(T0, 90 * MIN))!
    expect(a).toMatchObject({ key: 'kassa_shift_long:K1', severity: 'critical', link: '/api/kassas/K1' })
    expect(a.since).toEqual(plus(T0, HOUR))
    expect(kassaShiftLong(kassa({ shiftOpenedAt: null }), t, plus(T0, 90 * MIN))).toBeNull()
  })

  it('raises kassa_fn_expiry within the last days of the FN', () => {
    const k = kassa({ fn: { expiresAt: plus(T0, 31 * DAY), daysLeft: 31 } })
    expect(kassaFnExpiry(k, t, T0)).toBeNull()
    expect(kassaFnExpiry(k, t, plus(T0, 2 * DAY))?.since).toEqual(plus(T0, DAY))
  })

  it('raises kassa_fn_memory above the fill threshold', () => {
    expect(kassaFnMemory(kassa({ fn: { fillRatio: 0.9 } }), t)).toBeNull()
    expect(kassaFnMemory(kassa({ fn: { fillRatio: 0.91, docsUsed: 910 } }), t)).toMatchObject({ key: 'kassa_fn_memory:K1', message: 'Память ФН заполнена на 91%' })
  })

  it('raises kassa_ofd_unsent after N days and makes it critical near the 30-day block', () => {
    const k = kassa({ ofd: { unsentCount: 40, firstUnsentAt: T0, oldestUnsentAgeS: null } })
    expect(kassaOfdUnsent(k, t, plus(T0, 2 * DAY))).toBeNull()
    expect(kassaOfdUnsent(k, t, plus(T0, 4 * DAY))).toMatchObject({ severity: 'warning', since: plus(T0, 3 * DAY) })
    expect(kassaOfdUnsent(k, t, plus(T0, 28 * DAY))?.severity).toBe('critical')
    expect(kassaOfdUnsent(kassa(), t, plus(T0, 28 * DAY))).toBeNull()
  })

  it('raises kassa_pending_old when the oldest pending sale waits too long', () => {
    const k = kassa({ oldestPendingAt: T0 })
    expect(kassaPendingOld(k, t, plus(T0, 59_000))).toBeNull()
    expect(kassaPendingOld(k, t, plus(T0, 61_000))).toMatchObject({ key: 'kassa_pending_old:K1', severity: 'critical', since: plus(T0, 60_000) })
    expect(kassaPendingOld(kassa(), t, plus(T0, DAY))).toBeNull()
  })

  it('raises kassa_fn_blocked while the FN refuses to sign', () => {
    expect(kassaFnBlocked(kassa({ fn: { blockedReason: 'FN 9999078900001234 has 1 of 1000 documents left; this needs 2' } })))
      .toMatchObject({ key: 'kassa_fn_blocked:K1', severity: 'critical' })
    expect(kassaFnBlocked(kassa())).toBeNull()
  })
})

describe('evaluateRules', () => {
  it('finds nothing on a healthy fleet and every alert on a sick one', () => {
    expect(evaluateRules({ machines: [machine()], kassas: [kassa()] }, t, T0)).toEqual([])
    const sick = evaluateRules({
      machines: [
        machine({ id: 'VM-001', online: false, onlineSince: plus(T0, -HOUR) }),
        machine({ id: 'VM-002', lastSaleAt: plus(T0, -5 * HOUR), temperatureC: 30, errors: ['E1'] }),
      ],
      kassas: [kassa({
        shiftOpenedAt: plus(T0, -23.5 * HOUR), oldestPendingAt: plus(T0, -HOUR),
        ofd: { unsentCount: 3, firstUnsentAt: plus(T0, -4 * DAY), oldestUnsentAgeS: null },
        fn: { expiresAt: plus(T0, 10 * DAY), daysLeft: 10, fillRatio: 0.95, blockedReason: 'full' },
      })],
    }, t, T0)
    expect(sick.map((a) => a.key).sort()).toEqual([
      'kassa_fn_blocked:K1', 'kassa_fn_expiry:K1', 'kassa_fn_memory:K1', 'kassa_ofd_unsent:K1', 'kassa_pending_old:K1', 'kassa_shift_long:K1',
      'machine_errors:VM-002', 'machine_no_sales:VM-002', 'machine_offline:VM-001', 'machine_temperature:VM-002',
    ])
  })
})
