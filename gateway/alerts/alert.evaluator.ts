import type { Logger } from 'pino'
import { evaluateRules } from './alert.rules.js'
import type { Alert, AlertCandidate, AlertThresholds, FleetSnapshot } from './alert.types.js'

export interface AlertTransition {
  active: Map<string, Alert>
  raised: Alert[]
  cleared: Alert[]
}

/**
 * The next active set from the previous one and what the rules found now. Pure. An alert whose
 * rule cannot date it keeps the time it was first seen for as long as it stays active.
 */
export function nextActiveSet(previous: ReadonlyMap<string, Alert>, found: readonly AlertCandidate[], now: Date): AlertTransition {
  const active = new Map<string, Alert>()
  const raised: Alert[] = []
  for (const c of found) {
    const before = previous.get(c.key)
    const alert: Alert = { ...c, since: c.since ?? before?.since ?? now }
    active.set(c.key, alert)
    if (!before) raised.push(alert)
  }
  const cleared = [...previous.values()].filter((a) => !active.has(a.key))
  return { active, raised, cleared }
}

const SEVERITY_ORDER = { critical: 0, warning: 1 } as const

export interface AlertEvaluatorDeps {
  /** Reads the fleet's state as of `now`. */
  load: (now: Date) => Promise<FleetSnapshot>
  thresholds: Readonly<AlertThresholds>
  logger: Logger
  now?: () => Date
  /** ms between evaluations. */
  intervalMs: number
  /** Told of each evaluation's outcome (history, notifications); a failure is logged, the active set kept. */
  onEvaluated?: (t: AlertTransition, now: Date) => Promise<void>
}

/**
 * Runs the rules every `intervalMs` and keeps the active set in memory; raised and cleared
 * alerts are logged once each. Each gateway process evaluates on its own (the rules read shared
 * state, so they agree); an alert that cannot be dated from data restarts its `since` on restart.
 */
export function createAlertEvaluator(deps: AlertEvaluatorDeps) {
  const now = deps.now ?? (() => new Date())
  const log = deps.logger
  let active = new Map<string, Alert>()
  let timer: NodeJS.Timeout | null = null
  let running: Promise<readonly Alert[]> | null = null

  async function evaluate(): Promise<readonly Alert[]> {
    const t = now()
    const snapshot = await deps.load(t)
    const next = nextActiveSet(active, evaluateRules(snapshot, deps.thresholds, t), t)
    active = next.active
    for (const a of next.raised) log.warn({ alert: summary(a) }, 'alert raised')
    for (const a of next.cleared) log.info({ alert: summary(a), durationS: Math.round((t.getTime() - a.since.getTime()) / 1000) }, 'alert cleared')
    await deps.onEvaluated?.(next, t).catch((err: unknown) => log.warn({ err }, 'alert history not recorded; next evaluation retries'))
    return list()
  }

  /** Evaluates once more, after any evaluation in flight (which may have read an older clock), and returns the active alerts. */
  async function evaluateOnce(): Promise<readonly Alert[]> {
    while (running) await running.catch(() => undefined)
    const run = evaluate().finally(() => { running = null })
    running = run
    return run
  }

  function list(): Alert[] {
    return [...active.values()].sort((a, b) =>
      SEVERITY_ORDER[a.severity] - SEVERITY_ORDER[b.severity] || a.since.getTime() - b.since.getTime() || a.key.localeCompare(b.key))
  }

  function start(): void {
    // A tick finding the previous evaluation still running skips, so slow evaluations never queue up.
    const tick = () => { if (!running) evaluateOnce().catch((err) => log.warn({ err }, 'alert evaluation failed; the active set is kept')) }
    tick()
    timer = setInterval(tick, deps.intervalMs)
  }

  async function stop(): Promise<void> {
    if (timer) clearInterval(timer)
    timer = null
    await running?.catch(() => undefined)
  }

  return { evaluateOnce, active: list, start, stop }
}
export type AlertEvaluator = ReturnType<typeof createAlertEvaluator>

const summary = (a: Alert) => ({ key: a.key, rule: a.rule, severity: a.severity, subject: a.subject, since: a.since, message: a.message })
