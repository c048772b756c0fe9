// Dashboard: machine audits against receipts. The fleet-wide list of vends without a receipt (with
// CSV export) on the overview; each machine's reconciliation intervals, with a button that issues
// a correction receipt after a confirmation stating the amount. Uses the helpers dashboard.js
// exposes as globalThis.dashboard; every value goes in through textContent or attributes.
// In a function of its own: classic scripts share one global scope, and dashboard.js has its own
// renderMachine, send and the like.
(() => {
'use strict'

const VERDICTS = { ok: 'сходится', unreceipted: 'продажи без чека', over: 'чеков больше, чем продаж', corrected: 'исправлено чеком коррекции' }
const STATUSES = { settling: 'ждём продажи в пути', baseline: 'новая база счётчиков', profile_unknown: 'профиль модели неизвестен' }

// Through the console's own helpers: the session cookie, and its CSRF token on a change.
const send = (path, method) => (method === 'GET' ? globalThis.dashboard.api(path) : globalThis.dashboard.post(path))

function money(d, part) {
  const x = d?.[part]
  return x ? `${x.count} шт. · ${globalThis.dashboard.rub(x.value)}` : '—'
}

async function downloadCsv() {
  const res = await fetch('/api/reconciliation/unreceipted?format=csv')
  if (!res.ok) return
  const a = document.createElement('a')
  a.href = URL.createObjectURL(await res.blob())
  a.download = 'unreceipted.csv'
  a.click()
  setTimeout(() => URL.revokeObjectURL(a.href), 1000)
}

async function renderFleetList() {
  const { h, rub, time } = globalThis.dashboard
  const section = document.getElementById('unreceipted')
  if (!section || section.closest('[hidden]')) return
  const list = await send('/api/reconciliation/unreceipted', 'GET')
  const rows = list.items.map((r) => h('tr', { class: 'red' },
    h('td', null, h('a', { href: `#/machines/${encodeURIComponent(r.machineId)}` }, r.machineId)),
    h('td', null, `${time(r.from)} — ${time(r.to)}`),
    h('td', { class: 'num' }, r.count), h('td', { class: 'num' }, rub(r.value)),
    h('td', { class: 'num' }, r.cash === null ? '—' : rub(r.cash)), h('td', { class: 'num' }, r.cashless === null ? '—' : rub(r.cashless))))
  section.querySelector('tbody').replaceChildren(...(rows.length ? rows : [h('tr', null, h('td', { colspan: 6, class: 'muted' }, 'Все продажи по аудитам пробиты'))]))
  section.querySelector('.summary').textContent = rows.length ? `итого ${list.total.count} шт. на ${rub(list.total.value)}` : ''
}

async function correct(machineId, interval) {
  const { rub } = globalThis.dashboard
  const u = interval.unreceipted
  const split = interval.difference.cash ? ` (наличными ${rub(u.cash)}, безналичными ${rub(u.ecash)})` : ''
  const text = `Выпустить чек коррекции (самостоятельно, приход) по автомату ${machineId} на ${rub(u.total)}${split}, ${u.vends} шт.?\nНа один интервал выпускается один чек.`
  if (!window.confirm(text)) return
  try {
    const r = await send(`/api/machines/${encodeURIComponent(machineId)}/intervals/${interval.id}/correction`, 'POST')
    window.alert(r.status === 'done' ? `Чек коррекции выпущен: ФД ${r.fd}` : `Чек коррекции отправлен, состояние: ${r.status}`)
  } catch (err) {
    window.alert(`Чек коррекции не выпущен: ${err.message}`)
  }
  void renderMachine(machineId)
}

async function renderMachine(machineId) {
  const { h, time } = globalThis.dashboard
  const section = document.getElementById('machine-reconciliation')
  if (!section) return
  const { items } = await send(`/api/machines/${encodeURIComponent(machineId)}/reconciliation`, 'GET')
  const rows = items.map((i) => {
    const verdict = i.verdict ? VERDICTS[i.verdict] : `${STATUSES[i.status] ?? i.status}${i.reason ? `: ${i.reason}` : ''}`
    const action = i.verdict === 'unreceipted'
      ? h('button', { type: 'button' }, 'Чек коррекции')
      : i.correction?.fd ? h('a', { href: `/r/${i.correction.fn}/${i.correction.fd}?fp=${i.correction.fp}`, target: '_blank', rel: 'noopener' }, `ФД ${i.correction.fd}`) : null
    if (action?.tagName === 'BUTTON') action.addEventListener('click', () => void correct(machineId, i))
    return h('tr', { class: i.verdict === 'unreceipted' || i.verdict === 'over' ? 'red' : i.verdict === 'corrected' ? 'amber' : null },
      h('td', null, `${time(i.from)} — ${time(i.to)}`, h('div', { class: 'muted small' }, `интервал ${i.id}${i.profile ? ` · ${i.profile}` : ''}`)),
      h('td', { class: 'num' }, money(i.counted, 'total')), h('td', { class: 'num' }, money(i.receipted, 'total')),
      h('td', { class: 'num' }, money(i.difference, 'total')), h('td', { class: 'num' }, money(i.difference, 'cash')),
      h('td', null, verdict), h('td', null, action))
  })
  section.querySelector('tbody').replaceChildren(...(rows.length ? rows : [h('tr', null, h('td', { colspan: 7, class: 'muted' }, 'Нужно два аудита автомата'))]))
}

async function refreshAudits() {
  if (!localStorage.getItem('vending.operatorToken') || !globalThis.dashboard) return
  const m = /^#\/machines\/(.+)$/.exec(location.hash)
  try {
    if (m) await renderMachine(decodeURIComponent(m[1]))
    else await renderFleetList()
  } catch {
    // dashboard.js shows the connection state; the next poll tries again
  }
}

document.addEventListener('DOMContentLoaded', () => {
  document.getElementById('unreceipted-csv')?.addEventListener('click', () => void downloadCsv())
  window.addEventListener('hashchange', () => void refreshAudits())
  setInterval(() => void refreshAudits(), 15_000)
  void refreshAudits()
})
})()
