import { mkdir, readFile } from 'node:fs/promises'
import { sql } from 'kysely'
import type { Page } from 'playwright-core'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { launchBrowser, overflow, type Browser } from '../support/browser.js'
import { connectMachine, sale, waitForDisplays } from '../support/machine-client.js'
import { DAY_START, startSoldFleet, USERS, type SoldFleet } from '../support/sold-fleet.js'
import { waitFor } from '../support/wait.js'

// The operator console in headless Chromium at a desktop's and a phone's width, on a real gateway
// whose fleet has sold. Screenshots of every page land in test/e2e/screenshots/ (not committed).
const SHOTS = new URL('./screenshots/', import.meta.url)
const WIDTHS = [1280, 390] as const
type Role = keyof typeof USERS

describe('the operator console in a browser', () => {
  let fleet: SoldFleet
  let browser: Browser
  let receiptPath: string

  beforeAll(async () => {
    await mkdir(SHOTS, { recursive: true })
    fleet = await startSoldFleet({ ALERT_INTERVAL_S: '1', ALERT_OFFLINE_MIN: '1' })
    await waitFor(async () => (await sql`select 1 from alert_events where key = 'machine_offline:VM-004'`.execute(fleet.database.handle.db)).rows.length === 1, 'the offline alert recorded')
    const r = (await sql<{ fn: string; fd: number; fp: string }>`select fn, fd, fp from fiscal_documents where type = 3 order by fd limit 1`.execute(fleet.database.handle.db)).rows[0]!
    receiptPath = `/r/${r.fn}/${r.fd}?fp=${r.fp}`
    browser = await launchBrowser()
  }, 180_000)
  afterAll(async () => {
    await browser?.close()
    await fleet?.stop()
  })

  async function signInAs(page: Page, role: Role): Promise<void> {
    // A fresh document: the previous one's poll would meet the cleared session with a 401.
    await page.goto('about:blank')
    await browser.context.clearCookies()
    await page.goto(`${fleet.base}/#/`)
    await page.fill('#username', USERS[role].username)
    await page.fill('#password', USERS[role].password)
    await page.click('#login-form button[type=submit]')
    await page.waitForSelector('#fleet tbody tr[data-id]')
  }
  const rowIds = (page: Page) => page.$$eval('#fleet tbody tr[data-id]', (rows) => rows.map((r) => r.getAttribute('data-id')))
  async function open(page: Page, hash: string, ready: string): Promise<void> {
    await page.goto(`${fleet.base}/${hash}`)
    await page.waitForSelector(ready)
  }

  it('signs each role in and shows only what it may: access and provisioning for admins, acknowledgement for operators and admins', async () => {
    for (const width of WIDTHS) {
      const page = await browser.page(width)
      for (const role of ['viewer', 'operator', 'admin'] as const) {
        const who = `${role}@${width}`
        await signInAs(page, role)
        await page.waitForSelector('#alerts li.warning')
        expect(await page.isVisible('nav a[href="#/admin"]'), who).toBe(role === 'admin')
        expect(await page.isVisible('nav a[href="#/provision"]'), who).toBe(role === 'admin')
        expect(await page.locator('#alerts button.ack').count() > 0, who).toBe(role !== 'viewer')
        expect(await page.textContent('#whoami')).toContain(USERS[role].username)
        // What the page hides, the API refuses as well.
        expect((await page.request.get(`${fleet.base}/api/users`)).status(), who).toBe(role === 'admin' ? 200 : 403)
        await open(page, '#/alerts', '#alerts-history tbody tr')
        expect(await page.isVisible('#test-send'), who).toBe(role === 'admin')
        if (role !== 'admin') {
          await open(page, '#/provision', '#provision-denied:not([hidden])')
          expect(await page.isVisible('#machine-form'), who).toBe(false)
          // With the session's own CSRF token, so only the role can be what refuses it.
          // (`me` is the console script's own binding, not a property of window: an expression reads it.)
          const csrf = await page.evaluate<string>('me.csrf')
          const tried = await page.request.post(`${fleet.base}/api/machines`, { headers: { 'x-csrf-token': csrf }, data: { id: 'VM-777', kassa: 'K1', address: 'a', place: 'p' } })
          expect(tried.status(), who).toBe(403)
        }
      }
      await page.click('#logout')
      await page.waitForSelector('#login:not([hidden])')
      expect((await page.request.get(`${fleet.base}/api/machines`)).status()).toBe(401)
      await page.close()
    }
  })

  it('searches, filters and sorts the machines list', async () => {
    const page = await browser.page(1280)
    await signInAs(page, 'viewer')
    expect(await page.textContent('#fleet-summary')).toBe('в сети 4 из 7, отключено 1')
    await page.fill('#machine-search', 'арбат')
    await waitFor(async () => JSON.stringify(await rowIds(page)) === '["SN-01","SN-03"]', 'the search result')
    await page.fill('#machine-search', '')
    await page.selectOption('#machine-status', 'offline')
    await waitFor(async () => JSON.stringify(await rowIds(page)) === '["SN-02","VM-004","VM-005"]', 'the offline machines')
    await page.selectOption('#machine-kassa', 'K2')
    await waitFor(async () => JSON.stringify(await rowIds(page)) === '["SN-02"]', 'the offline machines of K2')
    await page.selectOption('#machine-status', '')
    await page.selectOption('#machine-kassa', '')
    // Alerts as the gateway raised them: the offline ones by rule, then any alert at all.
    const active = (await (await page.request.get(`${fleet.base}/api/alerts`)).json() as { items: { rule: string; subject: { kind: string; id: string } }[] }).items
    const alerted = (rule?: string) => JSON.stringify([...new Set(active.filter((a) => a.subject.kind === 'machine' && (rule === undefined || a.rule === rule)).map((a) => a.subject.id))].sort())
    expect(alerted('machine_offline')).toBe('["SN-02","VM-004","VM-005"]')
    await page.selectOption('#machine-alert', 'machine_offline')
    await waitFor(async () => JSON.stringify(await rowIds(page)) === alerted('machine_offline'), 'the machines alerted as offline')
    await page.selectOption('#machine-alert', 'any')
    await waitFor(async () => JSON.stringify(await rowIds(page)) === alerted(), 'the machines with any alert')
    await page.selectOption('#machine-alert', '')
    await page.click('th button[data-sort="id"]') // id is the current sort: a click turns it round
    await waitFor(async () => (await rowIds(page))[0] === 'VM-005', 'ids descending')
    await page.click('th button[data-sort="address"]')
    await waitFor(async () => (await rowIds(page))[0] === 'SN-02', 'addresses ascending (Ленинградский before ул.)')
    const addresses = await page.$$eval('#fleet tbody tr td:nth-child(4)', (cells) => cells.map((c) => c.textContent ?? ''))
    expect(addresses).toEqual([...addresses].sort((a, b) => (Buffer.from(a) < Buffer.from(b) ? -1 : 1)))
    await page.close()
  })

  it('charts a known range with the totals that were sold', async () => {
    const page = await browser.page(1280)
    await signInAs(page, 'viewer')
    await open(page, '#/charts', '#chart-form')
    await page.fill('#chart-from', '2026-12-01')
    await page.fill('#chart-to', '2026-12-01')
    await page.click('#chart-form button[type=submit]')
    const revenue = fleet.sent.reduce((n, x) => n + x.payment.amount, 0)
    await waitFor(async () => (await page.getAttribute('#chart-totals', 'data-revenue')) === String(revenue), 'the chart totals')
    expect(await page.getAttribute('#chart-totals', 'data-sales')).toBe('30')
    expect(await page.locator('#chart-sales canvas').count()).toBe(1)
    expect(await page.locator('#chart-latency canvas').count()).toBe(1)
    expect(DAY_START.toISOString()).toBe('2026-12-01T06:00:00.000Z')
    await page.close()
  })

  it('exports the journal as CSV whose rows equal the database', async () => {
    const page = await browser.page(1280)
    await signInAs(page, 'viewer')
    await open(page, '#/journal', '#journal-table tbody tr')
    await page.selectOption('#journal-kassa', 'K2')
    await page.click('#journal-form button[type=submit]')
    await waitFor(async () => ((await page.getAttribute('#journal-csv', 'href')) ?? '').includes('kassa=K2'), 'the export link to follow the filter')
    const [download] = await Promise.all([page.waitForEvent('download'), page.click('#journal-csv')])
    const text = (await readFile(await download.path())).toString('utf8')
    expect(text.charCodeAt(0)).toBe(0xfeff)
    const rows = text.slice(1).trimEnd().split('\r\n').slice(1).map((l) => l.split(';'))
    const db = (await sql<{ sale_id: string; machine_id: string; fd: number }>`select sale_id, machine_id, fd from sales where kassa_id = 'K2' order by id desc`.execute(fleet.database.handle.db)).rows
    expect(rows.map((r) => [r[3], r[1], Number(r[10])])).toEqual(db.map((r) => [r.sale_id, r.machine_id, r.fd]))
    await page.close()
  })

  it('acknowledges an alert as an operator, with who and when', async () => {
    const page = await browser.page(1280)
    await signInAs(page, 'operator')
    const item = page.locator('#alerts li', { hasText: 'VM-004' })
    await item.locator('button.ack').click()
    await waitFor(async () => ((await item.textContent()) ?? '').includes(`принято: ${USERS.operator.username}`), 'the acknowledgement shown')
    const row = (await sql<{ acknowledged_by: string }>`select acknowledged_by from alert_events where key = 'machine_offline:VM-004'`.execute(fleet.database.handle.db)).rows[0]
    expect(row?.acknowledged_by).toBe(`user:${USERS.operator.username}`)
    await page.close()
  })

  it('provisions a machine as an admin on a phone: its one-time secret lets it sell, then it is disabled', async () => {
    const page = await browser.page(390)
    await signInAs(page, 'admin')
    await open(page, '#/provision', '#provision-machines tbody tr[data-id]')
    await page.fill('#new-machine-id', 'VM-900')
    await page.selectOption('#new-machine-kassa', 'K2')
    await page.fill('#new-machine-address', 'г. Москва, ул. Арбат, 14')
    await page.fill('#new-machine-place', 'Вестибюль')
    await page.click('#machine-form button[type=submit]')
    await page.waitForSelector('#provision-secret code')
    const secret = (await page.textContent('#provision-secret code'))!
    expect(await overflow(page)).toBe(0)
    await page.screenshot({ path: new URL('provision-secret-390.png', SHOTS).pathname, fullPage: true })
    await page.waitForSelector('#provision-machines tr[data-id="VM-900"]')
    // The secret shown is the one the broker takes: the new machine sells and gets its receipt.
    const machine = await connectMachine(fleet.broker.url, { id: 'VM-900', secret })
    await machine.publishSale(sale())
    await waitForDisplays([machine], 1, 'the new machine\'s receipt')
    expect(machine.displays[0]!.type).toBe('receipt')
    await machine.close()
    await open(page, '#/', '#fleet tbody tr[data-id]')
    await page.fill('#machine-search', 'VM-900')
    await waitFor(async () => JSON.stringify(await rowIds(page)) === '["VM-900"]', 'the new machine in the list')
    await open(page, '#/provision', '#provision-machines tr[data-id="VM-900"]')
    expect(await page.isVisible('#provision-secret'), 'the secret is gone once the page was left').toBe(false)
    await page.click('#provision-machines tr[data-id="VM-900"] button[data-disable]')
    await page.waitForSelector('#provision-machines tr[data-id="VM-900"] button[data-enable]')
    page.once('dialog', (d) => void d.accept())
    await page.click('#provision-machines tr[data-id="VM-001"] button[data-rotate]')
    await waitFor(async () => ((await page.textContent('#provision-result')) ?? '').includes('VM-001'), 'the rotated secret')
    expect(await page.textContent('#provision-secret code')).not.toBe(secret)
    const audit = (await sql<{ actor: string; action: string; subject: string }>`
      select actor, action, subject from audit_log where action like 'fleet.%' and actor like 'user:%' order by id`.execute(fleet.database.handle.db)).rows
    expect(audit.map((e) => `${e.actor} ${e.action} ${e.subject}`)).toEqual([
      'user:anna fleet.add-machine VM-900', 'user:anna fleet.disable-machine VM-900', 'user:anna fleet.rotate-secret VM-001',
    ])
    await page.close()
  })

  it('fits every page into 390 px without sideways scrolling, saves screenshots at both widths, and logs no console errors', async () => {
    const pages: [string, string, string][] = [
      ['overview', '#/', '#fleet tbody tr[data-id]'], ['machine', '#/machines/VM-001', '#machine-facts dt'],
      ['kassa', '#/kassas/K1', '#kassa-docs tbody tr'], ['journal', '#/journal', '#journal-table tbody tr'],
      ['charts', '#/charts', '#chart-sales canvas'], ['alerts', '#/alerts', '#alerts-history tbody tr'], ['admin', '#/admin', '#audit-table tbody tr'],
      ['provision', '#/provision', '#provision-machines tbody tr[data-id]'],
    ]
    const widths: Record<string, number> = {}
    for (const width of WIDTHS) {
      const page = await browser.page(width)
      await signInAs(page, 'admin')
      for (const [name, hash, ready] of pages) {
        await open(page, hash, ready)
        widths[`${name}@${width}`] = await overflow(page)
        await page.screenshot({ path: new URL(`${name}-${width}.png`, SHOTS).pathname, fullPage: true })
      }
      await page.goto(`${fleet.base}${receiptPath}`)
      expect(await page.textContent('body')).toMatch(/Дата и время\s*\d{2}\.\d{2}\.\d{4} \d{2}:\d{2}/)
      widths[`receipt@${width}`] = await overflow(page)
      await page.screenshot({ path: new URL(`receipt-${width}.png`, SHOTS).pathname, fullPage: true })
      const missing = await page.goto(`${fleet.base}/r/9999078900001234/1?fp=0`)
      expect(missing?.status()).toBe(404)
      expect(await page.textContent('h1')).toBe('Чек не найден')
      widths[`receipt-not-found@${width}`] = await overflow(page)
      await page.screenshot({ path: new URL(`receipt-not-found-${width}.png`, SHOTS).pathname, fullPage: true })
      await page.close()
    }
    expect(Object.entries(widths).filter(([, over]) => over > 0)).toEqual([])
    // The not-found page's 404, once per width, is the one error a browser logs on its own; nothing else may appear.
    const notFound = browser.errors.filter((e) => e.endsWith('Failed to load resource: the server responded with a status of 404 (Not Found)'))
    expect(notFound, browser.errors.join("\n")).toHaveLength(2)
    expect(browser.errors.filter((e) => !notFound.includes(e))).toEqual([])
  })
})
