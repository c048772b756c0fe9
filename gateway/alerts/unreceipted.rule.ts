import { formatRubles } from '../../protocol/index.js'
import { alert } from './alert.rules.js'
import type { AlertCandidate, UnreceiptedInterval } from './alert.types.js'

/**
 * One alert per machine whose audits show vends without a receipt: critical, because the fine is
 * 25–100% of the amount (at least 10,000 ₽) unless a correction receipt comes first (KoAP 14.5).
 * It lasts until every such interval is corrected.
 */
export function machinesUnreceipted(intervals: readonly UnreceiptedInterval[]): AlertCandidate[] {
  const byMachine = new Map<string, UnreceiptedInterval[]>()
  for (const i of intervals) byMachine.set(i.machineId, [...(byMachine.get(i.machineId) ?? []), i])
  return [...byMachine].map(([machineId, list]) => {
    const value = list.reduce((n, i) => n + i.value, 0)
    const count = list.reduce((n, i) => n + i.count, 0)
    const since = new Date(Math.min(...list.map((i) => i.to.getTime())))
    return alert('machine_unreceipted', 'critical', 'machine', machineId,
      `Продажи без чека по аудиту автомата: ${count} шт. на ${formatRubles(value)}; нужен чек коррекции`, since,
      { value, count, intervals: list.map((i) => i.intervalId) })
  })
}
