// Alerts: the open ones with their acknowledgement, the history (raised, acknowledged, cleared),
// and the notification channels with their failures and a test-send button.
'use strict'

async function loadAlertsView() {
  const [alerts, events, history, notifications] = await Promise.all([
    api('/api/alerts'), api('/api/alert-events'), api('/api/alert-history?limit=100'), api('/api/notifications'),
  ])
  openEvents = new Map(events.items.map((e) => [e.key, e]))
  renderAlerts($('alerts-open'), alerts.items)
  $('alerts-history').tBodies[0].replaceChildren(...history.items.map((e) => h('tr', null,
    h('td', null, time(e.raisedAt)),
    h('td', null, e.subject.kind === 'machine' ? machineLink(e.subject.id) : h('a', { href: `#/kassas/${encodeURIComponent(e.subject.id)}` }, e.subject.id)),
    h('td', { class: 'wrap' }, e.message),
    h('td', null, e.acknowledgedAt ? `${time(e.acknowledgedAt)}, ${e.acknowledgedBy.replace(/^(user|key):/, '')}` : '—'),
    h('td', null, e.clearedAt ? time(e.clearedAt) : 'активна'))))
  $('channels').replaceChildren(...(notifications.channels.length ? notifications.channels.map((c) => h('li', { class: c.last?.status === 'failed' ? 'critical' : 'ok' },
    h('strong', null, { email: 'E-mail', telegram: 'Telegram', webhook: 'Webhook' }[c.name] ?? c.name), ': ',
    c.last ? `${c.last.status === 'sent' ? 'отправлено' : 'ошибка'} ${time(c.last.at)}` : 'ещё не отправляло',
    c.failures ? h('div', { class: 'error small' }, `ошибок: ${c.failures}; последняя ${time(c.lastFailure.at)}: ${c.lastFailure.error}`) : null))
    : [h('li', null, 'Каналы не настроены (NOTIFY_* в окружении шлюза)')]))
}

registerView('alerts-view', /^#\/alerts$/, loadAlertsView)

document.addEventListener('DOMContentLoaded', () => {
  $('test-send').addEventListener('click', async () => {
    $('test-send-result').textContent = 'отправка…'
    try {
      const r = await post('/api/notifications/test', {})
      $('test-send-result').textContent = r.results.map((x) => `${x.channel}: ${x.ok ? 'доставлено' : x.error}`).join('; ')
    } catch (err) {
      $('test-send-result').textContent = err.message
    }
    void refresh()
  })
})
