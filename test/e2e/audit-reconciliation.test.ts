import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { AGGREGATE_ITEM_NAME } from '../../gateway/audit/correction-items.js'
import { decodeDocument, decodeTlv, type TlvField } from '../../gateway/fiscal/index.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { correctAll, expectOnlyOfflineVendsUnreceipted, OFFLINE_MACHINES, OFFLINE_VENDS, reconciliations, SALES, sellWithOfflineVends } from '../support/audit-fleet.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { operatorApi } from '../support/operator-api.js'
import { provisionFleet, startBroker, startGateway, type Credentials } from '../support/system.js'

describe('audits against receipts: a fleet with offline cash vends, emulated FN', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let creds: Credentials[]
  let get: ReturnType<typeof operatorApi>

  beforeAll(async () => {
    database = await createTestDatabase()
    creds = await provisionFleet(database.handle.db, 10)
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url, { AUDIT_SETTLE_S: '0' })
    get = operatorApi(gw.httpPort)
  })

  afterAll(async () => {
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
  })

  it('finds exactly the 37 offline vends and their amount on their 3 machines, corrects each once, and verify passes', async () => {
    const report = await sellWithOfflineVends(broker.url, creds)
    expect(report.sent + report.offline.vends).toBe(SALES)
    expect(report.offline.vends).toBe(OFFLINE_VENDS)
    expect(Object.keys(report.offline.byMachine).sort()).toEqual([...OFFLINE_MACHINES])
    expect(report).toMatchObject({ receipted: report.sent, unanswered: 0, duplicates: 0, audits: { uploaded: 20, stored: 20, rejected: 0, unanswered: 0 } })

    const before = await reconciliations(get, creds)
    expectOnlyOfflineVendsUnreceipted(report, before)

    // The fleet-wide list and its CSV name the same three intervals and the same amount.
    const fleet = await get('/api/reconciliation/unreceipted')
    expect(fleet.body.items.map((r: any) => r.machineId).sort()).toEqual([...OFFLINE_MACHINES])
    expect(fleet.body.total).toEqual({ value: report.offline.value, count: OFFLINE_VENDS })
    const csv = await get('/api/reconciliation/unreceipted?format=csv')
    expect(csv.headers.get('content-type')).toContain('text/csv')
    expect((csv.body as string).trim().split('\r\n')).toHaveLength(4)

    // An unreceipted verdict raises an alert on its machine.
    await gw.alerts.evaluateOnce()
    const alerts = gw.alerts.active().filter((a) => a.rule === 'machine_unreceipted')
    expect(alerts.map((a) => a.subject.id).sort()).toEqual([...OFFLINE_MACHINES])

    // The dashboard's button for the first machine, `fleet correct` for the rest.
    const interval = before.get(OFFLINE_MACHINES[0])![0]
    const posted = await fetch(`http://127.0.0.1:${gw.httpPort}/api/machines/${OFFLINE_MACHINES[0]}/intervals/${interval.id}/correction`, {
      method: 'POST', headers: { authorization: 'Bearer test-operator-token-0123456789' },
    })
    expect(posted.status).toBe(201)
    const button = await posted.json() as any
    expect(button).toMatchObject({ created: true, status: 'done', total: report.offline.byMachine[OFFLINE_MACHINES[0]]!.value })
    expect((await fetch(`http://127.0.0.1:${gw.httpPort}${button.receiptUrl}`)).status).toBe(200)
    // Two operators at once: each interval still gets one correction.
    const [first, racing] = await Promise.all([correctAll(database.handle.db, before), correctAll(database.handle.db, before)])
    expect(first).toHaveLength(3)
    expect(first.map((o, i) => Number(o.created) + Number(racing[i].created))).toEqual(OFFLINE_MACHINES.map((_, i) => (i > 0 ? 1 : 0)))
    expect(racing.map((o) => o.fd)).toEqual(first.map((o) => o.fd))
    expect(first.every((o) => o.status === 'done')).toBe(true)
    expect(first.reduce((n, o) => n + o.total, 0)).toBe(report.offline.value)
    expect(first.reduce((n, o) => n + o.cash, 0)).toBe(report.offline.value)
    expect(first.reduce((n, o) => n + o.vends, 0)).toBe(OFFLINE_VENDS)
    const again = await correctAll(database.handle.db, before)
    expect(again.map((o) => [o.created, o.fd])).toEqual(first.map((o) => [false, o.fd]))
    const docs = await database.handle.db.selectFrom('fiscal_documents').selectAll().where('type', '=', 31).execute()
    expect(docs).toHaveLength(3)

    const after = await reconciliations(get, creds)
    for (const id of OFFLINE_MACHINES) expect(after.get(id)![0]).toMatchObject({ verdict: 'corrected', correction: { status: 'done' } })

    const verify = await runFleetCommand(database.handle.db, 'verify', {})
    expect(verify.exitCode).toBe(0)
    expect(verify.output).toMatchObject({ ok: true, corrections: 3, failureCount: 0 })
    // A stored correction that no longer says what its signed receipt says is a verify failure.
    const [c] = first
    const tampered = async (set: { base_date?: string; cash?: number; ecash?: number }) => {
      await database.handle.db.updateTable('audit_corrections').set(set).where('fd', '=', c.fd).where('fn', '=', c.fn).execute()
      return (await runFleetCommand(database.handle.db, 'verify', {})).output as { ok: boolean; failures: { fd: number; reason: string }[] }
    }
    expect(await tampered({ base_date: '2000-01-01' })).toMatchObject({ ok: false, failures: [{ fd: c.fd, reason: "correction basis date 1178 differs from its interval's 2000-01-01" }] })
    expect(await tampered({ base_date: c.baseDate, cash: c.cash - 100, ecash: 100 })).toMatchObject({
      ok: false, failures: [{ fd: c.fd, reason: `correction pays ${c.cash} cash and 0 electronically, its interval ${c.cash - 100} and 100` }],
    })
    expect(await tampered({ cash: c.cash, ecash: 0 })).toMatchObject({ ok: true })

    for (const doc of docs) {
      const [outer] = decodeTlv(doc.tlv)
      expect(outer!.tag).toBe(31)
      const fields = outer!.value as TlvField[]
      expect(fields.find((f) => f.tag === 1173)?.value).toBe(0)
      expect(fields.find((f) => f.tag === 1054)?.value).toBe(1)
      const basis = fields.find((f) => f.tag === 1174)?.value as TlvField[]
      expect(basis.map((f) => f.tag)).toEqual([1178])
      const decoded = decodeDocument(doc.tlv)
      expect(decoded.items.every((i) => i.measure === 0)).toBe(true)
      expect(decoded).toMatchObject({ type: 31, correctionType: 0, cash: doc.total, ecash: null })
      expect(OFFLINE_MACHINES).toContain(decoded.machineNumber)
      // One item per product the audit counted beyond its receipts, the vends in whole pieces.
      const issued = first.find((o) => o.fd === doc.fd)!
      expect(decoded.items.reduce((n, i) => n + i.quantity.mantissa, 0)).toBe(issued.vends)
      expect(decoded.items.map((i) => i.name)).not.toContain(AGGREGATE_ITEM_NAME)

      const page = await fetch(`http://127.0.0.1:${gw.httpPort}/r/${doc.fn}/${doc.fd}?fp=${doc.fp}`, { headers: { accept: 'application/json' } })
      expect(page.status).toBe(200)
      expect(await page.json()).toMatchObject({ title: 'Кассовый чек коррекции', operation: 'Приход', correction: { type: 'самостоятельно' }, totalKopecks: doc.total })
    }
  })
})
