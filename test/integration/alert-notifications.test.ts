import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { signIn } from '../support/console-session.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { startSinks, type Sinks } from '../support/notify-sinks.js'
import { provisionFleet, startBroker, startGateway } from '../support/system.js'
import { waitFor } from '../support/wait.js'
import { createUser } from '../../gateway/accounts/account.repository.js'

const SECRET = 'webhook-secret-0123456789'

describe('alert notifications to e-mail, Telegram and a signed webhook (real local endpoints)', () => {
  let database: TestDatabase
  let sinks: Sinks
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>

  beforeAll(async () => {
    database = await createTestDatabase()
    sinks = await startSinks(SECRET)
    sinks.failTelegram.remaining = 2
    await provisionFleet(database.handle.db, 1)
    await createUser(database.handle.db, { username: 'oleg', password: 'operator-password-1', role: 'operator' })
    // Provisioned two hours ago and never seen: offline past ALERT_OFFLINE_MIN at the first evaluation.
    await sql`update machines set created_at = now() - interval '2 hours'`.execute(database.handle.db)
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url, {
      ALERT_INTERVAL_S: '1', ALERT_OFFLINE_MIN: '1',
      NOTIFY_SMTP_URL: sinks.smtpUrl, NOTIFY_EMAIL_TO: 'duty@example.ru,boss@example.ru', NOTIFY_EMAIL_FROM: 'gateway@example.ru',
      NOTIFY_TELEGRAM_TOKEN: '123456:test-token', NOTIFY_TELEGRAM_CHAT_ID: '-100200300', NOTIFY_TELEGRAM_API_URL: sinks.telegramUrl,
      NOTIFY_WEBHOOK_URL: sinks.webhookUrl, NOTIFY_WEBHOOK_SECRET: SECRET, NOTIFY_RETRY_S: '1', NOTIFY_REPEAT_MIN: '60',
    })
  }, 60_000)
  afterAll(async () => {
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await sinks?.close()
    await database?.drop()
  })

  it('sends an offline alert to all three once, retrying the failing channel with doubling backoff while the others go through', async () => {
    await waitFor(() => sinks.mails.length === 1 && sinks.webhooks.length === 1, 'the e-mail and the webhook', 30_000)
    // Telegram failed first (502): the other two were not held up by it.
    expect(sinks.telegram).toHaveLength(0)
    await waitFor(() => sinks.telegram.length === 1, 'telegram after two failures', 30_000)
    expect(sinks.failTelegram.failed).toBe(2)

    expect(sinks.mails[0]!.to).toEqual(['duty@example.ru', 'boss@example.ru'])
    expect(sinks.mails[0]!.raw).toContain('Subject: =?UTF-8?')
    expect(sinks.telegram[0]).toMatchObject({ token: '123456:test-token', chatId: '-100200300' })
    expect(sinks.telegram[0]!.text).toContain('Автомат не в сети (автомат VM-001)')
    expect(sinks.webhooks[0]).toMatchObject({ signatureOk: true, body: { reason: 'raised', alert: { key: 'machine_offline:VM-001', rule: 'machine_offline', subject: { kind: 'machine', id: 'VM-001' } } } })

    // The sink answered before the gateway recorded the send: wait for the record.
    await waitFor(async () => (await sql`select 1 from notification_deliveries where channel = 'telegram' and status = 'sent'`.execute(database.handle.db)).rows.length === 1, 'the recorded send')
    const deliveries = (await sql<{ channel: string; attempt: number; status: string; at: Date }>`
      select channel, attempt, status, at from notification_deliveries order by id`.execute(database.handle.db)).rows
    const tg = deliveries.filter((d) => d.channel === 'telegram')
    expect(tg.map((d) => `${d.attempt} ${d.status}`)).toEqual(['1 failed', '2 failed', '3 sent'])
    // Backoff: the second retry waited at least twice the first's 1 s.
    expect(tg[1]!.at.getTime() - tg[0]!.at.getTime()).toBeGreaterThanOrEqual(1000)
    expect(tg[2]!.at.getTime() - tg[1]!.at.getTime()).toBeGreaterThanOrEqual(2000)

    // Once: further passes while the alert stays raised send nothing more (the repeat is an hour away).
    await gw.alerts.evaluateOnce()
    expect(await gw.notifications!.runOnce()).toBe(0)
    expect([sinks.mails.length, sinks.telegram.length, sinks.webhooks.length]).toEqual([1, 1, 1])
  }, 60_000)

  it('shows each channel with its failures, records the acknowledgement with who and when, and test-sends on demand', async () => {
    const base = `http://127.0.0.1:${gw.httpPort}`
    const s = await signIn(base, 'oleg', 'operator-password-1')
    const channels = (await s.call('GET', '/api/notifications')).body.channels
    expect(channels.map((c: any) => [c.name, c.failures, c.last.status])).toEqual([['email', 0, 'sent'], ['telegram', 2, 'sent'], ['webhook', 0, 'sent']])
    expect(channels[1].lastFailure.error).toBe('telegram: HTTP 502: Bad Gateway')

    const ack = await s.call('POST', `/api/alerts/${encodeURIComponent('machine_offline:VM-001')}/ack`)
    expect(ack.status).toBe(200)
    expect(ack.body).toMatchObject({ key: 'machine_offline:VM-001', acknowledgedBy: 'user:oleg', clearedAt: null })
    expect((await s.call('POST', `/api/alerts/${encodeURIComponent('machine_offline:VM-001')}/ack`)).status).toBe(409)
    const history = (await s.call('GET', '/api/alert-history')).body.items
    expect(history[0]).toMatchObject({ key: 'machine_offline:VM-001', acknowledgedBy: 'user:oleg' })
    expect(Date.parse(history[0].acknowledgedAt)).toBeGreaterThanOrEqual(Date.parse(history[0].raisedAt))

    // Test-send is for admins; the operator is refused.
    expect((await s.call('POST', '/api/notifications/test', {})).status).toBe(403)
    const answer = await fetch(`${base}/api/notifications/test`, {
      method: 'POST', headers: { authorization: 'Bearer test-operator-token-0123456789', 'content-type': 'application/json' }, body: '{"channel":"webhook"}',
    })
    expect(await answer.json()).toEqual({ results: [{ channel: 'webhook', ok: true, error: null }] })
    expect(sinks.webhooks.at(-1)).toMatchObject({ signatureOk: true, body: { reason: 'test', alert: null } })
  })

  it('clears the raising in the history when the machine comes online', async () => {
    await sql`update machines set online = true, online_changed_at = now(), last_seen_at = now()`.execute(database.handle.db)
    await gw.alerts.evaluateOnce()
    const row = (await sql<{ cleared_at: Date | null; acknowledged_by: string }>`select cleared_at, acknowledged_by from alert_events where key = 'machine_offline:VM-001'`.execute(database.handle.db)).rows
    expect(row).toHaveLength(1)
    expect(row[0]!.cleared_at).not.toBeNull()
  })
})
