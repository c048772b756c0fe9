// Access (admins): users with roles, named API keys (shown once, revocable), the audit log.
'use strict'

async function loadAdmin() {
  const [users, keys, audit] = await Promise.all([api('/api/users'), api('/api/keys'), api('/api/audit-log?limit=100')])
  $('users-table').tBodies[0].replaceChildren(...users.items.map((u) => h('tr', null,
    h('td', null, u.username), h('td', null, ROLE_NAMES[u.role]), h('td', null, date(u.createdAt)),
    h('td', null, u.disabledAt ? `отключён ${date(u.disabledAt)}` : u.username === me.name ? '' : h('button', { type: 'button', 'data-disable-user': u.username }, 'Отключить')))))
  $('keys-table').tBodies[0].replaceChildren(...keys.items.map((k) => h('tr', null,
    h('td', null, k.name), h('td', null, ROLE_NAMES[k.role]), h('td', null, k.lastUsedAt ? time(k.lastUsedAt) : '—'),
    h('td', null, k.revokedAt ? `отозван ${date(k.revokedAt)}` : h('button', { type: 'button', 'data-revoke-key': k.name }, 'Отозвать')))))
  $('audit-table').tBodies[0].replaceChildren(...audit.items.map((e) => h('tr', null,
    h('td', null, time(e.at)), h('td', null, e.actor), h('td', null, e.action), h('td', { class: 'wrap' }, e.subject ?? ''))))
}

registerView('admin', /^#\/admin$/, loadAdmin)

async function adminAction(run, message) {
  try {
    const r = await run()
    $('admin-result').textContent = message(r)
  } catch (err) {
    $('admin-result').textContent = `Ошибка: ${err.message}`
  }
  void refresh()
}

document.addEventListener('DOMContentLoaded', () => {
  $('user-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const body = { username: $('user-name').value.trim(), password: $('user-password').value, role: $('user-role').value }
    $('user-password').value = ''
    void adminAction(() => post('/api/users', body), (u) => `Пользователь ${u.username} создан`)
  })
  $('key-form').addEventListener('submit', (e) => {
    e.preventDefault()
    const body = { name: $('key-name').value.trim(), role: $('key-role').value }
    void adminAction(() => post('/api/keys', body), (k) => `Ключ ${k.name}: ${k.key} (показан один раз)`)
  })
  $('admin').addEventListener('click', (e) => {
    const el = e.target instanceof HTMLElement ? e.target : null
    if (el?.dataset.revokeKey) void adminAction(() => post(`/api/keys/${encodeURIComponent(el.dataset.revokeKey)}`, undefined, 'DELETE'), () => 'Ключ отозван')
    if (el?.dataset.disableUser) void adminAction(() => post(`/api/users/${encodeURIComponent(el.dataset.disableUser)}`, undefined, 'DELETE'), () => 'Пользователь отключён')
  })
})
