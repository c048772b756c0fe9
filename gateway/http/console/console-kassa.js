// A kassa's page: FN fill, expiry and OFD backlog, shifts with their reports, the machines it
// serves, its documents with links to the receipt pages, and a cloud provider's status.
'use strict'

const DOC_TYPES = { 2: 'открытие смены', 3: 'чек', 5: 'закрытие смены' }
/** Document pages shown of the kassa on screen (the next ones come with "Показать ещё"). */
const kassaDocs = { id: null, pages: 1 }

async function kassaDocuments(id) {
  if (kassaDocs.id !== id) Object.assign(kassaDocs, { id, pages: 1 })
  const items = []
  let next = null
  for (let i = 0; i < kassaDocs.pages; i++) {
    const page = await api(`/api/kassas/${encodeURIComponent(id)}/documents${next ? `?cursor=${encodeURIComponent(next)}` : ''}`)
    items.push(...page.items)
    next = page.next
    if (!next) break
  }
  $('kassa-docs-more').hidden = !next
  return { items }
}

async function loadKassa(match) {
  const id = decodeURIComponent(match[1])
  const [k, shifts, docs, provider] = await Promise.all([
    api(`/api/kassas/${encodeURIComponent(id)}`), api(`/api/kassas/${encodeURIComponent(id)}/shifts`),
    kassaDocuments(id), api(`/api/kassas/${encodeURIComponent(id)}/provider`),
  ])
  $('kassa-title').textContent = `Касса ${k.id} · ${k.name}`
  renderAlerts($('kassa-alerts'), k.alerts)
  const fn = k.fn
  const facts = [
    ['ИНН', k.inn], ['РН ККТ', k.regNumber || '—'], ['Часовой пояс', k.timeZone],
    ['ФН', fn ? `${fn.number} (${fn.model})` : k.provider === 'emulated' ? 'нет' : `у провайдера (${k.provider})`],
    ['Заполнение ФН', fn ? `${(fn.fillRatio * 100).toFixed(1)}%: ${fn.docsUsed} из ${fn.docLimit}` : '—'],
    ['Срок ФН', fn ? `до ${date(fn.expiresAt)}, ${fn.daysLeft} дн.` : '—'],
    ['Не передано в ОФД', k.ofd ? `${k.ofd.unsentCount}${k.ofd.firstUnsentAt ? ` с ${date(k.ofd.firstUnsentAt)}` : ''}` : '—'],
    ['Смена', !k.shift ? '—' : k.shift.open ? `№ ${k.shift.number} открыта ${duration(k.shift.ageS)}, чеков ${k.shift.receipts}` : 'закрыта'],
    ['Ждут чека', k.backlog.pending], ['Отказы', k.backlog.failed],
  ]
  $('kassa-facts').replaceChildren(...facts.flatMap(([dt, dd]) => [h('dt', null, dt), h('dd', null, dd)]))
  $('kassa-meter').replaceChildren(fn ? meter(fn.fillRatio) : '')
  for (const bar of document.querySelectorAll('#kassa-meter .meter span')) bar.style.width = `${bar.dataset.pct}%`
  const p = provider.status
  $('kassa-provider').hidden = !p
  if (p) {
    $('kassa-provider-facts').replaceChildren(...[
      ['Провайдер', p.provider],
      ['Попытки', Object.entries(p.attempts).map(([s, n]) => `${s}: ${n}`).join(', ') || 'нет'],
      ['Последний приём', time(p.lastAcceptedAt)], ['Последний результат', time(p.lastFinishedAt)],
      ['Последняя ошибка', p.lastError ? `${time(p.lastError.at)}: ${p.lastError.error}` : 'нет'],
    ].flatMap(([dt, dd]) => [h('dt', null, dt), h('dd', null, dd)]))
  }
  $('kassa-machines').replaceChildren(...k.machines.map((m) => h('li', null, machineLink(m))))
  $('kassa-shifts').tBodies[0].replaceChildren(...shifts.items.map((s) => h('tr', null,
    h('td', null, s.shift), h('td', null, `${time(s.opened.at)} (ФД ${s.opened.fd})`),
    h('td', null, s.closed ? `${time(s.closed.at)} (ФД ${s.closed.fd})` : 'открыта'), h('td', { class: 'num' }, s.receipts))))
  $('kassa-docs').tBodies[0].replaceChildren(...docs.items.map((d) => h('tr', null,
    h('td', null, d.fd), h('td', null, DOC_TYPES[d.type] ?? d.type), h('td', null, time(d.signedAt)), h('td', null, d.shift),
    h('td', { class: 'num' }, d.type === 3 ? rub(d.operation === 2 ? -d.total : d.total) : ''),
    h('td', null, d.receiptUrl ? h('a', { href: d.receiptUrl, target: '_blank', rel: 'noopener' }, `ФП ${d.fp}`) : d.fp))))
}

registerView('kassa', /^#\/kassas\/(.+)$/, loadKassa)

document.addEventListener('DOMContentLoaded', () => {
  $('kassa-docs-more').addEventListener('click', () => { kassaDocs.pages++; void refresh() })
})
