// Sales journal: every sale with its state and receipt, filtered by machine, kassa, state and
// period, paged on the server; the same filter exported as CSV or XLSX.
'use strict'

const journal = { pages: 1 }

/** `2026-12-01` from a date input → the instant of local midnight, ISO (the browser's time zone). */
const dayStart = (value, plusDays = 0) => {
  const [y, m, d] = value.split('-').map(Number)
  return new Date(y, m - 1, d + plusDays).toISOString()
}

function journalFilter() {
  const p = new URLSearchParams()
  const machine = $('journal-machine').value.trim()
  if (machine) p.set('machine', machine)
  if ($('journal-kassa').value) p.set('kassa', $('journal-kassa').value)
  if ($('journal-state').value) p.set('state', $('journal-state').value)
  if ($('journal-from').value) p.set('from', dayStart($('journal-from').value))
  if ($('journal-to').value) p.set('to', dayStart($('journal-to').value, 1))
  return p
}

async function loadJournal() {
  const kassas = await api('/api/kassas?limit=1000')
  const select = $('journal-kassa')
  if (select.options.length !== kassas.items.length + 1) {
    const chosen = select.value
    select.replaceChildren(h('option', { value: '' }, 'все кассы'), ...kassas.items.map((k) => h('option', { value: k.id }, k.id)))
    select.value = chosen
  }
  const filter = journalFilter()
  $('journal-csv').href = `/api/journal.csv?${filter}`
  $('journal-xlsx').href = `/api/journal.xlsx?${filter}`
  const rows = []
  let next = null
  for (let i = 0; i < journal.pages; i++) {
    const p = new URLSearchParams(filter)
    p.set('limit', '50')
    if (next) p.set('cursor', next)
    const page = await api(`/api/journal?${p}`)
    rows.push(...page.items)
    next = page.next
    if (!next) break
  }
  $('journal-more').hidden = !next
  $('journal-table').tBodies[0].replaceChildren(...rows.map((s) => h('tr', { class: s.state === 'failed' ? 'red' : null },
    h('td', null, time(s.soldAt)),
    h('td', null, machineLink(s.machineId)),
    h('td', null, h('a', { href: `#/kassas/${encodeURIComponent(s.kassaId)}` }, s.kassaId)),
    h('td', { class: 'wrap' }, s.items.map((i) => `${i.name} × ${i.qty}`).join('; '), s.kind === 'refund' ? h('div', { class: 'muted small' }, 'возврат') : null),
    h('td', { class: 'num' }, rub(s.kind === 'refund' ? -s.total : s.total)),
    h('td', null, PAYMENT_LABELS[s.paymentMethod] ?? s.paymentMethod),
    h('td', { title: s.lastError ?? null }, STATE_LABELS[s.state] ?? s.state),
    h('td', null, s.receiptUrl ? h('a', { href: s.receiptUrl, target: '_blank', rel: 'noopener' }, `ФД ${s.receipt.fd}`) : '—'))))
  if (rows.length === 0) $('journal-table').tBodies[0].replaceChildren(h('tr', null, h('td', { colspan: 8 }, 'Продаж нет')))
}

registerView('journal', /^#\/journal$/, loadJournal)

document.addEventListener('DOMContentLoaded', () => {
  $('journal-form').addEventListener('submit', (e) => { e.preventDefault(); journal.pages = 1; void refresh() })
  $('journal-more').addEventListener('click', () => { journal.pages++; void refresh() })
})
