import pino from 'pino'
import { afterEach, describe, expect, it } from 'vitest'
import { createAlertEvaluator, nextActiveSet } from '../../gateway/alerts/alert.evaluator.js'
import type { AlertCandidate, FleetSnapshot } from '../../gateway/alerts/alert.types.js'
import { HOUR, kassa, machine, MIN, plus, T0, THRESHOLDS } from './alerts-fixtures.js'

const candidate = (key: string, since: Date | null): AlertCandidate => ({
  key, rule: 'machine_errors', severity: 'warning', subject: { kind: 'machine', id: key }, link: '', message: '', since, details: {},
})

/** A logger whose records the test reads (pino writes JSON lines to this stream). */
function recordingLogger() {
  const records: { msg: string; alert?: { key: string } }[] = []
  const logger = pino({ level: 'info' }, { write: (line: string) => { records.push(JSON.parse(line)) } })
  return { logger, records }
}

describe('nextActiveSet', () => {
  it('raises new keys, keeps the first-seen time of undated alerts, and clears keys no longer found', () => {
    const first = nextActiveSet(new Map(), [candidate('a', null), candidate('b', T0)], plus(T0, MIN))
    expect(first.raised.map((a) => a.key)).toEqual(['a', 'b'])
    expect(first.active.get('a')!.since).toEqual(plus(T0, MIN))
    expect(first.active.get('b')!.since).toEqual(T0)

    const second = nextActiveSet(first.active, [candidate('a', null)], plus(T0, 2 * MIN))
    expect(second.raised).toEqual([])
    expect(second.active.get('a')!.since).toEqual(plus(T0, MIN)) // still the first time seen
    expect(second.cleared.map((a) => a.key)).toEqual(['b'])
  })
})

describe('the alert evaluator', () => {
  let stop: (() => Promise<void>) | null = null
  afterEach(async () => { await stop?.(); stop = null })

  it('raises and clears alerts as the state and its injected clock move, logging each transition once', async () => {
    let now = T0
    let snapshot: FleetSnapshot = { machines: [machine({ online: false, onlineSince: T0 })], kassas: [kassa()] }
    const { logger, records } = recordingLogger()
    const evaluator = createAlertEvaluator({ load: async () => snapshot, thresholds: THRESHOLDS, logger, now: () => now, intervalMs: 60_000 })

    expect(await evaluator.evaluateOnce()).toEqual([])
    now = plus(T0, 11 * MIN)
    const raised = await evaluator.evaluateOnce()
    expect(raised.map((a) => a.key)).toEqual(['machine_offline:VM-001'])
    expect(raised[0]!.since).toEqual(plus(T0, 10 * MIN))
    await evaluator.evaluateOnce() // still offline: no second "raised"
    snapshot = { machines: [machine({ online: true, onlineSince: now })], kassas: [kassa()] }
    now = plus(T0, 12 * MIN)
    expect(await evaluator.evaluateOnce()).toEqual([])
    expect(records.map((r) => `${r.msg} ${r.alert?.key}`)).toEqual(['alert raised machine_offline:VM-001', 'alert cleared machine_offline:VM-001'])
  })

  it('lists critical alerts first, then the oldest', async () => {
    const snapshot: FleetSnapshot = {
      machines: [machine({ id: 'VM-002', errors: ['E1'] }), machine({ id: 'VM-001', online: false, onlineSince: plus(T0, -HOUR) })],
      kassas: [kassa({ oldestPendingAt: plus(T0, -MIN * 5) })],
    }
    const evaluator = createAlertEvaluator({ load: async () => snapshot, thresholds: THRESHOLDS, logger: pino({ level: 'silent' }), now: () => T0, intervalMs: 60_000 })
    const list = await evaluator.evaluateOnce()
    expect(list.map((a) => a.key)).toEqual(['kassa_pending_old:K1', 'machine_offline:VM-001', 'machine_errors:VM-002'])
    expect(evaluator.active()).toEqual(list)
  })

  it('keeps the active set when loading the state fails, and evaluates on its timer until stopped', async () => {
    let fail = false
    let loads = 0
    const evaluator = createAlertEvaluator({
      load: async () => { loads++; if (fail) throw new Error('database away'); return { machines: [machine({ errors: ['E1'] })], kassas: [] } },
      thresholds: THRESHOLDS, logger: pino({ level: 'silent' }), now: () => T0, intervalMs: 5,
    })
    evaluator.start()
    stop = evaluator.stop
    await expect.poll(() => evaluator.active().length).toBe(1)
    fail = true
    const seen = loads
    await expect.poll(() => loads).toBeGreaterThan(seen + 1)
    expect(evaluator.active().map((a) => a.key)).toEqual(['machine_errors:VM-001'])
  })
})
