// Provisioning (admins): what `npm run fleet` does, through the same commands on the server. A new
// machine's or a rotated secret is shown once, here, and kept nowhere but in its hash.
'use strict'

const provision = { q: '', pages: 1 }
const PROVISION_PAGE = 50

async function loadProvision() {
  // The routes answer 403 to anyone else; the page says so instead of failing to load.
  $('provision-denied').hidden = may('admin')
  if (!may('admin')) return
  const kassas = await all('/api/kassas?limit=1000')
  const select = $('new-machine-kassa')
  if (select.options.length !== kassas.length) {
    const chosen = select.value
    select.replaceChildren(...kassas.map((k) => h('option', { value: k.id }, `${k.id} · ${k.name}`)))
    if (chosen) select.value = chosen
  }
  const p = new URLSearchParams({ sort: 'id', limit: String(Math.min(1000, PROVISION_PAGE * provision.pages)) })
  if (provision.q) p.set('q', provision.q)
  const page = await api(`/api/machines?${p}`)
  const zoneOf = new Map(kassas.map((k) => [k.id, k.timeZone]))
  $('provision-machines').tBodies[0].replaceChildren(...page.items.map((m) => h('tr', { class: m.disabled ? 'grey' : null, 'data-id': m.id },
    h('td', { class: 'wrap' }, machineLink(m.id), h('div', { class: 'muted small' }, `${m.address}, ${m.place}`)),
    // Only kassas in the machine's own time zone: receipts carry the place of settlement's time.
    h('td', null, h('select', { 'data-move': m.id, 'aria-label': `Касса автомата ${m.id}` },
      kassas.filter((k) => (zoneOf.get(k.id) ?? m.timeZone) === m.timeZone).map((k) => {
        const option = h('option', { value: k.id }, k.id)
        option.selected = k.id === m.kassaId
        return option
      }))),
    h('td', null, m.disabled ? 'отключён' : 'включён'),
    h('td', null, h('div', { class: 'actions' },
      h('button', { type: 'button', 'data-rotate': m.id }, 'Новый секрет'),
      h('button', { type: 'button', [m.disabled ? 'data-enable' : 'data-disable']: m.id }, m.disabled ? 'Включить' : 'Отключить'))))))
  if (page.items.length === 0) $('provision-machines').tBodies[0].replaceChildren(h('tr', null, h('td', { colspan: 4 }, 'Ничего не найдено')))
  $('provision-more').hidden = !page.next
}

registerView('provision', /^#\/provision$/, loadProvision)

/** Runs a change and says how it went; a secret in the answer is shown apart, once. */
async function provisionAction(run, message) {
  try {
    const r = await run()
    $('provision-result').textContent = message(r)
    $('provision-result').classList.remove('error')
    if (r.secret) {
      $('provision-secret').replaceChildren(`Секрет автомата ${r.id} (показан один раз, сохраните его в настройках автомата): `, h('code', null, r.secret))
      $('provision-secret').hidden = false
    }
  } catch (err) {
    $('provision-result').textContent = `Ошибка: ${err.message}`
    $('provision-result').classList.add('error')
  }
  void refresh()
}

document.addEventListener('DOMContentLoaded', () => {
  $('machine-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const body = { id: $('new-machine-id').value.trim(), kassa: $('new-machine-kassa').value, address: $('new-machine-address').value.trim(), place: $('new-machine-place').value.trim() }
    void provisionAction(() => post('/api/machines', body), (m) => `Автомат ${m.id} добавлен`).then(() => {
      if (!$('provision-result').classList.contains('error')) $('machine-form').reset()
    })
  })
  $('kassa-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const v = (id) => $(id).value.trim()
    const body = { id: v('new-kassa-id'), name: v('new-kassa-name'), inn: v('new-kassa-inn'), reg: v('new-kassa-reg'), fn: v('new-kassa-fn'), sno: v('new-kassa-sno'), tz: v('new-kassa-tz') }
    void provisionAction(() => post('/api/kassas', body), (k) => `Касса ${k.id} добавлена (ФН ${k.fn})`)
  })
  $('provision').addEventListener('click', (e) => {
    const d = e.target instanceof HTMLElement ? e.target.dataset : {}
    const path = (id, what) => `/api/machines/${encodeURIComponent(id)}/${what}`
    if (d.rotate && confirm(`Выдать автомату ${d.rotate} новый секрет? Старый перестанет действовать сразу.`)) {
      void provisionAction(() => post(path(d.rotate, 'secret')), (m) => `Автомату ${m.id} выдан новый секрет`)
    }
    if (d.disable) void provisionAction(() => post(path(d.disable, 'disable')), (m) => `Автомат ${m.id} отключён`)
    if (d.enable) void provisionAction(() => post(path(d.enable, 'enable')), (m) => `Автомат ${m.id} включён`)
  })
  $('provision').addEventListener('change', (e) => {
    const id = e.target instanceof HTMLSelectElement ? e.target.dataset.move : undefined
    if (id) void provisionAction(() => post(`/api/machines/${encodeURIComponent(id)}/kassa`, { kassa: e.target.value }), (m) => `Автомат ${m.id} переведён на кассу ${m.kassa}`)
  })
  let typing = null
  $('provision-search').addEventListener('input', (e) => {
    clearTimeout(typing)
    typing = setTimeout(() => { provision.q = e.target.value.trim(); provision.pages = 1; void refresh() }, 250)
  })
  $('provision-more').addEventListener('click', () => { provision.pages++; void refresh() })
  // Shown once means kept nowhere: leaving the page or signing out drops it from the document.
  const forget = () => { $('provision-secret').replaceChildren(); $('provision-secret').hidden = true }
  window.addEventListener('hashchange', forget)
  $('logout').addEventListener('click', forget)
})
