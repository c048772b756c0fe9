import { describe, expect, it } from 'vitest'
import type { Delivery } from '../../gateway/alerts/notify/delivery.repository.js'
import { dueNow, routeOf } from '../../gateway/alerts/notify/notify-policy.js'

const policy = { repeatMs: 60_000, retryMs: 1000 }
const T0 = Date.parse('2026-12-02T00:34:00Z')
const at = (ms: number) => new Date(T0 + ms)
const last = (d: Partial<Delivery>, sent: number) => ({ last: { id: 1, alertEventId: 1, channel: 'email', reason: 'raised', attempt: 1, status: 'sent', error: null, at: at(0), ...d } as Delivery, sent })

describe('notification policy', () => {
  it('routes a rule by its own entry, then the longest matching prefix, then *, and with no routes to every channel', () => {
    const routes = { machine_offline: ['telegram'], 'kassa_*': ['email', 'webhook'], 'kassa_fn_*': ['webhook'], '*': ['email'] } as const
    const all = ['email', 'telegram', 'webhook'] as const
    expect(routeOf(routes, 'machine_offline', all)).toEqual(['telegram'])
    expect(routeOf(routes, 'kassa_fn_expiry', all)).toEqual(['webhook'])
    expect(routeOf(routes, 'kassa_pending_old', all)).toEqual(['email', 'webhook'])
    expect(routeOf(routes, 'machine_errors', all)).toEqual(['email'])
    expect(routeOf({ machine_offline: [] }, 'machine_errors', all)).toEqual([])
    expect(routeOf(null, 'machine_errors', all)).toEqual(all)
  })

  it('sends a new alert at once, and nothing for one acknowledged before it was sent', () => {
    expect(dueNow(policy, undefined, false, at(0))).toEqual({ reason: 'raised', attempt: 1 })
    expect(dueNow(policy, undefined, true, at(0))).toBeNull()
  })

  it('retries a failure after 1, 2, 4 … times the base, capped at an hour', () => {
    expect(dueNow(policy, last({ status: 'failed', attempt: 1 }, 0), false, at(999))).toBeNull()
    expect(dueNow(policy, last({ status: 'failed', attempt: 1 }, 0), false, at(1000))).toEqual({ reason: 'raised', attempt: 2 })
    expect(dueNow(policy, last({ status: 'failed', attempt: 3 }, 0), false, at(3999))).toBeNull()
    expect(dueNow(policy, last({ status: 'failed', attempt: 3 }, 0), false, at(4000))).toEqual({ reason: 'raised', attempt: 4 })
    expect(dueNow(policy, last({ status: 'failed', attempt: 40 }, 0), false, at(3_600_000))).toEqual({ reason: 'raised', attempt: 41 })
  })

  it('repeats while raised with doubling intervals, and stops once acknowledged', () => {
    expect(dueNow(policy, last({}, 1), false, at(59_999))).toBeNull()
    expect(dueNow(policy, last({}, 1), false, at(60_000))).toEqual({ reason: 'repeat', attempt: 1 })
    expect(dueNow(policy, last({ reason: 'repeat' }, 3), false, at(239_999))).toBeNull()
    expect(dueNow(policy, last({ reason: 'repeat' }, 3), false, at(240_000))).toEqual({ reason: 'repeat', attempt: 1 })
    expect(dueNow(policy, last({}, 1), true, at(10 * 60_000))).toBeNull()
    // A first send that failed is still retried after the acknowledgement: someone acknowledged, others were not told yet.
    expect(dueNow(policy, last({ status: 'failed' }, 0), true, at(1000))).toEqual({ reason: 'raised', attempt: 2 })
  })
})
