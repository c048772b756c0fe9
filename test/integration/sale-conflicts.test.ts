import { describe, expect, it } from 'vitest'
import { parseReceiptQr, type DisplayMessage, type ReceiptDisplay, type SaleEvent } from '../../protocol/index.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { operatorApi } from '../support/operator-api.js'
import { TEST_KASSA, useSystem, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// A saleId names one sale. A repeat with the same content gets the stored receipt; a repeat with
// other content (a firmware bug reusing ids) is refused as `conflict` and kept with both sides, so
// no real sale silently goes without a receipt while the screen shows someone else's QR.

const receiptOf = (d: DisplayMessage | undefined): ReceiptDisplay => {
  if (d?.type !== 'receipt') throw new Error(`expected a receipt, got ${JSON.stringify(d)}`)
  return d
}
const item = (price: number, sku = 'A1') => ({ sku, name: 'Вода', price, qty: 1, vat: 'vat22' as const })

describe('conflicting repeats of a saleId and refunds that differ from their original', () => {
  const system = useSystem(3)
  const db = () => system.database.handle.db
  const m = (i: number) => system.machines[i]!
  const api = () => operatorApi(system.gw.httpPort)

  async function sell(machine: TestMachine, s: SaleEvent): Promise<ReceiptDisplay> {
    await machine.publishSale(s)
    return receiptOf(await waitFor(() => machine.displaysFor(s.saleId)[0], `the receipt of ${s.saleId}`))
  }

  async function conflictRows(machineId: string, saleId: string) {
    return db().selectFrom('sale_conflicts').selectAll().where('machine_id', '=', machineId).where('sale_id', '=', saleId).execute()
  }

  it('refuses a receipted saleId sent again for 999.99 as `conflict`, records both sides, and still answers the true repeat', async () => {
    const machine = m(0)
    const first = sale({ saleId: 'reused-1', items: [item(100)] })
    const receipt = await sell(machine, first)
    const second = sale({ saleId: 'reused-1', items: [item(99_999)] })
    const payload = Buffer.from(JSON.stringify(second))
    await machine.publishRaw(`vending/${machine.id}/sale`, payload)
    await waitFor(() => machine.displaysFor('reused-1').length === 2, 'the answer to the second sale')
    expect(machine.displaysFor('reused-1')[1]).toEqual({ v: 1, type: 'rejected', saleId: 'reused-1', reason: 'conflict' })

    const [row, ...more] = await conflictRows(machine.id, 'reused-1')
    expect(more).toEqual([])
    expect(row).toMatchObject({ stored_state: 'done', stored: { total: 100, kind: 'sale' }, incoming: { total: 99_999, at: second.at } })
    expect(Buffer.from(row!.payload).equals(payload)).toBe(true)

    // Byte-identical, then the same sale written differently (keys reordered, another `at`): the stored receipt.
    await machine.publishSale(first)
    const { v, saleId, kind, items, payment } = first
    await machine.publishRaw(`vending/${machine.id}/sale`, JSON.stringify({ payment, items, kind, at: new Date().toISOString(), saleId, v }))
    await waitFor(() => machine.displaysFor('reused-1').length === 4, 'two more answers')
    expect(machine.displaysFor('reused-1').slice(2)).toEqual([receipt, receipt])
    expect(await conflictRows(machine.id, 'reused-1')).toHaveLength(1)
    expect(parseReceiptQr(receipt.qr)!.s).toBe(100)
    const sales = await db().selectFrom('sales').select(['total', 'state']).where('sale_id', '=', 'reused-1').execute()
    expect(sales).toEqual([{ total: 100, state: 'done' }])
  })

  it('refuses a conflict while the original is still pending, and the pending original is receipted later as it was', async () => {
    // A kassa whose FN expired keeps its sales pending until the machine moves to another kassa.
    const longAgo = new Date(Date.now() - 1200 * 86_400_000)
    await runFleetCommand(db(), 'add-kassa', { ...TEST_KASSA, id: 'OLD', fn: '9999078900007777', 'fn-model': 'fn-36', 'doc-limit': 1000 }, longAgo)
    const { output } = await runFleetCommand(db(), 'add-machine', { id: 'PEND-1', kassa: 'OLD', address: 'г. Москва', place: 'Склад' })
    const machine = await connectMachine(system.broker.url, output as Credentials)
    system.machines.push(machine)
    const original = sale({ saleId: 'reused-2', items: [item(100)] })
    await machine.publishSale(original)
    await waitFor(async () => (await db().selectFrom('sales').select('state').where('sale_id', '=', 'reused-2').executeTakeFirst())?.state === 'pending', 'the original stored, pending')
    await machine.publishSale(sale({ saleId: 'reused-2', items: [item(99_999)] }))
    await machine.publishSale(original) // a true repeat of a pending sale: nothing extra, its receipt follows
    const answer = await waitFor(() => machine.displaysFor('reused-2')[0], 'the conflict answer')
    expect(answer).toEqual({ v: 1, type: 'rejected', saleId: 'reused-2', reason: 'conflict' })
    expect(await conflictRows('PEND-1', 'reused-2')).toMatchObject([{ stored_state: 'pending', stored: { total: 100 }, incoming: { total: 99_999 } }])

    await runFleetCommand(db(), 'move-machine', { id: 'PEND-1', kassa: TEST_KASSA.id })
    const receipt = receiptOf(await waitFor(() => machine.displaysFor('reused-2').find((d) => d.type === 'receipt'), 'the original\'s receipt', 30_000))
    expect(parseReceiptQr(receipt.qr)!.s).toBe(100)
  })

  it('refuses a conflicting copy that arrives in the same batch as its original', async () => {
    const machine = m(1)
    const a = sale({ saleId: 'reused-3', items: [item(100)] })
    const b = sale({ saleId: 'reused-3', items: [item(200)] })
    for (const s of [a, b]) system.broker.sales!.accept(`vending/${machine.id}/sale`, machine.id, Buffer.from(JSON.stringify(s)), () => {})
    await waitFor(() => machine.displaysFor('reused-3').length === 2, 'both answers')
    expect(machine.displaysFor('reused-3').map((d) => d.type).sort()).toEqual(['receipt', 'rejected'])
    expect(parseReceiptQr(receiptOf(machine.displaysFor('reused-3').find((d) => d.type === 'receipt')).qr)!.s).toBe(100)
  })

  it('shows conflicts to the operator in the API and raises an alert on the machine', async () => {
    const list = await api()(`/api/conflicts?machine=${m(0).id}`)
    expect(list.status).toBe(200)
    expect(list.body.items).toMatchObject([{ machineId: m(0).id, saleId: 'reused-1', storedState: 'done', stored: { total: 100 }, incoming: { total: 99_999 } }])
    expect(Buffer.from(list.body.items[0].payloadBase64, 'base64').toString()).toContain('99999')
    await system.gw.alerts.evaluateOnce()
    const alerts = (await api()('/api/alerts')).body.items as { rule: string; subject: { id: string }; details: { count: number } }[]
    const own = alerts.filter((a) => a.rule === 'machine_sale_conflict')
    expect(own.map((a) => a.subject.id).sort()).toEqual([m(0).id, m(1).id, 'PEND-1'].sort())
    expect(own.find((a) => a.subject.id === m(0).id)!.details.count).toBe(1)
  })

  it('receipts a refund for twice the original at the original\'s total, with the sale row saying the same', async () => {
    const machine = m(2)
    const original = sale({ items: [item(500, 'R1')] })
    await sell(machine, original)
    const refund = sale({ kind: 'refund', refundOf: original.saleId, items: [item(500, 'R1'), item(500, 'R1')] })
    expect(refund.payment.amount).toBe(1000)
    const r = await sell(machine, refund)
    expect(r.fiscal).toMatchObject({ kind: 'refund', total: 500 })
    expect(parseReceiptQr(r.qr)).toMatchObject({ s: 500, n: 2 })
    const row = await db().selectFrom('sales').select(['total', 'items', 'declared']).where('sale_id', '=', refund.saleId).executeTakeFirstOrThrow()
    expect(row.total).toBe(500)
    expect(row.items).toEqual([item(500, 'R1')])
    expect(row.declared).toMatchObject({ total: 1000 })
    const listed = (await api()(`/api/sales?machine=${machine.id}`)).body.items.find((s: { saleId: string }) => s.saleId === refund.saleId)
    expect(listed).toMatchObject({ total: 500, receipt: { fd: r.fiscal.fd } })
    // The machine republishes its refund as it sent it: the same sale, so the same receipt.
    await machine.publishSale(refund)
    await waitFor(() => machine.displaysFor(refund.saleId).length === 2, 'the repeated refund answered')
    expect(machine.displaysFor(refund.saleId)[1]).toEqual(r)
  })

  it('passes verify after all of it, and fails it when a sale row disagrees with its signed total', async () => {
    const clean = await runFleetCommand(db(), 'verify', {})
    expect(clean.output).toMatchObject({ ok: true, failureCount: 0 })
    const refund = await db().selectFrom('sales').select(['id', 'fn', 'fd']).where('kind', '=', 'refund').executeTakeFirstOrThrow()
    await db().updateTable('sales').set({ total: 1000 }).where('id', '=', refund.id).execute()
    const tampered = await runFleetCommand(db(), 'verify', {})
    expect(tampered.output).toMatchObject({ ok: false, failureCount: 1, failures: [{ fn: refund.fn, fd: refund.fd, reason: 'receipt total 500 differs from its sale\'s 1000' }] })
    await db().updateTable('sales').set({ total: 500 }).where('id', '=', refund.id).execute()
  })
})
