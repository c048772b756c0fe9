import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AuditDisplaySchema, type AuditDisplay } from '../../protocol/index.js'
import { AuditCounters } from '../../device-sim/audit-counters.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { operatorApi } from '../support/operator-api.js'
import { provisionFleet, startBroker, startGateway } from '../support/system.js'
import { waitFor } from '../support/wait.js'

const HOUR = 3_600_000

describe('reconciliation over the API: settling, verdict, baseline (PostgreSQL, real broker and gateway)', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let get: ReturnType<typeof operatorApi>
  let machine: TestMachine
  let clockOffset = 0
  const answers: AuditDisplay[] = []

  beforeAll(async () => {
    database = await createTestDatabase()
    const [creds] = await provisionFleet(database.handle.db, 1)
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url, { AUDIT_SETTLE_S: '3600' }, () => new Date(Date.now() + clockOffset))
    get = operatorApi(gw.httpPort)
    machine = await connectMachine(broker.url, creds!)
    machine.client.on('message', (_t, payload) => {
      const parsed = AuditDisplaySchema.safeParse(JSON.parse(payload.toString('utf8')))
      if (parsed.success) answers.push(parsed.data)
    })
  })

  afterAll(async () => {
    await machine?.close()
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
  })

  async function upload(counters: AuditCounters): Promise<void> {
    const before = answers.length
    await machine.publishRaw('vending/VM-001/audit', Buffer.from(counters.render(new Date())))
    await waitFor(() => answers.length > before, 'the audit answer')
    expect(answers.at(-1)!.status).toBe('stored')
  }

  it('holds the verdict while sales may be on their way, then finds the unreported vend; a new board is a baseline', async () => {
    const counters = new AuditCounters({ machineId: 'VM-001' })
    await upload(counters)
    const sold = [sale(), sale({ payment: { method: 'cash', amount: 12000 } })]
    for (const s of sold) {
      counters.record(s.items, s.payment.method)
      await machine.publishSale(s)
    }
    await waitFor(() => machine.displays.length >= 2, 'two receipts')
    const water = { sku: 'A12', name: 'Вода', price: 7000, qty: 1, vat: 'vat22' as const }
    counters.record([water], 'cash') // a vend the machine never reported
    await upload(counters)

    const settling = (await get('/api/machines/VM-001/reconciliation')).body.items
    expect(settling).toHaveLength(1)
    expect(settling[0]).toMatchObject({ status: 'settling', verdict: null, reason: 'waiting for sales still on their way', counted: { total: { value: 31000, count: 3 } } })
    const early = await fetch(`http://127.0.0.1:${gw.httpPort}/api/machines/VM-001/intervals/${settling[0].id}/correction`, { method: 'POST', headers: { authorization: 'Bearer test-operator-token-0123456789' } })
    expect(early.status).toBe(409)

    clockOffset = 2 * HOUR
    const [settled] = (await get('/api/machines/VM-001/reconciliation')).body.items
    expect(settled).toMatchObject({
      status: 'reconciled', verdict: 'unreceipted', profile: 'sim',
      receipted: { total: { value: 24000, count: 2 }, cash: { value: 12000, count: 1 }, cashless: { value: 12000, count: 1 } },
      difference: { total: { value: 7000, count: 1 }, cash: { value: 7000, count: 1 }, cashless: { value: 0, count: 0 } },
    })

    // The controller was replaced: its counters start again under another serial.
    const replaced = new AuditCounters({ machineId: 'VM-001-new-board', start: { paid: { value: 0, count: 0 }, cash: { value: 0, count: 0 }, cashless: { value: 0, count: 0 } } })
    await upload(replaced)
    const items = (await get('/api/machines/VM-001/reconciliation')).body.items
    expect(items).toHaveLength(2)
    expect(items[0]).toMatchObject({ status: 'baseline', verdict: null, reason: `serial (ID101) changed: ${counters.serial} → ${replaced.serial}` })
    const latest = (await get(`/api/machines/VM-001/reconciliation?from=${encodeURIComponent(items[0].to)}`)).body.items
    expect(latest.map((i: any) => i.id)).toEqual([items[0].id])
    expect((await get('/api/machines/VM-001/reconciliation?from=yesterday')).status).toBe(400)
  })
})
