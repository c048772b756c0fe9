import { describe, expect, it } from 'vitest'
import { evaluateRules } from '../../gateway/alerts/alert.rules.js'
import { machinesUnreceipted } from '../../gateway/alerts/unreceipted.rule.js'
import { T0, THRESHOLDS, plus, HOUR } from './alerts-fixtures.js'

const interval = (machineId: string, intervalId: number, to: Date, value: number, count: number) =>
  ({ machineId, intervalId, from: plus(to, -HOUR), to, value, count })

describe('alert: vends without a receipt by the machine\'s audit', () => {
  it('raises one critical alert per machine with the amount, the vends and the intervals to correct', () => {
    const alerts = machinesUnreceipted([interval('VM-002', 7, T0, 12000, 1), interval('VM-002', 9, plus(T0, HOUR), 8000, 2), interval('VM-005', 8, T0, 500, 1)])
    expect(alerts).toHaveLength(2)
    expect(alerts[0]).toMatchObject({
      key: 'machine_unreceipted:VM-002', rule: 'machine_unreceipted', severity: 'critical', subject: { kind: 'machine', id: 'VM-002' },
      since: T0, details: { value: 20000, count: 3, intervals: [7, 9] },
    })
    expect(alerts[0]!.message).toContain('3 шт. на 200.00')
  })

  it('is part of the rule set, and silent without unreceipted intervals', () => {
    expect(evaluateRules({ machines: [], kassas: [], unreceipted: [interval('VM-001', 3, T0, 100, 1)] }, THRESHOLDS, T0).map((a) => a.key)).toEqual(['machine_unreceipted:VM-001'])
    expect(evaluateRules({ machines: [], kassas: [] }, THRESHOLDS, T0)).toEqual([])
  })
})
