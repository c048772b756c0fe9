import type { ChannelName } from './channel.js'
import type { Delivery } from './delivery.repository.js'

// When to send what: pure, so the backoff is tested without clocks or servers.
export interface NotifyPolicy {
  /** First repeat this long after the last send while an alert stays raised and unacknowledged, then doubling, ms. */
  repeatMs: number
  /** First retry this long after a failed send, then doubling, ms. */
  retryMs: number
}
const REPEAT_CAP_MS = 24 * 3_600_000
const RETRY_CAP_MS = 3_600_000

/** Channels for a rule: its own route, else the longest matching `prefix*`, else `*`, else all channels. */
export function routeOf(routes: Readonly<Record<string, readonly ChannelName[]>> | null, rule: string, all: readonly ChannelName[]): readonly ChannelName[] {
  if (!routes) return all
  if (routes[rule]) return routes[rule]
  const prefix = Object.keys(routes).filter((k) => k.endsWith('*') && rule.startsWith(k.slice(0, -1))).sort((a, b) => b.length - a.length)[0]
  return prefix ? routes[prefix]! : []
}

export type Due = { reason: 'raised' | 'repeat'; attempt: number } | null

/** What to send now to one channel for one open alert, given its last delivery and the sends so far. */
export function dueNow(p: NotifyPolicy, state: { last: Delivery; sent: number } | undefined, acknowledged: boolean, now: Date): Due {
  if (!state) return acknowledged ? null : { reason: 'raised', attempt: 1 }
  const { last, sent } = state
  const since = now.getTime() - last.at.getTime()
  if (last.status === 'failed') {
    if (acknowledged && last.reason === 'repeat') return null
    const wait = Math.min(RETRY_CAP_MS, p.retryMs * 2 ** (last.attempt - 1))
    return since >= wait ? { reason: last.reason as 'raised' | 'repeat', attempt: last.attempt + 1 } : null
  }
  if (acknowledged) return null
  const wait = Math.min(REPEAT_CAP_MS, p.repeatMs * 2 ** Math.max(0, sent - 1))
  return since >= wait ? { reason: 'repeat', attempt: 1 } : null
}
