import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseReceiptQr, type ReceiptDisplay } from '../../protocol/index.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, waitForDisplays, type TestMachine } from '../support/machine-client.js'
import { provisionFleet, startBroker, startGateway, TEST_KASSA } from '../support/system.js'
import { waitFor } from '../support/wait.js'

describe('a sale travels from a machine to a receipt QR on its display (PostgreSQL)', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let machines: TestMachine[] = []

  beforeAll(async () => {
    database = await createTestDatabase()
    const creds = await provisionFleet(database.handle.db, 50)
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url)
    machines = await Promise.all(creds.map((c) => connectMachine(broker.url, c)))
  })

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.close()))
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
  })

  it('answers 50 machines × 20 sales with 1,000 receipts, gapless and without duplicates', async () => {
    const sent = new Map<string, number>()
    await Promise.all(machines.map(async (m, i) => {
      for (let n = 0; n < 20; n++) {
        const s = sale({ items: [{ sku: `S${n}`, name: 'Шоколад «Алёнка» 100 г', price: 5000 + i * 100 + n, qty: 1 + (n % 3), vat: n % 2 ? 'vat22' : 'vat22_122' }] })
        sent.set(`${m.id}/${s.saleId}`, s.payment.amount)
        await m.publishSale(s)
      }
    }))
    await waitForDisplays(machines, 1000, '1,000 display messages')

    const receipts = machines.flatMap((m) => m.displays.map((d) => ({ machine: m.id, d })))
    expect(receipts).toHaveLength(1000)
    const keys = new Set(receipts.map((r) => `${r.machine}/${r.d.saleId}`))
    expect(keys.size).toBe(1000) // no duplicates, and so none missing
    const fds: number[] = []
    for (const { machine, d } of receipts) {
      expect(d.type).toBe('receipt')
      const r = d as ReceiptDisplay
      const qr = parseReceiptQr(r.qr)
      expect(qr, r.qr).not.toBeNull()
      expect(qr!.s).toBe(sent.get(`${machine}/${r.saleId}`))
      expect(qr!.fn).toBe(TEST_KASSA.fn)
      expect(qr!.i).toBe(r.fiscal.fd)
      expect(qr!.fp).toBe(r.fiscal.fp)
      expect(qr!.n).toBe(1)
      expect(r.url).toBe(`http://receipts.test/r/${TEST_KASSA.fn}/${r.fiscal.fd}?fp=${r.fiscal.fp}`)
      fds.push(r.fiscal.fd)
    }
    expect(new Set(fds).size).toBe(1000)
    // Every fiscal document of the FN (the shift report included) is numbered 1…N without a gap.
    const docs = await database.handle.db.selectFrom('fiscal_documents').select(['fd', 'type']).where('fn', '=', TEST_KASSA.fn).orderBy('fd').execute()
    expect(docs.map((d) => d.fd)).toEqual(docs.map((_, i) => i + 1))
    expect(docs.filter((d) => d.type === 3)).toHaveLength(1000)
    expect(docs[0]!.type).toBe(2)
  })

  it('publishes the stored receipt again when a sale is repeated, with one fiscal document', async () => {
    const m = machines[0]!
    const s = sale()
    await m.publishSale(s)
    await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the first receipt')
    await m.publishSale(s)
    await m.publishSale(s)
    await waitFor(() => m.displaysFor(s.saleId).length === 3, 'three display messages')
    const [first, ...again] = m.displaysFor(s.saleId)
    for (const d of again) expect(d).toEqual(first)
    const row = await sql<{ n: number }>`
      select count(*)::int as n from fiscal_documents d join sales s on s.id = d.sale_row_id
      where s.machine_id = ${m.id} and s.sale_id = ${s.saleId}`.execute(database.handle.db)
    expect(row.rows[0]!.n).toBe(1)
  })

  it('stores a malformed sale with its reason, answers it, and receipts the next valid sale', async () => {
    const m = machines[1]!
    const bad = { ...sale(), payment: { method: 'card', amount: 1 } }
    await m.publishRaw(`vending/${m.id}/sale`, JSON.stringify(bad))
    await waitFor(() => m.displaysFor(bad.saleId).length === 1, 'the rejected display')
    const answer = m.displaysFor(bad.saleId)[0]!
    expect(answer.type).toBe('rejected')
    expect(answer.type === 'rejected' && answer.reason).toMatch(/payment\.amount 1 does not equal the items' total 12000/)
    const rejected = await database.handle.db.selectFrom('rejected_messages').selectAll().where('sale_id', '=', bad.saleId).execute()
    expect(rejected).toHaveLength(1)
    expect(rejected[0]!.machine_id).toBe(m.id)
    expect(Buffer.from(rejected[0]!.payload).toString()).toBe(JSON.stringify(bad))

    const good = sale()
    await m.publishSale(good)
    await waitFor(() => m.displaysFor(good.saleId).length === 1, 'the next receipt')
    expect(m.displaysFor(good.saleId)[0]!.type).toBe('receipt')
  })

  it('passes verify on the stored documents, and fails it naming the document after one byte changes', async () => {
    const clean = await runFleetCommand(database.handle.db, 'verify', {})
    expect(clean.exitCode).toBe(0)
    expect(clean.output).toMatchObject({ ok: true, failureCount: 0 })
    expect((clean.output as { receipts: number }).receipts).toBeGreaterThanOrEqual(1000)

    await sql`update fiscal_documents set tlv = overlay(tlv placing '\xff'::bytea from 40 for 1)
              where fn = ${TEST_KASSA.fn} and fd = 500`.execute(database.handle.db)
    const tampered = await runFleetCommand(database.handle.db, 'verify', {})
    expect(tampered.exitCode).toBe(1)
    expect(tampered.output).toMatchObject({ ok: false, failureCount: 1, failures: [{ fn: TEST_KASSA.fn, fd: 500 }] })
  })
})
