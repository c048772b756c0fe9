import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { operatorApi } from '../support/operator-api.js'
import { provisionFleet, startBroker, startGateway, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

const MIN = 60_000
const HOUR = 60 * MIN

describe('fleet-health alerts through GET /api/alerts, on an injected clock', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let creds: Credentials[]
  let get: ReturnType<typeof operatorApi>
  const machines: TestMachine[] = []
  let clock = Date.now()
  const status = (id: string, state: string) => [`vending/${id}/status`, JSON.stringify({ v: 1, state, at: new Date().toISOString() })] as const

  /** Runs the evaluator now (as its timer would) and reads the API. */
  async function alerts(): Promise<any[]> {
    await gw.alerts.evaluateOnce()
    const answer = await get('/api/alerts')
    expect(answer.status).toBe(200)
    expect(answer.body.next).toBeNull()
    return answer.body.items
  }
  const keys = async () => (await alerts()).map((a) => a.key).sort()

  beforeAll(async () => {
    database = await createTestDatabase()
    creds = await provisionFleet(database.handle.db, 2)
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url, {}, () => new Date(clock))
    get = operatorApi(gw.httpPort)
    const m = await connectMachine(broker.url, creds[0]!)
    machines.push(m)
    await m.publishRaw(...status('VM-001', 'online'))
    await waitFor(async () => (await get('/api/machines/VM-001')).body.online, 'VM-001 online')
  })

  afterAll(async () => {
    await Promise.all(machines.map((m) => m.close()))
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
  })

  it('has no alert on a fresh, healthy fleet', async () => {
    expect(await keys()).toEqual([])
  })

  it('raises machine_offline for a machine not seen for longer than ALERT_OFFLINE_MIN, and clears it when it comes online', async () => {
    clock += 11 * MIN
    const raised = (await alerts()).find((a) => a.key === 'machine_offline:VM-002')
    expect(raised).toMatchObject({
      rule: 'machine_offline', severity: 'warning', subject: { kind: 'machine', id: 'VM-002' }, link: '/api/machines/VM-002', message: 'Автомат не в сети',
    })
    const created = (await get('/api/machines/VM-002')).body.createdAt
    expect(raised.since).toBe(new Date(new Date(created).getTime() + 10 * MIN).toISOString())
    expect((await get(raised.link)).body.alerts.map((a: any) => a.key)).toEqual(['machine_offline:VM-002'])
    expect(await keys()).toEqual(['machine_offline:VM-002'])

    const m = await connectMachine(broker.url, creds[1]!)
    machines.push(m)
    await m.publishRaw(...status('VM-002', 'online'))
    await waitFor(async () => (await get('/api/machines/VM-002')).body.online, 'VM-002 online')
    expect(await keys()).toEqual([])
  })

  it('raises machine_errors and machine_temperature from telemetry and clears them when the machine reports it is fine', async () => {
    const m = machines[0]!
    const telemetry = (extra: object) => JSON.stringify({ v: 1, at: new Date().toISOString(), ...extra })
    await m.publishRaw('vending/VM-001/telemetry', telemetry({ temperatureC: 19, errors: ['E12 купюроприёмник'] }))
    await waitFor(async () => (await keys()).length === 2, 'two alerts')
    const found = await alerts()
    expect(found.map((a) => a.key).sort()).toEqual(['machine_errors:VM-001', 'machine_temperature:VM-001'])
    expect(found.find((a) => a.rule === 'machine_errors').message).toBe('Ошибки автомата: E12 купюроприёмник')

    await m.publishRaw('vending/VM-001/telemetry', telemetry({ temperatureC: 5, errors: [] }))
    await waitFor(async () => (await keys()).length === 0, 'both cleared')
  })

  it('raises kassa_shift_long when a shift nears 24 hours unclosed, and clears it once the shift is closed', async () => {
    const m = machines[0]!
    const s = sale()
    await m.publishSale(s)
    await waitFor(() => m.displaysFor(s.saleId).length === 1, 'the receipt that opens the shift')
    const openedAt = clock

    clock = openedAt + 23 * HOUR + 30 * MIN
    const shift = (await alerts()).find((a) => a.key === 'kassa_shift_long:K1')
    expect(shift).toMatchObject({ severity: 'critical', subject: { kind: 'kassa', id: 'K1' }, link: '/api/kassas/K1' })
    expect(shift.since).toBe(new Date(openedAt + 23 * HOUR).toISOString())
    expect((await get('/api/kassas/K1')).body.alerts.map((a: any) => a.key)).toContain('kassa_shift_long:K1')

    // The timer closes a shift 5 minutes before 24 h (gateway/fiscal/fn-limits.ts).
    clock = openedAt + 23 * HOUR + 56 * MIN
    await gw.fiscalizer.closeDueShifts()
    expect((await get('/api/kassas/K1')).body.shift.open).toBe(false)
    expect((await keys()).filter((k) => k.startsWith('kassa_shift_long'))).toEqual([])
  })
})
