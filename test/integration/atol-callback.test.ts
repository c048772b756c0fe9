import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseReceiptQr, type ReceiptDisplay, type SaleEvent } from '../../protocol/index.js'
import { ATOL_FN, ATOL_KASSA, atolGatewayEnv, provisionAtolFleet } from '../support/atol-kassa.js'
import { createAtolServer, type AtolServer } from '../support/atol-server.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { startBroker, startGateway } from '../support/system.js'
import { waitFor } from '../support/wait.js'

const WAIT_MS = 60_000

describe('the provider calls back with the result (POST /atol/callback/{kassaId})', () => {
  let database: TestDatabase
  let server: AtolServer
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let m: TestMachine
  let clock = Date.now()

  beforeAll(async () => {
    database = await createTestDatabase()
    server = await createAtolServer({ waitMs: WAIT_MS, now: () => new Date(clock), fnNumber: ATOL_FN, inn: ATOL_KASSA.inn, timeZone: ATOL_KASSA.tz })
    const [creds] = await provisionAtolFleet(database.handle.db, server, 1)
    broker = await startBroker(database.handle.db)
    // Polls 10 s apart: a result within seconds can only have come by the callback.
    gw = await startGateway(database.handle, broker.url, atolGatewayEnv(server, { ATOL_POLL_MS: '10000', ATOL_CALLBACK_URL: 'https://gw.example/' }))
    m = await connectMachine(broker.url, creds!)
  })

  afterAll(async () => {
    await m?.close()
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await server?.stop()
    await database?.drop()
  })

  const callback = (kassaId: string, body: unknown) => fetch(`http://127.0.0.1:${gw.httpPort}/atol/callback/${kassaId}`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body),
  })
  /** The report exactly as the provider serves it (and would POST it). */
  async function providerReport(uuid: string): Promise<Record<string, unknown>> {
    const { token } = await (await fetch(`${server.url}getToken`, { method: 'POST', body: JSON.stringify({ login: server.login, pass: server.password }) })).json() as { token: string }
    return (await fetch(`${server.url}${server.group}/report/${uuid}`, { headers: { token } })).json() as Promise<Record<string, unknown>>
  }
  async function submitted(s: SaleEvent): Promise<string> {
    await m.publishSale(s)
    return waitFor(async () => (await sql<{ uuid: string }>`
      select a.uuid from atol_attempts a join sales s on s.id = a.sale_row_id
      where s.sale_id = ${s.saleId} and a.status = 'wait'`.execute(database.handle.db)).rows[0]?.uuid, 'the provider to accept the sale')
  }

  it('asks for the callback, ignores reports it cannot tie to a waiting sale, and records a genuine one at once', async () => {
    const s = sale()
    const uuid = await submitted(s)
    expect(server.documents[0]!.request.service).toEqual({ callback_url: 'https://gw.example/atol/callback/KA' })

    clock += WAIT_MS
    const report = await providerReport(uuid)
    expect(report.status).toBe('done')
    expect((await callback('KA', { ...report, uuid: '00000000-0000-4000-8000-000000000000' })).status).toBe(404)
    expect((await callback('OTHER', report)).status).toBe(404) // the uuid is not that kassa's
    expect((await callback('KA', { hello: 'world' })).status).toBe(400)
    expect(m.displays).toEqual([])

    const res = await callback('KA', report)
    expect(res.status).toBe(200)
    await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the receipt by callback', 3000)
    const r = m.displaysFor(s.saleId)[0] as ReceiptDisplay
    expect(parseReceiptQr(r.qr)).toMatchObject({ fn: ATOL_FN, fp: server.documents[0]!.fp })

    // A second delivery of the same report changes nothing: the sale is no longer waiting.
    expect((await callback('KA', report)).status).toBe(404)
    const n = await sql<{ n: number }>`select count(*)::int as n from provider_receipts`.execute(database.handle.db)
    expect(n.rows[0]!.n).toBe(1)
  })

  it('fails the sale on a non-retryable fail delivered by callback', async () => {
    server.failNext({ type: 'driver', code: 7, text: 'ФН переполнен' })
    const s = sale()
    const uuid = await submitted(s)
    clock += WAIT_MS
    expect((await callback('KA', await providerReport(uuid))).status).toBe(200)
    await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the rejection by callback', 3000)
    expect(m.displaysFor(s.saleId)[0]).toEqual({ v: 1, type: 'rejected', saleId: s.saleId, reason: 'ФН переполнен' })
  })
})
