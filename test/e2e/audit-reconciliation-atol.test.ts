import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { correctAll, expectOnlyOfflineVendsUnreceipted, OFFLINE_MACHINES, OFFLINE_VENDS, reconciliations, SALES, sellWithOfflineVends } from '../support/audit-fleet.js'
import { ATOL_PASSWORD_ENV, atolGatewayEnv, provisionAtolFleet } from '../support/atol-kassa.js'
import { createAtolServer, type AtolServer } from '../support/atol-server.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { operatorApi } from '../support/operator-api.js'
import { startBroker, startGateway, type Credentials } from '../support/system.js'

describe('audits against receipts on an ATOL v5 cloud kassa (the protocol double)', () => {
  let database: TestDatabase
  let atol: AtolServer
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let creds: Credentials[]
  let get: ReturnType<typeof operatorApi>

  beforeAll(async () => {
    database = await createTestDatabase()
    atol = await createAtolServer({ inn: '7707083893', waitMs: 50 })
    creds = await provisionAtolFleet(database.handle.db, atol, 10, { prefix: 'VM-' })
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url, atolGatewayEnv(atol, { AUDIT_SETTLE_S: '0' }))
    get = operatorApi(gw.httpPort)
  })

  afterAll(async () => {
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await atol?.stop()
    await database?.drop()
  })

  it('finds the 37 offline vends, sends one sell_correction per interval ever, and verify passes', async () => {
    const report = await sellWithOfflineVends(broker.url, creds)
    expect(report.sent + report.offline.vends).toBe(SALES)
    expect(report).toMatchObject({ receipted: report.sent, unanswered: 0, duplicates: 0, audits: { stored: 20, unanswered: 0 } })
    const before = await reconciliations(get, creds)
    expectOnlyOfflineVendsUnreceipted(report, before)

    const context = { providerSecret: (name: string) => (name === ATOL_PASSWORD_ENV ? atol.password : undefined) }
    // The provider refuses the first machine's correction (nothing signed): asking again sends the next attempt.
    const refusedMachine = OFFLINE_MACHINES[0]
    const refusedIntervals = before.get(refusedMachine)!
    atol.failNext({ type: 'driver', code: 244, text: 'ФН не отвечает' })
    const refused = await correctAll(database.handle.db, new Map([[refusedMachine, refusedIntervals]]), context)
    expect(refused.map((o) => [o.created, o.status, o.error])).toEqual([[true, 'fail', '244: ФН не отвечает']])
    const first = await correctAll(database.handle.db, before, context)
    expect(first.map((o) => [o.created, o.status])).toEqual([[true, 'done'], [true, 'done'], [true, 'done']])
    const refusedId = `correction/${refusedMachine}/${refused[0].interval}`
    expect(atol.documents.filter((d) => d.request.external_id.startsWith(refusedId)).map((d) => [d.request.external_id, d.status]))
      .toEqual([[refusedId, 'fail'], [`${refusedId}/2`, 'done']])
    expect(first.reduce((n, o) => n + o.total, 0)).toBe(report.offline.value)
    const again = await correctAll(database.handle.db, before, context)
    expect(again.map((o) => [o.created, o.fd])).toEqual(first.map((o) => [false, o.fd]))

    const corrections = atol.documents.filter((d) => d.operation === 'sell_correction' && d.status !== 'fail')
    expect(corrections).toHaveLength(3)
    expect(atol.counters.duplicates).toBe(0)
    expect(atol.fnDocuments.filter((d) => d.kind === 'correction')).toHaveLength(3)
    for (const doc of corrections) {
      expect(doc.status).toBe('done')
      expect(doc.request.receipt).toBeUndefined()
      const c = doc.request.correction
      expect(c.correction_info).toEqual({ type: 'self', base_date: expect.stringMatching(/^\d{2}\.\d{2}\.\d{4}$/) })
      expect(c.payments).toEqual([{ type: 0, sum: c.total }])
      expect(OFFLINE_MACHINES).toContain(c.device_number)
      expect(c.items.every((i: any) => i.measure === 0 && i.payment_method === 'full_payment')).toBe(true)
      const issued = first.find((o) => o.machine === c.device_number)!
      expect(Math.round(c.total * 100)).toBe(issued.total)
      expect(c.items.reduce((n: number, i: any) => n + i.quantity, 0)).toBe(issued.vends)
    }
    expect(first.reduce((n, o) => n + o.vends, 0)).toBe(OFFLINE_VENDS)

    const after = await reconciliations(get, creds)
    for (const id of OFFLINE_MACHINES) expect(after.get(id)![0]).toMatchObject({ verdict: 'corrected', correction: { status: 'done', fn: atol.fnNumber } })
    // Each correction's receipt page, from the provider's report.
    for (const o of first) {
      const page = await fetch(`http://127.0.0.1:${gw.httpPort}/r/${o.fn}/${o.fd}?fp=${o.fp}`, { headers: { accept: 'application/json' } })
      expect(page.status).toBe(200)
      expect(await page.json()).toMatchObject({
        title: 'Кассовый чек коррекции', operation: 'Приход', totalKopecks: o.total, kassa: { fn: atol.fnNumber },
        correction: { type: 'самостоятельно', date: o.baseDate, interval: o.interval }, machine: { number: o.machine },
      })
    }
    const verify = await runFleetCommand(database.handle.db, 'verify', {})
    expect(verify.output).toMatchObject({ ok: true, failureCount: 0, providerReceipts: report.sent, corrections: OFFLINE_MACHINES.length })
    // A stored correction that its provider report does not bear out is a verify failure.
    const [c] = first
    await database.handle.db.updateTable('audit_corrections').set({ fp: '1' }).where('fn', '=', c.fn).where('fd', '=', c.fd).execute()
    expect((await runFleetCommand(database.handle.db, 'verify', {})).output).toMatchObject({
      ok: false, failures: [{ fd: c.fd, reason: `stored FN ${c.fn} FD ${c.fd} fp 1 differ from the provider's FN ${c.fn} FD ${c.fd} fp ${c.fp} (correction of interval ${c.interval})` }],
    })
    await database.handle.db.updateTable('audit_corrections').set({ fp: c.fp }).where('fn', '=', c.fn).where('fd', '=', c.fd).execute()
  })

  it('refuses a sell_correction body that puts the document under `receipt` or lacks correction_info', async () => {
    const token = await (await fetch(`${atol.url}getToken`, { method: 'POST', body: JSON.stringify({ login: atol.login, pass: atol.password }) })).json() as { token: string }
    const post = async (body: unknown) => {
      const res = await fetch(`${atol.url}${atol.group}/sell_correction`, { method: 'POST', headers: { token: token.token }, body: JSON.stringify(body) })
      return { status: res.status, body: await res.json() as any }
    }
    const valid = atol.documents.find((d) => d.operation === 'sell_correction')!.request
    const asReceipt = { ...valid, external_id: 'x-1', receipt: valid.correction, correction: undefined }
    expect(await post(asReceipt)).toMatchObject({ status: 400, body: { error: { code: 32 } } })
    const { correction_info: _, ...noInfo } = valid.correction
    expect((await post({ ...valid, external_id: 'x-2', correction: noInfo })).body.error.text).toContain('correction_info is missing')
    const withNumber = { ...valid, external_id: 'x-3', correction: { ...valid.correction, correction_info: { type: 'self', base_date: '01.12.2026', base_number: '1' } } }
    expect((await post(withNumber)).body.error.text).toContain('base_number')
  })
})
