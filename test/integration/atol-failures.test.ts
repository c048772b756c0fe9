import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { runFleetCommand } from '../../gateway/fleet/fleet.commands.js'
import { parseReceiptQr, type ReceiptDisplay, type SaleEvent } from '../../protocol/index.js'
import { ATOL_FN, ATOL_KASSA, atolGatewayEnv, provisionAtolFleet } from '../support/atol-kassa.js'
import { createAtolServer, type AtolServer } from '../support/atol-server.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, waitForDisplays, type TestMachine } from '../support/machine-client.js'
import { startBroker, startGateway } from '../support/system.js'
import { waitFor } from '../support/wait.js'

describe('an ATOL v5 provider misbehaving: every sale still gets exactly one receipt, or a reason', () => {
  let database: TestDatabase
  let server: AtolServer
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let machines: TestMachine[] = []

  beforeAll(async () => {
    database = await createTestDatabase()
    server = await createAtolServer({ fnNumber: ATOL_FN, inn: ATOL_KASSA.inn, timeZone: ATOL_KASSA.tz })
    // 1.5 s per request: a hung request is given up soon and resent, an answer on a loaded CI machine is not.
    const creds = await provisionAtolFleet(database.handle.db, server, 5, { timeoutMs: 1500 })
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

  const db = () => database.handle.db
  const docsFor = (m: TestMachine, s: SaleEvent) => server.documents.filter((d) => d.externalId.startsWith(`${m.id}/${s.saleId}/`))
  async function attemptsOf(m: TestMachine, s: SaleEvent) {
    const rows = await sql<{ attempt: number; external_id: string; status: string; sends: number; error: string | null; uuid: string | null }>`
      select a.attempt, a.external_id, a.status, a.sends, a.error, a.uuid from atol_attempts a join sales s on s.id = a.sale_row_id
      where s.machine_id = ${m.id} and s.sale_id = ${s.saleId} order by a.attempt`.execute(db())
    return rows.rows
  }
  /** Publishes `perMachine` sales on every machine at once and waits for all their displays. */
  async function burst(perMachine: number, midway?: () => void): Promise<SaleEvent[]> {
    const before = machines.reduce((n, m) => n + m.displays.length, 0)
    const sales = machines.flatMap((m) => Array.from({ length: perMachine }, () => ({ m, s: sale() })))
    await Promise.all(sales.map(({ m, s }) => m.publishSale(s)))
    if (midway) {
      await waitFor(() => server.counters.sellsAccepted >= sales.length / 3, 'a third of the burst accepted')
      midway()
    }
    await waitForDisplays(machines, before + sales.length, `${sales.length} displays`)
    for (const { m, s } of sales) {
      expect(m.displaysFor(s.saleId)).toHaveLength(1)
      expect(m.displaysFor(s.saleId)[0]!.type).toBe('receipt')
      expect(docsFor(m, s).filter((d) => d.status === 'done')).toHaveLength(1) // signed once
    }
    return sales.map(({ s }) => s)
  }

  it('gets a fresh token when the provider expires every token mid-run, without a duplicate document', async () => {
    const before = { issued: server.counters.tokensIssued, documents: server.documents.length }
    await burst(20, () => server.expireTokens())
    expect(server.counters.tokensIssued).toBeGreaterThan(before.issued)
    expect(server.counters.unauthorized).toBeGreaterThanOrEqual(1)
    expect(server.documents.length - before.documents).toBe(100) // one document per sale, none registered twice
  })

  it('backs off through a burst of 5xx answers and receipts every sale once', async () => {
    const sends = async () => (await sql<{ n: number }>`select coalesce(sum(sends), 0)::int as n from atol_attempts`.execute(db())).rows[0]!.n
    const before = { injected: server.counters.injected5xx, accepted: server.counters.sellsAccepted, sends: await sends() }
    server.fail5xx(40)
    await burst(10)
    expect(server.counters.injected5xx - before.injected).toBe(40)
    expect(server.counters.sellsAccepted - before.accepted).toBe(50)
    expect(await sends() - before.sends).toBeGreaterThan(50) // some sells were answered 5xx and sent again
  })

  it('resends the same external_id after a request timeout: one document on the provider, no second receipt', async () => {
    const m = machines[0]!
    const s = sale()
    const duplicates = server.counters.duplicates
    server.timeoutNext(1, 'hang') // registered, but the answer never comes
    await m.publishSale(s)
    await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the receipt')

    const docs = docsFor(m, s)
    expect(docs).toHaveLength(1)
    expect(server.counters.duplicates - duplicates).toBeGreaterThanOrEqual(1) // resent, answered "exists"
    expect(server.counters.duplicateBodyMismatches).toBe(0) // the resend is byte-for-byte the first body
    const [attempt, ...more] = await attemptsOf(m, s)
    expect(more).toEqual([])
    expect(attempt).toMatchObject({ attempt: 1, external_id: `${m.id}/${s.saleId}/1`, status: 'done', uuid: docs[0]!.uuid })
    expect(attempt!.sends).toBeGreaterThanOrEqual(2)
    const r = m.displaysFor(s.saleId)[0] as ReceiptDisplay
    expect(parseReceiptQr(r.qr)).toMatchObject({ fn: ATOL_FN, i: docs[0]!.payload!.fiscal_document_number, fp: docs[0]!.fp })
  })

  it('retries a retryable fail under a new external_id (attempt 2), which is signed', async () => {
    const m = machines[1]!
    const s = sale()
    server.failNext({ type: 'system', code: 2, text: 'Внутренняя ошибка сервиса' })
    await m.publishSale(s)
    await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the receipt')

    expect(docsFor(m, s).map((d) => [d.externalId, d.status])).toEqual([[`${m.id}/${s.saleId}/1`, 'fail'], [`${m.id}/${s.saleId}/2`, 'done']])
    expect(await attemptsOf(m, s)).toEqual([
      expect.objectContaining({ attempt: 1, status: 'fail', error: 'system 2: Внутренняя ошибка сервиса' }),
      expect.objectContaining({ attempt: 2, status: 'done', error: null }),
    ])
    const r = m.displaysFor(s.saleId)[0] as ReceiptDisplay
    expect(r.fiscal.fd).toBe(docsFor(m, s)[1]!.payload!.fiscal_document_number)
    const row = await db().selectFrom('sales').select(['state', 'attempts', 'last_error']).where('sale_id', '=', s.saleId).executeTakeFirstOrThrow()
    expect(row).toEqual({ state: 'done', attempts: 2, last_error: null })
  })

  it('fails the sale on a non-retryable fail and shows the machine the provider\'s text', async () => {
    const m = machines[2]!
    const s = sale()
    server.failNext({ type: 'driver', code: 7, text: 'ИНН не совпадает с ИНН в ФН' })
    await m.publishSale(s)
    await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the rejection')

    expect(m.displaysFor(s.saleId)[0]).toEqual({ v: 1, type: 'rejected', saleId: s.saleId, reason: 'ИНН не совпадает с ИНН в ФН' })
    const row = await db().selectFrom('sales').select(['state', 'last_error']).where('sale_id', '=', s.saleId).executeTakeFirstOrThrow()
    expect(row).toEqual({ state: 'failed', last_error: 'ИНН не совпадает с ИНН в ФН' })
    expect(await attemptsOf(m, s)).toEqual([expect.objectContaining({ attempt: 1, status: 'fail' })])
    expect(docsFor(m, s)).toHaveLength(1) // no second external_id spent
    // The machine republishing the sale gets the same answer again, and nothing is sent.
    await m.publishSale(s)
    await waitFor(() => m.displaysFor(s.saleId).length === 2, 'the rejection again')
    expect(m.displaysFor(s.saleId)[1]).toEqual(m.displaysFor(s.saleId)[0])
    expect(docsFor(m, s)).toHaveLength(1)
  })

  it('keeps the sales of a kassa whose password cannot be read submitted, naming the variable, never storing a password', async () => {
    await runFleetCommand(db(), 'add-kassa', {
      id: 'KB', name: 'ООО «Без пароля»', inn: ATOL_KASSA.inn, sno: 'osn', tz: ATOL_KASSA.tz, 'fn-model': 'fn-36', 'doc-limit': 1000,
      provider: 'atol-v5', 'base-url': server.url, login: server.login, group: server.group, 'password-env': 'ATOL_UNSET_PASSWORD',
    })
    const { output } = await runFleetCommand(db(), 'add-machine', { id: 'BM-001', kassa: 'KB', address: 'г. Москва, ул. Тверская, 2', place: 'Холл' })
    const m = await connectMachine(broker.url, output as { id: string; secret: string })
    try {
      const s = sale()
      await m.publishSale(s)
      const row = await waitFor(async () => {
        const r = await db().selectFrom('sales').select(['state', 'last_error']).where('machine_id', '=', m.id).executeTakeFirst()
        return r?.last_error ? r : null
      }, 'the sale to record why it waits')
      expect(row).toEqual({ state: 'submitted', last_error: 'kassa KB: environment variable ATOL_UNSET_PASSWORD is not set' })
      expect(m.displays).toEqual([])
    } finally {
      await m.close()
    }
    const stored = await sql<{ text: string }>`select coalesce(string_agg(provider_config::text, ' '), '') as text from kassas`.execute(db())
    expect(stored.rows[0]!.text).toContain('"passwordEnv": "ATOL_TEST_PASSWORD"')
    expect(stored.rows[0]!.text).not.toContain(server.password)
  })
})
