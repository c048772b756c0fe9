import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseReceiptQr, type DisplayMessage, type ReceiptDisplay } from '../../protocol/index.js'
import { decodeDocument } from '../../gateway/fiscal/index.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { provisionFleet, startBroker, startGateway, TEST_KASSA, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

const receiptOf = (d: DisplayMessage | undefined): ReceiptDisplay => {
  if (d?.type !== 'receipt') throw new Error(`expected a receipt, got ${JSON.stringify(d)}`)
  return d
}

describe('fiscal rules end to end: refunds, time zones, full and expired FNs, the receipt page', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let creds: Credentials[]
  const machines: TestMachine[] = []
  const db = () => database.handle.db

  beforeAll(async () => {
    database = await createTestDatabase()
    creds = await provisionFleet(db(), 2)
    broker = await startBroker(db())
    gw = await startGateway(database.handle, broker.url)
    for (const c of creds) machines.push(await connectMachine(broker.url, c))
  })

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.close()))
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
  })

  async function sell(m: TestMachine, s = sale()): Promise<ReceiptDisplay> {
    await m.publishSale(s)
    return receiptOf(await waitFor(() => m.displaysFor(s.saleId)[0], `a display for ${s.saleId}`))
  }

  it('turns a failed vend into a refund receipt (n=2) of the original sale', async () => {
    const m = machines[0]!
    const original = sale({ items: [{ sku: 'B1', name: 'Кофе «Американо»', price: 9000, qty: 2, vat: 'vat22' }] })
    const first = await sell(m, original)
    const refund = await sell(m, sale({ kind: 'refund', refundOf: original.saleId }))
    const qr = parseReceiptQr(refund.qr)!
    expect(qr.n).toBe(2)
    expect(qr.s).toBe(18000)
    expect(refund.fiscal.kind).toBe('refund')
    expect(refund.fiscal.fd).toBeGreaterThan(first.fiscal.fd)
    const doc = await db().selectFrom('fiscal_documents').select('tlv').where('fd', '=', refund.fiscal.fd).where('fn', '=', TEST_KASSA.fn).executeTakeFirstOrThrow()
    const decoded = decodeDocument(doc.tlv)
    expect(decoded.operation).toBe(2)
    expect(decoded.items.map((i) => [i.price, i.quantity.mantissa, i.sum])).toEqual([[9000, 2, 18000]])
  })

  it('refuses a refund of an unknown sale, of another machine\'s sale, and a second refund', async () => {
    const [a, b] = machines as [TestMachine, TestMachine]
    const expectRejected = async (m: TestMachine, refundOf: string, reason: RegExp) => {
      const r = sale({ kind: 'refund', refundOf })
      await m.publishSale(r)
      const d = await waitFor(() => m.displaysFor(r.saleId)[0], 'the refusal')
      expect(d.type).toBe('rejected')
      expect(d.type === 'rejected' && d.reason).toMatch(reason)
    }
    await expectRejected(a, 'no-such-sale', /unknown/)
    const bSale = sale()
    await sell(b, bSale)
    await expectRejected(a, bSale.saleId, /belongs to another machine/)
    const once = sale()
    await sell(a, once)
    await sell(a, sale({ kind: 'refund', refundOf: once.saleId }))
    await expectRejected(a, once.saleId, /already refunded/)
  })

  it('makes a refund wait while its original is still pending', async () => {
    const m = machines[1]!
    const original = sale()
    const refund = sale({ kind: 'refund', refundOf: original.saleId })
    // Published back to back: the refund may be claimed in the same batch as its original.
    await m.publishSale(original)
    await m.publishSale(refund)
    const r = receiptOf(await waitFor(() => m.displaysFor(refund.saleId)[0], 'the refund receipt'))
    const o = receiptOf(await waitFor(() => m.displaysFor(original.saleId)[0], 'the original receipt'))
    expect(r.fiscal.fd).toBeGreaterThan(o.fiscal.fd)
    expect(parseReceiptQr(r.qr)!.n).toBe(2)
  })

  it('shows every receipt field on the receipt page, for a sale and for a refund', async () => {
    const m = machines[0]!
    const original = sale({ items: [{ sku: 'C1', name: 'Шоколад «Алёнка» — 100 г', price: 12000, qty: 1, vat: 'vat22_122' }], payment: { method: 'cash', amount: 12000 } })
    const s = await sell(m, original)
    const r = await sell(m, sale({ kind: 'refund', refundOf: original.saleId }))
    for (const [d, operation] of [[s, 'Приход'], [r, 'Возврат прихода']] as const) {
      const url = new URL(d.url)
      const res = await fetch(`http://127.0.0.1:${gw.httpPort}${url.pathname}${url.search}`)
      expect(res.status).toBe(200)
      const html = await res.text()
      for (const field of [
        'ТЕСТОВЫЙ ЧЕК', operation, TEST_KASSA.name, TEST_KASSA.inn, 'УСН доход',
        // The name as signed: CP866 has no « » —, the FN signed their nearest equivalents.
        'г. Москва, ул. Тверская, 1', 'Вестибюль, 1 этаж', m.id, 'Шоколад &quot;Алёнка&quot; - 100 г', 'НДС 22/122', '21.64',
        '120.00', 'Наличными', TEST_KASSA.reg, TEST_KASSA.fn, String(d.fiscal.fd), d.fiscal.fp, `Смена`, '<svg',
      ]) expect(html, field).toContain(field)
      const json = await (await fetch(`http://127.0.0.1:${gw.httpPort}${url.pathname}${url.search}`, { headers: { accept: 'application/json' } })).json()
      expect(json).toMatchObject({ operation, total: '120.00', items: [{ name: 'Шоколад "Алёнка" - 100 г' }], fiscal: { fd: d.fiscal.fd, fp: d.fiscal.fp, qr: d.qr } })
      const wrong = await fetch(`http://127.0.0.1:${gw.httpPort}${url.pathname}?fp=1`)
      expect(wrong.status).toBe(404)
    }
  })

  it('refuses a machine in another time zone than its kassa, and uses the kassa\'s zone on receipts', async () => {
    await runFleetCommand(db(), 'add-kassa', { ...TEST_KASSA, id: 'EKB', fn: '9999078900005678', tz: 'Asia/Yekaterinburg', 'fn-model': 'fn-36', 'doc-limit': 1000 })
    await expect(runFleetCommand(db(), 'add-machine', { id: 'EKB-X', kassa: 'EKB', address: 'г. Екатеринбург', place: 'ТЦ', tz: 'Europe/Moscow' }))
      .rejects.toThrow(/Europe\/Moscow but kassa EKB is in Asia\/Yekaterinburg/)
    const { output } = await runFleetCommand(db(), 'add-machine', { id: 'EKB-1', kassa: 'EKB', address: 'г. Екатеринбург, пр. Ленина, 1', place: 'ТЦ, 2 этаж' })
    const m = await connectMachine(broker.url, output as Credentials)
    machines.push(m)
    const d = await sell(m)
    const local = new Intl.DateTimeFormat('sv-SE', { timeZone: 'Asia/Yekaterinburg', dateStyle: 'short', timeStyle: 'short' })
      .format(new Date(d.fiscal.at)).replace(/[-: ]/g, '').replace(/^(\d{8})/, '$1T')
    expect(parseReceiptQr(d.qr)!.t).toBe(local)
    expect(d.fiscal.at).toMatch(/\+05:00$/)
  })

  it('keeps sales pending on a full FN, says why, and fiscalizes them on a replaced FN numbered from 1', async () => {
    await runFleetCommand(db(), 'add-kassa', { ...TEST_KASSA, id: 'SMALL', fn: '9999078900009999', 'fn-model': 'fn-36', 'doc-limit': 10 })
    const { output } = await runFleetCommand(db(), 'add-machine', { id: 'SMALL-1', kassa: 'SMALL', address: 'г. Москва', place: 'Склад' })
    const m = await connectMachine(broker.url, output as Credentials)
    machines.push(m)
    const sales = Array.from({ length: 12 }, () => sale())
    for (const s of sales) await m.publishSale(s)
    await waitFor(async () => (await db().selectFrom('fiscal_drives').select('blocked_reason').where('fn', '=', '9999078900009999').executeTakeFirst())?.blocked_reason, 'the FN to say it is full')
    // A display may come twice (a sweeper resends one whose acknowledgement it has not seen; machines
    // keep the first): each sale's receipt counts once, as its first copy.
    const receipted = () => new Map(m.displays.map(receiptOf).reverse().map((d) => [d.saleId, d]))
    // A wait not met fails with where it stood, as the error's cause.
    const state = (c: { stored: number; done: number }): never => {
      throw new Error(`stored ${c.stored}, done ${c.done}, displays ${m.displays.length} for ${receipted().size} sales`)
    }
    // The FN may fill before the last sales are stored, and displays are published after their batch
    // commits: wait until all 12 are stored and every signed one has reached the machine.
    const counts = async () => (await sql<{ stored: number; done: number }>`select count(*)::int as stored,
      count(*) filter (where state = 'done')::int as done from sales where machine_id = 'SMALL-1'`.execute(db())).rows[0]!
    await waitFor(async () => { const c = await counts(); return c.stored === 12 && receipted().size === c.done || state(c) }, 'every sale stored and every signed receipt at the machine')
    const signed = receipted().size
    expect(signed).toBeGreaterThan(0)
    expect(signed).toBeLessThan(12)
    expect(m.displays.every((d) => d.type === 'receipt')).toBe(true)
    const pending = await sql<{ n: number }>`select count(*)::int as n from sales where machine_id = 'SMALL-1' and state = 'pending'`.execute(db())
    expect(pending.rows[0]!.n).toBe(12 - signed)
    expect(await db().selectFrom('rejected_messages').selectAll().where('machine_id', '=', 'SMALL-1').execute()).toEqual([])

    await runFleetCommand(db(), 'replace-fn', { kassa: 'SMALL', fn: '9999078900009998', 'fn-model': 'fn-36', 'doc-limit': 1000 })
    await waitFor(async () => receipted().size === 12 || state(await counts()), 'the rest on the new FN', 30_000)
    const onNew = [...receipted().values()].filter((d) => d.fiscal.fn === '9999078900009998').map((d) => d.fiscal.fd)
    expect(onNew).toHaveLength(12 - signed)
    expect(Math.min(...onNew)).toBe(2) // FD 1 is the new FN's shift-open report
    const first = receipted()
    for (const d of m.displays) expect(d, 'a copy is the same receipt').toEqual(first.get(d.saleId))
    const verify = await runFleetCommand(db(), 'verify', {})
    expect(verify.output).toMatchObject({ ok: true, failureCount: 0 })
  })

  it('keeps sales pending on an expired FN and fiscalizes them after move-machine to another kassa', async () => {
    const longAgo = new Date(Date.now() - 1200 * 86_400_000)
    await runFleetCommand(db(), 'add-kassa', { ...TEST_KASSA, id: 'OLD', fn: '9999078900007777', 'fn-model': 'fn-36', 'doc-limit': 1000 }, longAgo)
    const { output } = await runFleetCommand(db(), 'add-machine', { id: 'OLD-1', kassa: 'OLD', address: 'г. Москва', place: 'Холл' })
    const m = await connectMachine(broker.url, output as Credentials)
    machines.push(m)
    const s = sale()
    await m.publishSale(s)
    await waitFor(async () => (await db().selectFrom('fiscal_drives').select('blocked_reason').where('fn', '=', '9999078900007777').executeTakeFirst())?.blocked_reason, 'the FN to say it expired')
    expect(m.displays).toEqual([])
    await runFleetCommand(db(), 'move-machine', { id: 'OLD-1', kassa: TEST_KASSA.id })
    const d = receiptOf(await waitFor(() => m.displaysFor(s.saleId)[0], 'the receipt from the other kassa'))
    expect(d.fiscal.fn).toBe(TEST_KASSA.fn)
  })
})
