import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ReceiptDisplay } from '../../protocol/index.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { operatorApi } from '../support/operator-api.js'
import { provisionFleet, startBroker, startGateway, TEST_KASSA, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

/** A machine as the fleet runs it: keepalive, a retained online status, and a will saying offline. */
async function connectWithWill(url: string, c: Credentials, keepaliveS: number): Promise<MqttClient> {
  const status = (state: string) => JSON.stringify({ v: 1, state, at: new Date().toISOString() })
  const client = mqtt.connect(url, {
    clientId: c.id, username: c.id, password: c.secret, protocolVersion: 4, clean: true, keepalive: keepaliveS, reconnectPeriod: 0,
    will: { topic: `vending/${c.id}/status`, payload: Buffer.from(status('offline')), qos: 1, retain: true },
  })
  await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject) })
  await client.publishAsync(`vending/${c.id}/status`, status('online'), { qos: 1, retain: true })
  return client
}

describe('the operator API (PostgreSQL, real broker and gateway)', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let creds: Credentials[]
  let get: ReturnType<typeof operatorApi>
  const machines: TestMachine[] = []
  const clients: MqttClient[] = []

  beforeAll(async () => {
    database = await createTestDatabase()
    creds = await provisionFleet(database.handle.db, 5)
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url)
    get = operatorApi(gw.httpPort)
  })

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.close()))
    await Promise.all(clients.map((c) => c.endAsync(true)))
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
  })

  it('refuses every operator route without the right Bearer token', async () => {
    const paths = ['/api/machines', '/api/machines/VM-001', '/api/kassas', '/api/kassas/K1', '/api/sales', '/api/sales?machine=VM-001', '/api/alerts']
    for (const token of [null, 'wrong', 'test-operator-token-0123456788', '']) {
      for (const path of paths) {
        const answer = await operatorApi(gw.httpPort, token)(path)
        expect(answer.status, `${path} with ${token}`).toBe(401)
        expect(answer.headers.get('www-authenticate')).toBe('Bearer')
      }
    }
    const basic = await fetch(`http://127.0.0.1:${gw.httpPort}/api/machines`, { headers: { authorization: 'Basic dGVzdA==' } })
    expect(basic.status).toBe(401)
    expect((await get('/api/machines')).status).toBe(200)
  })

  it("counts today's sales and revenue per machine from what it sent, and lists them with their receipts", async () => {
    const m = await connectMachine(broker.url, creds[2]!)
    machines.push(m)
    const prices = [5000, 12000, 7550, 9900, 1, 30000, 4449]
    const sent = prices.map((price, i) => sale({ items: [{ sku: `S${i}`, name: 'Кофе «Капучино» 200 мл', price, qty: 1 + (i % 2), vat: 'vat22' }] }))
    for (const s of sent) await m.publishSale(s)
    await waitFor(() => m.displays.length === 7, 'seven receipts')

    const list = (await get('/api/machines')).body
    const vm = list.items.find((x: any) => x.id === 'VM-003')
    expect(vm).toMatchObject({ kassaId: 'K1', salesToday: 7, refundsToday: 0, pendingSales: 0 })
    expect(vm.revenueToday).toBe(sent.reduce((sum, s) => sum + s.payment.amount, 0))
    expect(vm.lastSaleAt).toBe(sent.map((s) => s.at).sort().at(-1))
    expect(new Date(vm.lastSeenAt).getTime()).toBeGreaterThan(0)

    // Keyset pagination, newest first, 3 by 3: 3 + 3 + 1.
    const pages: any[][] = []
    let cursor: string | null = null
    do {
      const answer: any = (await get(`/api/sales?machine=VM-003&limit=3${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`)).body
      pages.push(answer.items)
      cursor = answer.next
    } while (cursor !== null)
    expect(pages.map((p) => p.length)).toEqual([3, 3, 1])
    const items = pages.flat()
    expect(items.map((s) => s.saleId).sort()).toEqual(sent.map((s) => s.saleId).sort())
    // Newest row first (one insert statement may store a chunk in any order).
    expect(items.map((s) => s.id)).toEqual(items.map((s) => s.id).sort((a, b) => b - a))
    for (const s of items) {
      const display = m.displaysFor(s.saleId)[0] as ReceiptDisplay
      expect(s).toMatchObject({ machineId: 'VM-003', kassaId: 'K1', kind: 'sale', state: 'done', total: sent.find((x) => x.saleId === s.saleId)!.payment.amount })
      expect(s.receipt).toEqual({ fn: TEST_KASSA.fn, fd: display.fiscal.fd, fp: display.fiscal.fp })
      expect(s.receiptUrl).toBe(display.url)
    }
    const page = await fetch(items[0].receiptUrl.replace('http://receipts.test', `http://127.0.0.1:${gw.httpPort}`), { headers: { accept: 'application/json' } })
    expect(page.status).toBe(200)

    const everyone = (await get('/api/sales?limit=500')).body
    expect(everyone.items).toHaveLength(7)
    expect(everyone.next).toBeNull()
    expect((await get('/api/sales?limit=0')).status).toBe(400)
    expect((await get('/api/sales?cursor=nonsense')).status).toBe(400)
    expect((await get('/api/sales?machine=bad%20id')).status).toBe(400)
  })

  it('pages through machines by id with an opaque cursor', async () => {
    const ids: string[] = []
    let path = '/api/machines?limit=2'
    const sizes: number[] = []
    for (;;) {
      const { body } = await get(path)
      sizes.push(body.items.length)
      ids.push(...body.items.map((m: any) => m.id))
      if (body.next === null) break
      path = `/api/machines?limit=2&cursor=${encodeURIComponent(body.next)}`
    }
    expect(sizes).toEqual([2, 2, 1])
    expect(ids).toEqual(['VM-001', 'VM-002', 'VM-003', 'VM-004', 'VM-005'])
    for (const key of ['id', 'kassaId', 'online', 'lastSeenAt', 'lastSaleAt', 'salesToday', 'revenueToday', 'errors', 'telemetry']) {
      expect((await get('/api/machines/VM-001')).body).toHaveProperty(key)
    }
    expect((await get('/api/machines/VM-404')).status).toBe(404)
  })

  it('shows a machine online from its status and offline within its keepalive once its will fires', async () => {
    const client = await connectWithWill(broker.url, creds[0]!, 2)
    clients.push(client)
    await waitFor(async () => (await get('/api/machines/VM-001')).body.online === true, 'VM-001 online')
    const online = (await get('/api/machines/VM-001')).body
    expect(online.onlineSince).not.toBeNull()

    const cut = Date.now()
    client.stream.destroy() // a power cut: no DISCONNECT, so the broker publishes the will
    await waitFor(async () => (await get('/api/machines/VM-001')).body.online === false, 'VM-001 offline', 3000)
    const offline = (await get('/api/machines/VM-001')).body
    expect(Date.now() - cut).toBeLessThan(3000) // keepalive 2 s × 1.5
    expect(new Date(offline.onlineSince).getTime()).toBeGreaterThanOrEqual(new Date(online.onlineSince).getTime())
  })

  it('keeps the latest telemetry on the machine and its samples in the history', async () => {
    const client = await connectWithWill(broker.url, creds[1]!, 30)
    clients.push(client)
    const first = { v: 1, at: new Date(Date.now() - 1000).toISOString(), temperatureC: 4.5, doorOpen: false, cashBoxKop: 15000, stock: { A12: 4 } }
    const second = { v: 1, at: new Date().toISOString(), temperatureC: 5.5, doorOpen: true, errors: ['E12 купюроприёмник'], cashBoxKop: 20000 }
    await client.publishAsync('vending/VM-002/telemetry', JSON.stringify(first), { qos: 1 })
    await waitFor(async () => (await get('/api/machines/VM-002')).body.telemetryHistory.length === 1, 'the first sample')
    await client.publishAsync('vending/VM-002/telemetry', JSON.stringify(second), { qos: 1 })
    const m = await waitFor(async () => {
      const body = (await get('/api/machines/VM-002')).body
      return body.telemetryHistory.length === 2 && body.temperatureC === 5.5 ? body : null
    }, 'the second sample')
    expect(m).toMatchObject({ online: true, errors: ['E12 купюроприёмник'], doorOpen: true, cashBoxKop: 20000, telemetry: second })
    expect(m.telemetryHistory.map((t: any) => t.telemetry)).toEqual([second, first])
  })

  it('reports the kassa: FN counters as stored, shift, backlog, OFD backlog and mapped machines', async () => {
    const { body } = await get('/api/kassas')
    expect(body.next).toBeNull()
    expect(body.items).toHaveLength(1)
    const k = body.items[0]
    const docs = await database.handle.db.selectFrom('fiscal_documents').select(['fd']).where('fn', '=', TEST_KASSA.fn).execute()
    expect(k).toMatchObject({ id: 'K1', name: TEST_KASSA.name, timeZone: 'Europe/Moscow', machines: ['VM-001', 'VM-002', 'VM-003', 'VM-004', 'VM-005'] })
    expect(k.fn).toMatchObject({ number: TEST_KASSA.fn, model: 'fn-36', nextFd: docs.length + 1, docsUsed: docs.length, docLimit: 250_000, blockedReason: null })
    expect(k.fn.docsLeft).toBe(250_000 - docs.length)
    expect(k.fn.daysLeft).toBeGreaterThanOrEqual(1109)
    expect(k.shift).toMatchObject({ open: true, number: 1, receipts: 7 })
    expect(k.backlog).toEqual({ pending: 0, oldestPendingAt: null, oldestPendingAgeS: null, failed: 0 })
    expect(k.ofd.unsentCount).toBe(docs.length) // the emulated FN has no OFD
    expect(k.ofd.firstUnsentAt).not.toBeNull()
    expect((await get('/api/kassas/K1')).body.alerts).toEqual([])
    expect((await get('/api/kassas/K9')).status).toBe(404)
  })
})
