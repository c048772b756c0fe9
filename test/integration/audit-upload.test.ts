import { createHash } from 'node:crypto'
import { readFileSync } from 'node:fs'
import vm from 'node:vm'
import mqtt, { type MqttClient } from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuditDisplaySchema, type AuditDisplay } from '../../protocol/index.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { operatorApi } from '../support/operator-api.js'
import { provisionFleet, startBroker, startGateway, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

const fixture = (name: string): Buffer => readFileSync(new URL(`../fixtures/audits/${name}`, import.meta.url))
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex')

interface AuditMachine { client: MqttClient; answers: AuditDisplay[]; closed: () => boolean }

async function connect(url: string, c: Credentials): Promise<AuditMachine> {
  const client = mqtt.connect(url, { clientId: c.id, username: c.id, password: c.secret, protocolVersion: 4, reconnectPeriod: 0, clean: true })
  const answers: AuditDisplay[] = []
  let closed = false
  client.on('close', () => { closed = true })
  client.on('message', (_t, payload) => {
    const parsed = AuditDisplaySchema.safeParse(JSON.parse(payload.toString('utf8')))
    if (parsed.success) answers.push(parsed.data)
  })
  await new Promise<void>((resolve, reject) => { client.once('connect', () => resolve()); client.once('error', reject) })
  await client.subscribeAsync(`vending/${c.id}/display`, { qos: 1 })
  return { client, answers, closed: () => closed }
}

describe('audit upload over vending/{id}/audit (PostgreSQL, real broker and gateway)', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let creds: Credentials[]
  let get: ReturnType<typeof operatorApi>
  const machines: AuditMachine[] = []

  beforeAll(async () => {
    database = await createTestDatabase()
    creds = await provisionFleet(database.handle.db, 3)
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url, { AUDIT_SETTLE_S: '0' })
    get = operatorApi(gw.httpPort)
  })

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.client.endAsync(true)))
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
  })

  async function machine(i: number): Promise<AuditMachine> {
    const m = await connect(broker.url, creds[i]!)
    machines.push(m)
    return m
  }

  it('stores the raw bytes once, answers with their SHA-256 and lists the parsed figures', async () => {
    const m = await machine(0)
    const bytes = fixture('standard-crlf.dex')
    const hash = sha256(bytes)
    await m.client.publishAsync('vending/VM-001/audit', bytes, { qos: 1 })
    await m.client.publishAsync('vending/VM-001/audit', bytes, { qos: 1 }) // a republish: the same audit
    await waitFor(() => m.answers.length >= 2, 'two answers')
    expect(m.answers).toEqual([{ v: 1, type: 'audit', hash, status: 'stored' }, { v: 1, type: 'audit', hash, status: 'stored' }])

    const list = await get('/api/machines/VM-001/audits')
    expect(list.status).toBe(200)
    expect(list.body.items).toHaveLength(1)
    expect(list.body.next).toBeNull()
    const item = list.body.items[0]
    expect(item).toMatchObject({ hash, crc: 'ok', decimals: 2, currency: 'RUB', status: 'stored', warnings: [] })
    expect(item.elements).toMatchObject({ ID101: 'SIM0000042', VA101: 1234500, VA102: 321, VA103: 45600, VA104: 12, CA201: 834500, CA202: 210, DA201: 400000, DA202: 111 })
    expect(item.products[0]).toEqual({ id: 'A01', price: 8000, name: 'Water 0,5 l', pa2: [100, 800000, 4, 32000] })

    const raw = await fetch(`http://127.0.0.1:${gw.httpPort}/api/audits/${item.id}/raw`, { headers: { authorization: 'Bearer test-operator-token-0123456789' } })
    expect(raw.status).toBe(200)
    expect(Buffer.from(await raw.arrayBuffer()).equals(bytes)).toBe(true)
    expect((await operatorApi(gw.httpPort, null)(`/api/audits/${item.id}/raw`)).status).toBe(401)
  })

  it('lists an LF-only audit whose G85 verifies with CR LF restored as crc ok, and a bad G85 as rejected', async () => {
    const m = await machine(1)
    await m.client.publishAsync('vending/VM-002/audit', fixture('lf-only.dex'), { qos: 1 })
    await m.client.publishAsync('vending/VM-002/audit', fixture('bad-crc.dex'), { qos: 1 })
    await m.client.publishAsync('vending/VM-002/audit', fixture('not-an-audit.bin'), { qos: 1 })
    await waitFor(() => m.answers.length >= 3, 'three answers')
    const byHash = new Map(m.answers.map((a) => [a.hash, a]))
    expect(byHash.get(sha256(fixture('lf-only.dex')))).toMatchObject({ status: 'stored' })
    expect(byHash.get(sha256(fixture('bad-crc.dex')))).toEqual({ v: 1, type: 'audit', hash: sha256(fixture('bad-crc.dex')), status: 'rejected', reason: 'G85 check does not match the report' })
    expect(byHash.get(sha256(fixture('not-an-audit.bin')))).toMatchObject({ status: 'rejected', reason: 'no DXS header: not an EVA-DTS audit' })

    const items = (await get('/api/machines/VM-002/audits')).body.items as any[]
    const listed = new Map(items.map((i) => [i.hash, i]))
    expect(listed.get(sha256(fixture('lf-only.dex')))).toMatchObject({ status: 'stored', crc: 'ok', warnings: ['LF line ends: CR LF restored for the G85 check'] })
    expect(listed.get(sha256(fixture('bad-crc.dex')))).toMatchObject({ status: 'rejected', crc: 'bad', reason: 'G85 check does not match the report' })
    const unparseable = listed.get(sha256(fixture('not-an-audit.bin')))
    expect(unparseable).toMatchObject({ status: 'rejected', crc: null, reason: 'no DXS header: not an EVA-DTS audit' })
    expect(items.map((i) => i.id)).toEqual(items.map((i) => i.id).sort((a, b) => b - a)) // newest first
    // Kept with its reason and its bytes, as a bad sale is.
    const rejected = await get(`/api/audits/${unparseable.id}/raw`)
    expect(rejected.body).toBe('{"v":1,"saleId":"x"}')
  })

  it('takes a 200 KiB audit on the audit topic, but the machine cap (64 KiB) still holds on sale', async () => {
    const m = await machine(2)
    const big = Buffer.concat([fixture('standard-crlf.dex').subarray(0, 30), Buffer.alloc(200 * 1024, 'MA5*PAD*0123456789\r\n')])
    await m.client.publishAsync('vending/VM-003/audit', big, { qos: 1 })
    await waitFor(() => m.answers.length >= 1, 'the answer to a 200 KiB audit')
    expect(m.answers[0]).toMatchObject({ hash: sha256(big) })
    m.client.publish('vending/VM-003/sale', Buffer.alloc(70 * 1024, 'x'), { qos: 1 })
    await waitFor(() => m.closed(), 'the broker to close a connection sending a 70 KiB sale')
  })

  it('refuses a correction for an interval that does not exist, and serves the dashboard\'s audit view', async () => {
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}/api/machines/VM-001/intervals/999/correction`, { method: 'POST', headers: { authorization: 'Bearer test-operator-token-0123456789' } })
    expect(res.status).toBe(409)
    expect((await res.json() as any).error).toBe('machine VM-001 has no interval 999 (an interval is named by the audit that closes it)')
    const js = await fetch(`http://127.0.0.1:${gw.httpPort}/audits.js`)
    expect(js.headers.get('content-type')).toContain('text/javascript')
    const source = await js.text()
    expect(source).toContain('/intervals/${interval.id}/correction')
    expect(source).toContain('window.confirm(text)')
    // It compiles, and its top level only waits for the page.
    new vm.Script(source).runInContext(vm.createContext({ document: { addEventListener: () => undefined } }))
  })

  it('refuses an audit over 256 KiB and one published to another machine', async () => {
    const over = await connect(broker.url, creds[2]!)
    machines.push(over)
    over.client.publish('vending/VM-003/audit', Buffer.alloc(257 * 1024 + 2048, 'x'), { qos: 1 })
    await waitFor(() => over.closed(), 'the broker to close a connection sending 259 KiB')
    const other = await connect(broker.url, creds[0]!)
    machines.push(other)
    other.client.publish('vending/VM-002/audit', fixture('no-id4.dex'), { qos: 1 })
    await waitFor(() => other.closed(), 'the broker to close a connection publishing to another machine')
    const hashes = ((await get('/api/machines/VM-002/audits')).body.items as any[]).map((i) => i.hash)
    expect(hashes).not.toContain(sha256(fixture('no-id4.dex')))
  })
})
