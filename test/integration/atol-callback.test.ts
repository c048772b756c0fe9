import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseReceiptQr, type ReceiptDisplay, type SaleEvent } from '../../protocol/index.js'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { ATOL_FN, ATOL_KASSA, ATOL_PASSWORD_ENV, atolGatewayEnv, provisionAtolFleet } from '../support/atol-kassa.js'
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

  it('fails the sale on a non-retryable fail delivered by callback, as the provider reports it', async () => {
    server.failNext({ type: 'driver', code: 7, text: 'ФН переполнен' })
    const s = sale()
    const uuid = await submitted(s)
    clock += WAIT_MS
    expect((await callback('KA', await providerReport(uuid))).status).toBe(200)
    await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the rejection by callback', 3000)
    expect(m.displaysFor(s.saleId)[0]).toEqual({ v: 1, type: 'rejected', saleId: s.saleId, reason: 'ФН переполнен' })
  })

  describe('forged callbacks: nothing is taken from the body, the provider is asked', () => {
    const forgedPayload = (uuid: string, total: number) => ({
      uuid, status: 'done', error: null, timestamp: '01.12.2026 12:00:00',
      payload: {
        total, fn_number: '9999078900009999', shift_number: 1, receipt_datetime: '01.12.2026 12:00:00', fiscal_receipt_number: 1,
        fiscal_document_number: 777, ecr_registration_number: '0000000001099999', fiscal_document_attribute: 1234567890,
      },
    })
    const attemptsOf = async (saleId: string) => (await sql<{ n: number; state: string }>`
      select (select count(*)::int from atol_attempts a where a.sale_row_id = s.id) as n, s.state
      from sales s where s.sale_id = ${saleId}`.execute(database.handle.db)).rows[0]!
    const receiptsOf = async (saleId: string) => (await sql<{ fp: string; fd: number; total: number }>`
      select p.fp, p.fd, p.total from provider_receipts p join sales s on s.id = p.sale_row_id where s.sale_id = ${saleId}`.execute(database.handle.db)).rows
    async function forgeries(): Promise<number> {
      const text = await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)).text()
      return Number(/gateway_atol_callbacks_total\{outcome="forged"\} (\d+)/.exec(text)?.[1] ?? 0)
    }
    const documentsFor = (uuid: string) => server.documents.filter((d) => d.externalId === server.documents.find((x) => x.uuid === uuid)!.externalId)

    it('a forged "done" with a fake fn/fp is not committed nor shown; the provider\'s document is', async () => {
      const s = sale()
      const uuid = await submitted(s)
      const before = await forgeries()
      const res = await callback('KA', forgedPayload(uuid, 120))
      expect(res.status).toBe(200) // the forger learns nothing
      expect(await forgeries()).toBe(before + 1)
      expect(await receiptsOf(s.saleId)).toEqual([])
      expect((await attemptsOf(s.saleId)).state).toBe('submitted')
      expect(m.displaysFor(s.saleId)).toEqual([])

      clock += WAIT_MS
      expect((await callback('KA', await providerReport(uuid))).status).toBe(200)
      await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the genuine receipt', 3000)
      const real = server.documents.find((d) => d.uuid === uuid)!
      expect(await receiptsOf(s.saleId)).toEqual([{ fp: real.fp, fd: expect.any(Number), total: 12000 }])
      expect(parseReceiptQr((m.displaysFor(s.saleId)[0] as ReceiptDisplay).qr)).toMatchObject({ fn: ATOL_FN, fp: real.fp, s: 12000 })
      expect(await forgeries()).toBe(before + 1)
    })

    it('a forged total does not fail the real sale: the provider\'s signed receipt is recorded', async () => {
      const s = sale()
      const uuid = await submitted(s)
      clock += WAIT_MS
      const genuine = await providerReport(uuid)
      const before = await forgeries()
      const forged = { ...genuine, payload: { ...(genuine.payload as Record<string, unknown>), total: 1 } }
      expect((await callback('KA', forged)).status).toBe(200)
      expect(await forgeries()).toBe(before + 1)
      await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the receipt', 3000)
      expect(m.displaysFor(s.saleId)[0]!.type).toBe('receipt')
      expect(await receiptsOf(s.saleId)).toEqual([{ fp: server.documents.find((d) => d.uuid === uuid)!.fp, fd: expect.any(Number), total: 12000 }])
      expect((await attemptsOf(s.saleId)).state).toBe('done')
    })

    it('a forged "fail" makes no second submission: one provider document for the sale', async () => {
      const s = sale()
      const uuid = await submitted(s)
      const sellsBefore = server.counters.sellsAccepted
      const before = await forgeries()
      const forged = { uuid, status: 'fail', payload: null, timestamp: '01.12.2026 12:00:00', error: { error_id: 'x', code: 1, text: 'Ошибка', type: 'system' } }
      expect((await callback('KA', forged)).status).toBe(200)
      expect(await forgeries()).toBe(before + 1)
      // Another step of the poller's clock would send a retry at once if the fail had been taken.
      await gw.atol.runOnce()
      expect(await attemptsOf(s.saleId)).toEqual({ n: 1, state: 'submitted' })
      expect(server.counters.sellsAccepted).toBe(sellsBefore)
      expect(m.displaysFor(s.saleId)).toEqual([])

      clock += WAIT_MS
      await callback('KA', await providerReport(uuid))
      await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the receipt', 3000)
      expect(m.displaysFor(s.saleId)[0]!.type).toBe('receipt')
      expect(documentsFor(uuid)).toHaveLength(1)
      expect(await attemptsOf(s.saleId)).toEqual({ n: 1, state: 'done' })
    })
  })

  it('fleet verify asks the provider about every attempt, and reports a sale the provider signed twice', async () => {
    const providerSecret = (name: string) => (name === ATOL_PASSWORD_ENV ? server.password : undefined)
    const clean = await runFleetCommand(database.handle.db, 'verify', {}, new Date(), { providerSecret })
    expect(clean.output).toMatchObject({ ok: true, failureCount: 0, providerUnchecked: 0 })
    const attempts = (await sql<{ n: number }>`select count(*)::int as n from atol_attempts where uuid is not null`.execute(database.handle.db)).rows[0]!.n
    expect((clean.output as { providerChecked: number }).providerChecked).toBe(attempts)
    // Without the kassa's password here, nothing can be asked: counted, not failed.
    expect((await runFleetCommand(database.handle.db, 'verify', {})).output).toMatchObject({ ok: true, providerChecked: 0, providerUnchecked: attempts })

    // What a forged "fail" did before callbacks were checked: a second external_id for a sale already
    // submitted, signed by the provider as a second document, and recorded here as failed.
    const s = sale()
    const uuid = await submitted(s)
    const first = (await sql<{ sale_row_id: number; request: unknown }>`select sale_row_id, request from atol_attempts where uuid = ${uuid}`.execute(database.handle.db)).rows[0]!
    const { token } = await (await fetch(`${server.url}getToken`, { method: 'POST', body: JSON.stringify({ login: server.login, pass: server.password }) })).json() as { token: string }
    const second = await (await fetch(`${server.url}${server.group}/sell`, {
      method: 'POST', headers: { token, 'content-type': 'application/json' },
      body: JSON.stringify({ ...(first.request as Record<string, unknown>), external_id: `${s.saleId}-2` }),
    })).json() as { uuid: string }
    await sql`insert into atol_attempts (sale_row_id, kassa_id, attempt, external_id, operation, request, status, uuid)
              values (${first.sale_row_id}, 'KA', 2, ${`${s.saleId}-2`}, 'sell', ${JSON.stringify(first.request)}::jsonb, 'fail', ${second.uuid})`.execute(database.handle.db)
    clock += WAIT_MS
    await callback('KA', await providerReport(uuid))
    await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the receipt', 3000)

    const report = await runFleetCommand(database.handle.db, 'verify', {}, new Date(), { providerSecret })
    expect(report.exitCode).toBe(1)
    expect((report.output as { failures: { reason: string }[] }).failures.map((f) => f.reason)).toEqual(expect.arrayContaining([
      expect.stringMatching(new RegExp(`^recorded as fail, but the provider signed it .*attempt 2, uuid ${second.uuid}`)),
      expect.stringMatching(new RegExp(`^one sale, 2 documents signed by the provider: .*${second.uuid}`)),
    ]))
  })
})
