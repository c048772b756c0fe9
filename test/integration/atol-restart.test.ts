import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { parseReceiptQr, type ReceiptDisplay, type SaleEvent } from '../../protocol/index.js'
import { ATOL_FN, ATOL_KASSA, atolGatewayEnv, provisionAtolFleet, saleStates } from '../support/atol-kassa.js'
import { createAtolServer, type AtolServer } from '../support/atol-server.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, waitForDisplays, type TestMachine } from '../support/machine-client.js'
import { freePort, killAllProcesses, signalAndWait, startGatewayProcess, waitReady, type ServiceProcess } from '../support/processes.js'
import { startBroker, startGateway } from '../support/system.js'
import { waitFor } from '../support/wait.js'

const WAIT_MS = 60_000

describe('a gateway killed (SIGKILL) while sales are submitted to the cloud kassa', () => {
  let database: TestDatabase
  let server: AtolServer
  let broker: Awaited<ReturnType<typeof startBroker>>
  let machines: TestMachine[] = []
  let child: ServiceProcess | undefined
  let gw: Awaited<ReturnType<typeof startGateway>> | undefined
  // The double's clock: its documents stay `wait` until the test moves it past WAIT_MS.
  let clock = Date.now()

  beforeAll(async () => {
    database = await createTestDatabase()
    server = await createAtolServer({ waitMs: WAIT_MS, now: () => new Date(clock), fnNumber: ATOL_FN, inn: ATOL_KASSA.inn, timeZone: ATOL_KASSA.tz })
    // Requests time out after 15 s: the hung ones are still in flight when the process dies.
    const creds = await provisionAtolFleet(database.handle.db, server, 5, { timeoutMs: 15_000 })
    broker = await startBroker(database.handle.db)
    machines = await Promise.all(creds.map((c) => connectMachine(broker.url, c)))
  })

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.close()))
    await gw?.gateway.stop()
    await killAllProcesses([child])
    await broker?.broker.stop()
    await server?.stop()
    await database?.drop()
  })

  const attemptStates = async () => Object.fromEntries((await sql<{ status: string; n: number }>`
    select status, count(*)::int as n from atol_attempts group by status`.execute(database.handle.db)).rows.map((r) => [r.status, r.n]))

  it('is resumed by the next gateway: every sale receipted once, the hung sends resent under their own external_id', async () => {
    // A short lease: the dead process's claim on the hung sends runs out 2 s after it took them.
    const env = atolGatewayEnv(server, { ATOL_LEASE_MS: '2000' })
    const port = await freePort()
    child = startGatewayProcess({ databaseUrl: database.url, mqttUrl: broker.url, httpPort: port, gatewayId: 'main', password: 'test-gateway-password', env })
    await waitReady(port, 'the gateway process')

    server.timeoutNext(5, 'hang') // registered by the provider, answer never sent
    const sales: { m: TestMachine; s: SaleEvent }[] = machines.flatMap((m) => Array.from({ length: 10 }, () => ({ m, s: sale() })))
    await Promise.all(sales.map(({ m, s }) => m.publishSale(s)))
    await waitFor(async () => server.documents.length === 50 && server.counters.injectedTimeouts === 5 && (await attemptStates()).wait === 45,
      '50 sells registered, 45 answered, 5 hanging', 40_000)

    expect(await signalAndWait(child, 'SIGKILL', 10_000)).toMatchObject({ signal: 'SIGKILL' })
    expect(await saleStates(database.handle.db)).toEqual({ submitted: 50 })
    expect(await attemptStates()).toEqual({ wait: 45, sending: 5 })
    expect(machines.flatMap((m) => m.displays)).toEqual([])

    clock += WAIT_MS // meanwhile the provider signs everything it holds
    gw = await startGateway(database.handle, broker.url, env)
    await waitForDisplays(machines, 50, '50 receipts after the restart')

    expect(server.documents).toHaveLength(50)
    // Nothing registered twice; the 5 hung sends were resent (answered "exists"), byte for byte.
    expect(server.counters).toMatchObject({ sellsAccepted: 50, duplicateBodyMismatches: 0 })
    expect(server.counters.duplicates).toBeGreaterThanOrEqual(5)
    expect(server.fnDocuments.filter((d) => d.kind === 'receipt')).toHaveLength(50)
    const byExternalId = new Map(server.documents.map((d) => [d.externalId, d]))
    for (const { m, s } of sales) {
      const shown = m.displaysFor(s.saleId)
      expect(shown).toHaveLength(1)
      const doc = byExternalId.get(`${m.id}/${s.saleId}/1`)!
      expect(parseReceiptQr((shown[0] as ReceiptDisplay).qr)).toMatchObject({ fn: ATOL_FN, i: doc.payload!.fiscal_document_number, fp: doc.fp })
    }
    expect(await saleStates(database.handle.db)).toEqual({ done: 50 })
    expect(await attemptStates()).toEqual({ done: 50 })
    const receipts = await sql<{ n: number }>`select count(*)::int as n from provider_receipts`.execute(database.handle.db)
    expect(receipts.rows[0]!.n).toBe(50)
  })
})
