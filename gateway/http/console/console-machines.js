// The machines list of the overview: search, filters and sortable headers, paged on the server
// (`GET /api/machines?q=&status=&alert=&kassa=&sort=&dir=&cursor=`). Uses dashboard.js' helpers.
'use strict'

const machineList = { q: '', status: '', alert: '', kassa: '', sort: 'id', dir: 'asc', pages: 1, next: null }
const PAGE = 50
const MACHINE_COLUMNS = [
  ['id', 'Автомат'], ['status', 'Статус'], ['kassa', 'Касса'], ['address', 'Адрес'], ['lastSeenAt', 'Связь'],
  ['lastSaleAt', 'Последняя продажа'], ['salesToday', 'Продаж сегодня', 'num'], ['revenueToday', 'Выручка сегодня', 'num'], ['alerts', 'Тревоги'],
]

function machineQuery(cursor, limit) {
  const p = new URLSearchParams({ sort: machineList.sort, dir: machineList.dir, limit: String(limit) })
  for (const k of ['q', 'status', 'alert', 'kassa']) if (machineList[k]) p.set(k, machineList[k])
  if (cursor) p.set('cursor', cursor)
  return `/api/machines?${p}`
}

function renderMachineHeader() {
  $('fleet').tHead.rows[0].replaceChildren(...MACHINE_COLUMNS.map(([key, label, cls]) => {
    const active = machineList.sort === key
    return h('th', { class: cls ?? null, 'aria-sort': active ? (machineList.dir === 'asc' ? 'ascending' : 'descending') : null },
      h('button', { type: 'button', class: 'sort', 'data-sort': key }, label, active ? (machineList.dir === 'asc' ? ' ▲' : ' ▼') : ''))
  }))
}

function machineRow(m, byMachine) {
  const own = byMachine.get(m.id) ?? []
  const st = statusOf(m, own.length)
  return h('tr', { class: st.cls, 'data-id': m.id },
    h('td', null, machineLink(m.id), h('div', { class: 'muted small' }, m.place)),
    h('td', null, h('span', { class: `dot ${st.cls}`, 'aria-hidden': 'true' }), ' ', st.text),
    h('td', null, h('a', { href: `#/kassas/${encodeURIComponent(m.kassaId)}` }, m.kassaId)),
    h('td', { class: 'wrap' }, m.address),
    h('td', null, ago(m.lastSeenAt)),
    h('td', null, m.lastSaleAt ? time(m.lastSaleAt) : '—'),
    h('td', { class: 'num' }, m.salesToday),
    h('td', { class: 'num' }, rub(m.revenueToday)),
    h('td', { class: 'wrap' }, own.map((a) => h('div', { class: a.severity }, a.message))))
}

/** Reloads the pages shown so far (one request), with the filters and sort chosen. */
async function refreshMachines(kassas, alerts) {
  const select = $('machine-kassa')
  if (select.options.length !== kassas.length + 1) {
    select.replaceChildren(h('option', { value: '' }, 'все кассы'), ...kassas.map((k) => h('option', { value: k.id }, `${k.id} · ${k.name}`)))
    select.value = machineList.kassa
  }
  const byMachine = new Map()
  for (const a of alerts) if (a.subject.kind === 'machine') byMachine.set(a.subject.id, [...(byMachine.get(a.subject.id) ?? []), a])
  const page = await api(machineQuery(null, Math.min(1000, PAGE * machineList.pages)))
  machineList.next = page.next
  renderMachineHeader()
  $('fleet').tBodies[0].replaceChildren(...page.items.map((m) => machineRow(m, byMachine)))
  if (page.items.length === 0) $('fleet').tBodies[0].replaceChildren(h('tr', null, h('td', { colspan: MACHINE_COLUMNS.length }, 'Ничего не найдено')))
  $('machine-more').hidden = !page.next
}

document.addEventListener('DOMContentLoaded', () => {
  const reload = () => { machineList.pages = 1; void refresh() }
  let typing = null
  $('machine-search').addEventListener('input', (e) => {
    clearTimeout(typing)
    typing = setTimeout(() => { machineList.q = e.target.value.trim(); reload() }, 250)
  })
  for (const [id, key] of [['machine-status', 'status'], ['machine-alert', 'alert'], ['machine-kassa', 'kassa']]) {
    $(id).addEventListener('change', (e) => { machineList[key] = e.target.value; reload() })
  }
  $('fleet').tHead.addEventListener('click', (e) => {
    const key = e.target instanceof HTMLElement ? e.target.closest('[data-sort]')?.dataset.sort : undefined
    if (!key) return
    machineList.dir = machineList.sort === key && machineList.dir === 'asc' ? 'desc' : 'asc'
    machineList.sort = key
    reload()
  })
  $('machine-more').addEventListener('click', () => { machineList.pages++; void refresh() })
})
