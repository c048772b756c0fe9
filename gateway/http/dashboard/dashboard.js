// Operator console: plain DOM, no build step. Signs in to a session (an httpOnly cookie the
// script never sees, plus a CSRF token kept in memory) and polls the operator API every few
// seconds. Every value from the API goes in through textContent or an attribute, never as
// markup: machine ids and error texts come from devices. The console-*.js files add views.
'use strict'

const POLL_MS = 5000
const $ = (id) => document.getElementById(id)
/** Who is signed in: { name, role, csrf } from /api/me, or null. */
let me = null
const ROLE_RANK = { viewer: 0, operator: 1, admin: 2 }
const may = (role) => me !== null && ROLE_RANK[me.role] >= ROLE_RANK[role]

// ---------- formatting ----------

/** 1234567 kopecks → "12 345,67 ₽", exactly: integer arithmetic, no floating point. */
function rub(kop) {
  const sign = kop < 0 ? '−' : ''
  const abs = Math.abs(kop)
  const rubles = String(Math.trunc(abs / 100)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u00a0')
  return `${sign}${rubles},${String(abs % 100).padStart(2, '0')}\u00a0₽`
}

const timeFormat = new Intl.DateTimeFormat('ru-RU', { day: '2-digit', month: '2-digit', hour: '2-digit', minute: '2-digit', second: '2-digit' })
const dateFormat = new Intl.DateTimeFormat('ru-RU', { day: '2-digit', month: '2-digit', year: 'numeric' })
const time = (iso) => (iso ? timeFormat.format(new Date(iso)) : '—')
const date = (iso) => (iso ? dateFormat.format(new Date(iso)) : '—')

/** "5 мин назад"-style age of an ISO time. */
function ago(iso) {
  if (!iso) return 'никогда'
  const s = Math.max(0, Math.round((Date.now() - new Date(iso).getTime()) / 1000))
  if (s < 60) return `${s} с назад`
  if (s < 3600) return `${Math.floor(s / 60)} мин назад`
  if (s < 86400) return `${Math.floor(s / 3600)} ч ${Math.floor((s % 3600) / 60)} мин назад`
  return `${Math.floor(s / 86400)} дн назад`
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return '—'
  const h = Math.floor(seconds / 3600)
  return h > 0 ? `${h} ч ${Math.floor((seconds % 3600) / 60)} мин` : `${Math.floor(seconds / 60)} мин`
}

const STATE_LABELS = { pending: 'ждёт чека', submitted: 'в кассе', done: 'чек', failed: 'отказ' }
const PAYMENT_LABELS = { card: 'карта', cash: 'наличные', sbp: 'СБП' }

// ---------- DOM ----------

/** h('td', { class: 'num' }, 'text', childNode…): an element with attributes and text or nodes. */
function h(tag, attrs, ...children) {
  const el = document.createElement(tag)
  for (const [k, v] of Object.entries(attrs ?? {})) if (v !== null && v !== undefined && v !== false) el.setAttribute(k, String(v))
  for (const c of children.flat()) if (c !== null && c !== undefined) el.append(c instanceof Node ? c : String(c))
  return el
}
const machineLink = (id) => h('a', { href: `#/machines/${encodeURIComponent(id)}` }, id)

// ---------- API ----------

class Unauthorized extends Error {}

async function api(path) {
  const res = await fetch(path, { headers: { accept: 'application/json' } })
  if (res.status === 401) throw new Unauthorized()
  if (!res.ok) throw new Error(`${path}: HTTP ${res.status}`)
  return res.json()
}

/** A change: JSON body, the session's CSRF token; the answer's JSON, or an Error with its message. */
async function post(path, body, method = 'POST') {
  const res = await fetch(path, {
    method, headers: { accept: 'application/json', 'content-type': 'application/json', 'x-csrf-token': me?.csrf ?? '' },
    body: JSON.stringify(body ?? {}),
  })
  if (res.status === 401) throw new Unauthorized()
  const answer = await res.json().catch(() => ({}))
  if (!res.ok) throw new Error(answer.error ?? `${path}: HTTP ${res.status}`)
  return answer
}

/** Views the console-*.js files add: { id, pattern, load(match) } for `#/…` routes. */
const VIEWS = []
function registerView(id, pattern, load) { VIEWS.push({ id, pattern, load }) }

/** Every item of a paginated list, following `next`. */
async function all(path) {
  const items = []
  for (let next = null; ;) {
    const sep = path.includes('?') ? '&' : '?'
    const p = await api(next ? `${path}${sep}cursor=${encodeURIComponent(next)}` : path)
    items.push(...p.items)
    if (!p.next) return items
    next = p.next
  }
}

// Shared with the dashboard's other scripts (audits.js).
globalThis.dashboard = { h, rub, time, api, post }

// ---------- views ----------

/** Open raisings by alert key (acknowledged or not), refreshed with the overview. */
let openEvents = new Map()

function renderAlerts(list, alerts) {
  list.replaceChildren(...alerts.map((a) => {
    const ev = openEvents.get(a.key)
    const ack = ev?.acknowledgedAt
      ? h('span', { class: 'muted small ack' }, ` принято: ${ev.acknowledgedBy.replace(/^(user|key):/, '')}, ${time(ev.acknowledgedAt)}`)
      : may('operator') && ev ? h('button', { type: 'button', class: 'ack', 'data-ack': a.key }, 'Принять') : null
    return h('li', { class: a.severity },
      h('span', { class: 'sev' }, a.severity === 'critical' ? 'критично' : 'внимание'), ' ',
      a.subject.kind === 'machine' ? machineLink(a.subject.id) : h('a', { href: `#/kassas/${encodeURIComponent(a.subject.id)}` }, `Касса ${a.subject.id}`),
      ': ', a.message, h('span', { class: 'muted' }, ` с ${time(a.since)}`), ' ', ack)
  }))
  if (alerts.length === 0) list.replaceChildren(h('li', { class: 'ok' }, 'Всё в порядке'))
}

function statusOf(m, alertCount) {
  if (m.disabled) return { cls: 'grey', text: 'отключён' }
  if (!m.online) return { cls: 'red', text: `не в сети ${m.onlineSince ? ago(m.onlineSince) : ''}`.trim() }
  if (alertCount > 0) return { cls: 'amber', text: 'в сети, есть тревоги' }
  return { cls: 'green', text: 'в сети' }
}

function meter(ratio) {
  const pct = Math.min(100, Math.max(0, ratio * 100))
  return h('div', { class: `meter${ratio > 0.9 ? ' hot' : ''}`, title: `${pct.toFixed(1)}%` }, h('span', { 'data-pct': pct.toFixed(1) }))
}

function renderKassas(kassas, alerts) {
  $('kassas').replaceChildren(...kassas.map((k) => {
    const own = alerts.filter((a) => a.subject.kind === 'kassa' && a.subject.id === k.id)
    const fn = k.fn
    const rows = [
      // A cloud kassa's FN and shifts are the provider's: only its backlog is known here.
      ['ФН', fn ? `${fn.number} (${fn.model})` : k.provider === 'emulated' ? 'нет' : `у провайдера (${k.provider})`],
      ['Смена', !k.shift ? '—' : k.shift.open ? `№ ${k.shift.number} открыта ${duration(k.shift.ageS)}, чеков ${k.shift.receipts}` : 'закрыта'],
      ['След. ФД', fn ? fn.nextFd : '—'],
      ['Память ФН', fn ? `${fn.docsUsed} из ${fn.docLimit} (осталось ${fn.docsLeft})` : '—'],
      ['Срок ФН', fn ? `до ${date(fn.expiresAt)}, ${fn.daysLeft} дн.` : '—'],
      ['Ждут чека', `${k.backlog.pending}${k.backlog.oldestPendingAt ? `, старейшая ${duration(k.backlog.oldestPendingAgeS)}` : ''}`],
      ['Отказы', k.backlog.failed],
      ['Не передано в ОФД', k.ofd ? `${k.ofd.unsentCount}${k.ofd.firstUnsentAt ? ` с ${date(k.ofd.firstUnsentAt)}` : ''}` : '—'],
      ['Автоматы', k.machines.length],
    ]
    return h('article', { class: `card ${own.some((a) => a.severity === 'critical') ? 'red' : own.length ? 'amber' : 'green'}`, id: `kassa-${k.id}` },
      h('h3', null, h('a', { href: `#/kassas/${encodeURIComponent(k.id)}` }, `${k.id} · ${k.name}`)),
      fn ? meter(fn.fillRatio) : null,
      fn?.blockedReason ? h('p', { class: 'error' }, fn.blockedReason) : null,
      h('dl', { class: 'facts' }, rows.flatMap(([dt, dd]) => [h('dt', null, dt), h('dd', null, dd)])))
  }))
  // Width set through the CSSOM: the policy forbids inline style attributes.
  for (const bar of document.querySelectorAll('.meter span')) bar.style.width = `${bar.dataset.pct}%`
}

function renderMachine(m, sales, conflicts) {
  $('machine-title').textContent = `${m.id} · ${m.address}, ${m.place}`
  renderAlerts($('machine-alerts'), m.alerts)
  const st = statusOf(m, m.alerts.length)
  const facts = [
    ['Статус', st.text], ['Касса', m.kassaId], ['Последний контакт', `${time(m.lastSeenAt)} (${ago(m.lastSeenAt)})`],
    ['Последняя продажа', time(m.lastSaleAt)], ['Продаж сегодня', `${m.salesToday} (возвратов ${m.refundsToday})`],
    ['Выручка сегодня', rub(m.revenueToday)], ['Ждут чека', m.pendingSales],
    ['Температура', m.temperatureC === null ? '—' : `${m.temperatureC} °C`],
    ['Дверь', m.doorOpen === null ? '—' : m.doorOpen ? 'открыта' : 'закрыта'],
    ['В купюроприёмнике', m.cashBoxKop === null ? '—' : rub(m.cashBoxKop)],
    ['Ошибки', m.errors.length ? m.errors.join(', ') : 'нет'],
    ['Остатки', m.stock ? Object.entries(m.stock).map(([sku, n]) => `${sku}: ${n}`).join(', ') : '—'],
    ['Обычные часы продаж (время автомата)', m.usualHours.length ? m.usualHours.join(', ') : '—'],
  ]
  $('machine-facts').replaceChildren(...facts.flatMap(([dt, dd]) => [h('dt', null, dt), h('dd', null, dd)]))
  $('machine-sales').tBodies[0].replaceChildren(...sales.map((s) => h('tr', { class: s.state === 'failed' ? 'red' : null },
    h('td', null, time(s.soldAt)),
    h('td', null, s.items.map((i) => `${i.name} × ${i.qty}`).join('; '), s.kind === 'refund' ? h('div', { class: 'muted small' }, 'возврат') : null),
    h('td', { class: 'num' }, rub(s.kind === 'refund' ? -s.total : s.total)),
    h('td', null, PAYMENT_LABELS[s.paymentMethod] ?? s.paymentMethod),
    h('td', { title: s.lastError ?? null }, STATE_LABELS[s.state] ?? s.state),
    h('td', null, s.receiptUrl ? h('a', { href: s.receiptUrl, target: '_blank', rel: 'noopener' }, `ФД ${s.receipt.fd}`) : '—'))))
  $('machine-conflicts').tBodies[0].replaceChildren(...conflicts.map((c) => h('tr', { class: 'red' },
    h('td', null, time(c.receivedAt)),
    h('td', null, c.saleId),
    h('td', { class: 'num' }, rub(c.stored.total)),
    h('td', { class: 'num' }, rub(c.incoming.total)),
    h('td', null, STATE_LABELS[c.storedState] ?? c.storedState))))
  $('machine-telemetry').tBodies[0].replaceChildren(...m.telemetryHistory.map((t) => h('tr', null,
    h('td', null, time(t.at)),
    h('td', { class: 'num' }, t.telemetry.temperatureC ?? '—'),
    h('td', null, t.telemetry.doorOpen === undefined ? '—' : t.telemetry.doorOpen ? 'открыта' : 'закрыта'),
    h('td', { class: 'num' }, t.telemetry.cashBoxKop === undefined ? '—' : rub(t.telemetry.cashBoxKop)),
    h('td', null, (t.telemetry.errors ?? []).join(', ')))))
}

// ---------- loop ----------

function show(view) {
  for (const id of ['login', 'overview', 'machine', ...VIEWS.map((v) => v.id)]) $(id).hidden = id !== view
  $('logout').hidden = view === 'login'
  $('nav').hidden = view === 'login'
  for (const el of document.querySelectorAll('[data-role]')) el.hidden = !may(el.dataset.role)
  $('whoami').textContent = me ? `${me.name} (${ROLE_NAMES[me.role]})` : ''
}
const ROLE_NAMES = { admin: 'администратор', operator: 'оператор', viewer: 'наблюдатель' }

function route() {
  for (const v of VIEWS) {
    const m = v.pattern.exec(location.hash)
    if (m) return { view: v.id, match: m, custom: v }
  }
  const m = /^#\/machines\/(.+)$/.exec(location.hash)
  return m ? { view: 'machine', id: decodeURIComponent(m[1]) } : { view: 'overview' }
}

let timer = null
async function refresh() {
  clearTimeout(timer)
  const r = route()
  try {
    if (!me) {
      const session = await api('/auth/session')
      if (!session.signedIn) return show('login')
      me = { name: session.name, role: session.role, csrf: session.csrf }
    }
    if (r.custom) {
      show(r.view) // first, so a view can measure itself (a chart takes its container's width)
      await r.custom.load(r.match)
    } else if (r.view === 'machine') {
      const [m, sales, conflicts] = await Promise.all([api(`/api/machines/${encodeURIComponent(r.id)}`),
        api(`/api/sales?machine=${encodeURIComponent(r.id)}&limit=20`), api(`/api/conflicts?machine=${encodeURIComponent(r.id)}&limit=20`)])
      renderMachine(m, sales.items, conflicts.items)
    } else {
      const [kassas, alerts, events, summary] = await Promise.all([all('/api/kassas?limit=1000'), api('/api/alerts'), api('/api/alert-events'), api('/api/fleet/summary')])
      openEvents = new Map(events.items.map((e) => [e.key, e]))
      renderAlerts($('alerts'), alerts.items)
      $('alert-count').textContent = alerts.items.length || ''
      renderKassas(kassas, alerts.items)
      // Enabled machines only: a disabled machine is neither online nor missing.
      $('fleet-summary').textContent = `в сети ${summary.online} из ${summary.machines}${summary.disabled ? `, отключено ${summary.disabled}` : ''}`
      await refreshMachines(kassas, alerts.items)
      if (location.hash.startsWith('#/kassas/')) $(`kassa-${decodeURIComponent(location.hash.slice(9))}`)?.scrollIntoView()
    }
    show(r.view)
    $('status').textContent = `обновлено ${timeFormat.format(new Date())}`
    $('status').classList.remove('error')
  } catch (err) {
    if (err instanceof Unauthorized) {
      me = null
      return show('login')
    }
    $('status').textContent = `нет связи: ${err.message}`
    $('status').classList.add('error')
  }
  timer = setTimeout(refresh, POLL_MS)
}

document.addEventListener('DOMContentLoaded', () => {
  $('login-form').addEventListener('submit', async (e) => {
    e.preventDefault()
    const res = await fetch('/auth/login', {
      method: 'POST', headers: { 'content-type': 'application/json', accept: 'application/json' },
      body: JSON.stringify({ username: $('username').value.trim(), password: $('password').value }),
    })
    $('password').value = ''
    if (!res.ok) {
      $('login-error').textContent = res.status === 401 ? 'Неверное имя или пароль' : `Ошибка входа: HTTP ${res.status}`
      return
    }
    const s = await res.json()
    me = { name: s.username, role: s.role, csrf: s.csrf }
    $('login-error').textContent = ''
    void refresh()
  })
  $('logout').addEventListener('click', async () => {
    await fetch('/auth/logout', { method: 'POST' })
    me = null
    show('login')
  })
  // Acknowledge buttons anywhere: the alert list is rebuilt on each poll, so listen on the document.
  document.addEventListener('click', async (e) => {
    const key = e.target instanceof HTMLElement ? e.target.dataset.ack : undefined
    if (!key) return
    e.target.disabled = true
    try {
      await post(`/api/alerts/${encodeURIComponent(key)}/ack`)
    } catch (err) {
      $('status').textContent = `не удалось принять: ${err.message}`
    }
    void refresh()
  })
  window.addEventListener('hashchange', () => void refresh())
  void refresh()
})
