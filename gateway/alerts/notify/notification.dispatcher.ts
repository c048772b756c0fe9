import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import { openAlertEvents, type AlertEvent } from '../alert-history.repository.js'
import type { Channel, ChannelName, Notice } from './channel.js'
import { deliveryState, recordDelivery } from './delivery.repository.js'
import { dueNow, routeOf, type NotifyPolicy } from './notify-policy.js'

export interface DispatcherDeps {
  db: Kysely<any>
  channels: readonly Channel[]
  /** Per rule (`machine_offline`, `kassa_*`, `*`); null: every channel for every rule. */
  routes: Readonly<Record<string, readonly ChannelName[]>> | null
  policy: NotifyPolicy
  /** The console, for links in messages. */
  publicUrl: string
  logger: Logger
  now?: () => Date
  /** ms between looks for due sends. */
  tickMs?: number
  /** Several gateways on one PostgreSQL: one of them sends at a time (advisory lock). Off on embedded PGlite. */
  exclusive: boolean
}

const LOCK_KEY = 7_316_016 // pg advisory lock: the notification dispatcher
const when = new Intl.DateTimeFormat('ru-RU', { timeZone: 'Europe/Moscow', day: '2-digit', month: '2-digit', year: 'numeric', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' })

export function noticeOf(e: AlertEvent, reason: 'raised' | 'repeat', publicUrl: string): Notice {
  const what = e.subject.kind === 'machine' ? `автомат ${e.subject.id}` : `касса ${e.subject.id}`
  const link = `${publicUrl}/#/${e.subject.kind === 'machine' ? 'machines' : 'kassas'}/${encodeURIComponent(e.subject.id)}`
  return {
    reason,
    title: `${reason === 'repeat' ? 'Всё ещё: ' : ''}${e.message} (${what})`,
    text: `${e.severity === 'critical' ? 'Критично' : 'Внимание'}: ${e.message}, ${what}, с ${when.format(e.raisedAt)} МСК.\n${link}`,
    alert: { id: e.id, key: e.key, rule: e.rule, severity: e.severity, subject: e.subject, message: e.message, raisedAt: e.raisedAt },
  }
}

/**
 * Sends each open alert to its rule's channels once, repeats with doubling intervals while it
 * stays raised and unacknowledged, and retries a failed send with doubling backoff. Channels
 * send in parallel, each with its own timeout, so one that fails or hangs holds up no other.
 */
export function createNotificationDispatcher(deps: DispatcherDeps) {
  const now = deps.now ?? (() => new Date())
  const byName = new Map(deps.channels.map((c) => [c.name, c]))
  let timer: NodeJS.Timeout | null = null
  let running: Promise<number> | null = null

  async function dispatch(): Promise<number> {
    const events = await openAlertEvents(deps.db)
    const state = await deliveryState(deps.db, events.map((e) => e.id))
    const t = now()
    const sends: Promise<string | null>[] = []
    for (const e of events) {
      for (const name of routeOf(deps.routes, e.rule, [...byName.keys()])) {
        const channel = byName.get(name)
        const due = channel && dueNow(deps.policy, state.get(`${e.id}:${name}`), e.acknowledgedAt !== null, t)
        if (channel && due) sends.push(sendOne(channel, noticeOf(e, due.reason, deps.publicUrl), e.id, due.attempt))
      }
    }
    await Promise.all(sends)
    return sends.length
  }

  /** Sends and records the outcome; the error, or null when sent. */
  async function sendOne(channel: Channel, notice: Notice, eventId: number | null, attempt: number): Promise<string | null> {
    let error: string | null = null
    try {
      await channel.send(notice)
    } catch (err) {
      error = (err as Error).message.slice(0, 500)
      deps.logger.warn({ channel: channel.name, alertKey: notice.alert?.key, attempt, err }, 'notification failed; will retry')
    }
    await recordDelivery(deps.db, { alertEventId: eventId, channel: channel.name, reason: notice.reason, attempt, status: error ? 'failed' : 'sent', error, at: now() })
    return error
  }

  /** One pass; with `exclusive`, only while holding the dispatcher's lock on a pinned connection. */
  async function runOnce(): Promise<number> {
    while (running) await running.catch(() => 0)
    const run = (deps.exclusive
      ? deps.db.connection().execute(async (conn) => {
        const got = await sql<{ ok: boolean }>`select pg_try_advisory_lock(${LOCK_KEY}) as ok`.execute(conn)
        if (!got.rows[0]?.ok) return 0
        try { return await dispatch() } finally { await sql`select pg_advisory_unlock(${LOCK_KEY})`.execute(conn) }
      })
      : dispatch()).finally(() => { running = null })
    running = run
    return run
  }

  /** The test-send button: one message to each channel (or one) now; each channel's outcome. */
  async function testSend(only?: ChannelName): Promise<{ channel: ChannelName; ok: boolean; error: string | null }[]> {
    const notice: Notice = { reason: 'test', title: 'Проверка уведомлений', text: `Тестовое сообщение консоли парка автоматов.\n${deps.publicUrl}/`, alert: null }
    const chosen = deps.channels.filter((c) => only === undefined || c.name === only)
    return Promise.all(chosen.map(async (c) => {
      const error = await sendOne(c, notice, null, 1)
      return { channel: c.name, ok: error === null, error }
    }))
  }

  return {
    runOnce, testSend,
    channels: () => deps.channels.map((c) => c.name),
    start() {
      const tick = () => { if (!running) runOnce().catch((err) => deps.logger.warn({ err }, 'notification pass failed')) }
      timer = setInterval(tick, deps.tickMs ?? 1000)
    },
    async stop() {
      if (timer) clearInterval(timer)
      timer = null
      await running?.catch(() => 0)
      for (const c of deps.channels) c.close?.()
    },
  }
}
export type NotificationDispatcher = ReturnType<typeof createNotificationDispatcher>
