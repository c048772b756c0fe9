import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseReceiptQr } from '../../protocol/index.js'
import { openDatabase, type DatabaseHandle } from '../../gateway/db/database.js'
import { migrateToLatest } from '../../gateway/db/migrate.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { connectMachine, sale, waitForDisplays, type TestMachine } from '../support/machine-client.js'
import { provisionFleet, startBroker, startGateway, TEST_KASSA } from '../support/system.js'

describe('the same flow on the embedded database (PGlite)', () => {
  const dataDir = mkdtempSync(join(tmpdir(), 'vt-pglite-'))
  let database: DatabaseHandle
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let machines: TestMachine[] = []

  beforeAll(async () => {
    database = await openDatabase({ dataDir })
    await migrateToLatest(database.db)
    const creds = await provisionFleet(database.db, 10)
    broker = await startBroker(database.db)
    gw = await startGateway(database, broker.url)
    machines = await Promise.all(creds.map((c) => connectMachine(broker.url, c)))
  })

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.close()))
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.close()
    rmSync(dataDir, { recursive: true, force: true })
  })

  it('answers 10 machines × 10 sales with 100 gapless receipts that verify', async () => {
    const totals = new Map<string, number>()
    await Promise.all(machines.map(async (m) => {
      for (let n = 0; n < 10; n++) {
        const s = sale({ items: [{ sku: 'W', name: 'Вода 0,5 л', price: 8000 + n, qty: 1, vat: 'vat22' }] })
        totals.set(s.saleId, s.payment.amount)
        await m.publishSale(s)
      }
    }))
    await waitForDisplays(machines, 100, '100 receipts')
    const receipts = machines.flatMap((m) => m.displays)
    expect(new Set(receipts.map((d) => d.saleId)).size).toBe(100)
    const fds = receipts.map((d) => {
      if (d.type !== 'receipt') throw new Error(`unexpected ${d.type}`)
      const qr = parseReceiptQr(d.qr)!
      expect(qr.s).toBe(totals.get(d.saleId))
      expect(qr.fn).toBe(TEST_KASSA.fn)
      return qr.i
    }).sort((a, b) => a - b)
    expect(fds).toEqual(Array.from({ length: 100 }, (_, i) => i + 2)) // FD 1: the shift-open report
    const verify = await runFleetCommand(database.db, 'verify', {})
    expect(verify.output).toMatchObject({ ok: true, documents: 101, receipts: 100 })
  })
})
