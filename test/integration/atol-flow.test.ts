import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { parseReceiptQr, type ReceiptDisplay } from '../../protocol/index.js'
import { ATOL_FN, ATOL_KASSA, atolGatewayEnv, provisionAtolFleet, saleStates } from '../support/atol-kassa.js'
import { createAtolServer, type AtolServer } from '../support/atol-server.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, waitForDisplays, type TestMachine } from '../support/machine-client.js'
import { startBroker, startGateway } from '../support/system.js'
import { waitFor } from '../support/wait.js'

describe('sales fiscalized by an ATOL Online v5 cloud kassa (the protocol double, PostgreSQL, a real broker)', () => {
  let database: TestDatabase
  let server: AtolServer
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let machines: TestMachine[] = []
  const sent = new Map<string, number>() // machine/saleId → total

  beforeAll(async () => {
    database = await createTestDatabase()
    // 100 ms in `wait` before signing: every sale is polled at least once before it is done.
    server = await createAtolServer({ waitMs: 100, fnNumber: ATOL_FN, inn: ATOL_KASSA.inn, timeZone: ATOL_KASSA.tz })
    const creds = await provisionAtolFleet(database.handle.db, server, 10)
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url, atolGatewayEnv(server))
    machines = await Promise.all(creds.map((c) => connectMachine(broker.url, c)))
  })

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.close()))
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await server?.stop()
    await database?.drop()
  })

  it('answers 10 machines × 50 sales with 500 receipts carrying the provider\'s FN numbers, each signed once', async () => {
    // Each machine's 50 sales in flight at once (QoS 1): a burst, not a PUBACK-paced trickle.
    await Promise.all(machines.flatMap((m, i) => Array.from({ length: 50 }, (_, n) => {
      const s = sale({ items: [{ sku: `S${n}`, name: 'Шоколад «Алёнка» 100 г', price: 5000 + i * 100 + n, qty: 1 + (n % 3), vat: n % 2 ? 'vat22' : 'vat22_122' }] })
      sent.set(`${m.id}/${s.saleId}`, s.payment.amount)
      return m.publishSale(s)
    })))
    await waitForDisplays(machines, 500, '500 display messages')

    const byExternalId = new Map(server.documents.map((d) => [d.externalId, d]))
    expect(server.documents).toHaveLength(500) // one provider document per sale: nothing sent twice
    const keys = new Set<string>()
    for (const m of machines) {
      for (const d of m.displays) {
        keys.add(`${m.id}/${d.saleId}`)
        expect(d.type).toBe('receipt')
        const r = d as ReceiptDisplay
        const doc = byExternalId.get(`${m.id}/${r.saleId}/1`)!
        expect(doc.status).toBe('done')
        const qr = parseReceiptQr(r.qr)!
        // The QR is built from the provider's report: its FN, FD and fiscal sign.
        expect(qr).toMatchObject({ fn: ATOL_FN, i: doc.payload!.fiscal_document_number, fp: doc.fp, s: sent.get(`${m.id}/${r.saleId}`), n: 1 })
        expect(r.fiscal).toMatchObject({ fn: ATOL_FN, fd: qr.i, fp: qr.fp, total: qr.s, kind: 'sale' })
        expect(r.url).toBe(`http://receipts.test/r/${ATOL_FN}/${qr.i}?fp=${qr.fp}`)
      }
    }
    expect(keys.size).toBe(500)
    expect(server.fnDocuments.filter((d) => d.kind === 'receipt')).toHaveLength(500)

    const db = database.handle.db
    expect(await saleStates(db)).toEqual({ done: 500 })
    const counts = await sql<{ receipts: number; attempts: number; done: number }>`
      select (select count(*)::int from provider_receipts) as receipts, (select count(*)::int from atol_attempts) as attempts,
             (select count(*)::int from atol_attempts where status = 'done' and attempt = 1 and uuid is not null and polls >= 1) as done`.execute(db)
    expect(counts.rows[0]).toEqual({ receipts: 500, attempts: 500, done: 500 })
    // The display outbox is confirmed by the broker's PUBACKs.
    await waitFor(async () => (await sql<{ n: number }>`select count(*)::int as n from display_outbox where sent_at is null`.execute(db)).rows[0]!.n === 0, 'displays marked sent')
  })

  it('serves the receipt page of a provider receipt and passes verify on every provider receipt', async () => {
    const r = machines[3]!.displays[7] as ReceiptDisplay
    const base = `http://127.0.0.1:${gw.httpPort}/r/${r.fiscal.fn}/${r.fiscal.fd}`
    const res = await fetch(`${base}?fp=${r.fiscal.fp}`, { headers: { accept: 'application/json' } })
    expect(res.status).toBe(200)
    const view = await res.json()
    expect(view).toMatchObject({
      title: 'Кассовый чек', test: true, operation: 'Приход', seller: { name: ATOL_KASSA.name, inn: ATOL_KASSA.inn },
      kassa: { fn: ATOL_FN, regNumber: '0000000001012345' }, machine: { id: machines[3]!.id, number: machines[3]!.id, place: 'Вестибюль, 1 этаж' },
      items: [{ name: 'Шоколад «Алёнка» 100 г' }], totalKopecks: r.fiscal.total, fiscal: { fd: r.fiscal.fd, fp: r.fiscal.fp, qr: r.qr },
    })
    expect((await fetch(`${base}?fp=1`)).status).toBe(404)
    expect((await fetch(`${base}?fp=${r.fiscal.fp}`)).headers.get('content-type')).toMatch(/text\/html/)

    const verified = await runFleetCommand(database.handle.db, 'verify', {})
    expect(verified.output).toMatchObject({ ok: true, failureCount: 0, providerReceipts: 500 })
    await sql`update provider_receipts set total = total + 1 where fn = ${ATOL_FN} and fd = ${r.fiscal.fd}`.execute(database.handle.db)
    const tampered = await runFleetCommand(database.handle.db, 'verify', {})
    expect(tampered.exitCode).toBe(1)
    // The stored total no longer matches the sale, nor the QR the machine showed.
    expect(tampered.output).toMatchObject({
      ok: false, failureCount: 2,
      failures: [{ fn: ATOL_FN, fd: r.fiscal.fd, reason: expect.stringMatching(/^receipt total/) }, { fn: ATOL_FN, fd: r.fiscal.fd, reason: expect.stringMatching(/^QR/) }],
    })
    await sql`update provider_receipts set total = total - 1 where fn = ${ATOL_FN} and fd = ${r.fiscal.fd}`.execute(database.handle.db)

    // A second document the provider signed for the same sale: money no receipt of ours accounts for.
    await sql`insert into atol_attempts (sale_row_id, kassa_id, attempt, external_id, operation, request, status, uuid)
      select sale_row_id, kassa_id, attempt + 100, external_id || '/again', operation, request, 'done', uuid || '-again'
      from atol_attempts where id = (select attempt_id from provider_receipts where fn = ${ATOL_FN} and fd = ${r.fiscal.fd})`.execute(database.handle.db)
    const twice = await runFleetCommand(database.handle.db, 'verify', {})
    expect(twice.output).toMatchObject({ ok: false, failureCount: 1, failures: [{ reason: expect.stringMatching(/^sale .* has 2 provider documents signed, 1 held as its receipt/) }] })
    await sql`delete from atol_attempts where external_id like '%/again'`.execute(database.handle.db)
  })

  it('shares the work with a second gateway on the same database without registering any sale twice', async () => {
    // Aedes has no shared subscriptions: both gateways ingest every sale, and both fiscalizers and
    // pollers race for the same kassa; the kassa claim and the sales' leases must keep them apart.
    const second = await startGateway(database.handle, broker.url, { ...atolGatewayEnv(server), GATEWAY_ID: 'second' })
    try {
      const before = { documents: server.documents.length, accepted: server.counters.sellsAccepted, duplicates: server.counters.duplicates }
      const sales = machines.flatMap((m) => Array.from({ length: 10 }, () => ({ m, s: sale() })))
      await Promise.all(sales.map(({ m, s }) => m.publishSale(s)))
      await waitFor(() => sales.every(({ m, s }) => m.displaysFor(s.saleId).length >= 1), '100 receipts from two gateways')
      expect(server.documents.length - before.documents).toBe(100)
      expect(server.counters.sellsAccepted - before.accepted).toBe(100)
      expect(server.counters.duplicates - before.duplicates).toBe(0) // no external_id was ever sent by both
      for (const { m, s } of sales) expect(new Set(m.displaysFor(s.saleId).map((d) => JSON.stringify(d))).size).toBe(1)
    } finally {
      await second.gateway.stop()
    }
  })

  it('refunds a failed vend with sell_refund of the original items (n=2), once', async () => {
    const m = machines[0]!
    const original = sale({ items: [{ sku: 'C1', name: 'Кофе', price: 9900, qty: 2, vat: 'vat22' }] })
    await m.publishSale(original)
    await waitFor(() => m.displaysFor(original.saleId).length === 1, 'the sale receipt')
    // The machine's refund names other items: the receipt must carry the original's.
    const refund = sale({ kind: 'refund', refundOf: original.saleId, items: [{ sku: 'X', name: 'Другое', price: 100, qty: 1, vat: 'none' }] })
    const again = sale({ kind: 'refund', refundOf: original.saleId })
    await m.publishSale(refund)
    await waitFor(() => m.displaysFor(refund.saleId).length === 1, 'the refund receipt')
    await m.publishSale(again)
    await waitFor(() => m.displaysFor(again.saleId).length === 1, 'the second refund answered')

    const r = m.displaysFor(refund.saleId)[0] as ReceiptDisplay
    expect(r.fiscal.kind).toBe('refund')
    expect(parseReceiptQr(r.qr)).toMatchObject({ n: 2, s: 19800, fn: ATOL_FN })
    const doc = server.documents.find((d) => d.externalId === `${m.id}/${refund.saleId}/1`)!
    expect(doc.operation).toBe('sell_refund')
    expect(doc.request.receipt.items).toEqual([expect.objectContaining({ name: 'Кофе', price: 99, quantity: 2, sum: 198 })])
    expect(m.displaysFor(again.saleId)[0]).toMatchObject({ type: 'rejected', reason: `sale ${original.saleId} is already refunded` })
    expect(server.documents.filter((d) => d.operation === 'sell_refund')).toHaveLength(1)
  })

  it("shows the cloud kassa's provider status and its provider-signed receipts on the kassa page", async () => {
    const get = async (path: string) => (await fetch(`http://127.0.0.1:${gw.httpPort}${path}`, { headers: { authorization: 'Bearer test-operator-token-0123456789' } })).json() as Promise<any>
    const done = server.documents.filter((d) => d.status === 'done').length
    const { status } = await get(`/api/kassas/${ATOL_KASSA.id}/provider`)
    expect(status).toMatchObject({ provider: 'atol-v5', attempts: { done } })
    expect(Date.parse(status.lastFinishedAt)).toBeGreaterThan(0)
    const docs = await get(`/api/kassas/${ATOL_KASSA.id}/documents`)
    expect(docs.items).toHaveLength(50)
    expect(docs.next).not.toBeNull()
    const first = docs.items[0]
    expect(first).toMatchObject({ fn: ATOL_FN, type: 3, receiptUrl: `http://receipts.test/r/${ATOL_FN}/${first.fd}?fp=${first.fp}` })
  })
})
