import mqtt from 'mqtt'
import { afterEach, describe, expect, it } from 'vitest'
import { sql } from 'kysely'
import {
  addressedKickGateway, decodeStoredKick, encodeGatewayAlive, gatewayAliveTopic, kassaOwner, storedKickTopic, type StoredSale,
} from '../../protocol/index.js'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { provisionFleet, startBroker, startGateway, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// The broker's kick after a batch goes to the kassa's owner only (a rendezvous hash of the kassa
// over the live gateways, protocol/gateway-ring.ts), not to every gateway; a gateway that stops
// hands its kassas to the others at once, and a kassa whose owner does not sign (dead, cut off)
// is taken by the others' poll once its sales have waited the takeover time.

let database: TestDatabase | null = null
const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
  await database?.drop()
  database = null
})

const KASSAS = ['K1', 'K2', 'K3', 'K4', 'K5', 'K6']

async function system(gatewayIds: readonly string[]) {
  database = await createTestDatabase()
  const db = database.handle.db
  const machineOf = new Map<string, Credentials>()
  for (const [i, id] of KASSAS.entries()) {
    const [creds] = await provisionFleet(db, 1, { prefix: `VM-${id}-`, kassa: { id, reg: `000000000101${String(i + 1).padStart(4, '0')}`, fn: `9999078900${String(i + 1).padStart(6, '0')}` } })
    machineOf.set(id, creds!)
  }
  const broker = await startBroker(db)
  stops.push(() => broker.broker.stop())
  /** Kassas named by each kick the broker sent, by addressee ('*' for every gateway), and the sales they carried. */
  const kicks = new Map<string, string[]>()
  const kickedSales: StoredSale[] = []
  broker.broker.aedes.on('publish', (packet) => {
    const to = packet.topic === storedKickTopic('vending') ? '*' : addressedKickGateway('vending', packet.topic)
    if (!to) return
    const kick = decodeStoredKick(packet.payload as Buffer)
    kicks.set(to, [...(kicks.get(to) ?? []), ...kick.kassas])
    kickedSales.push(...kick.sales)
  })
  const gateways = new Map<string, Awaited<ReturnType<typeof startGateway>>>()
  for (const id of gatewayIds) {
    const gw = await startGateway(database.handle, broker.url, { GATEWAY_ID: id })
    gateways.set(id, gw)
    stops.push(() => gw.gateway.stop())
  }
  const machines = new Map<string, TestMachine>()
  for (const [kassa, creds] of machineOf) machines.set(kassa, await connectMachine(broker.url, creds))
  stops.push(async () => { await Promise.all([...machines.values()].map((m) => m.close())) })
  const sell = async (kassa: string) => {
    const s = sale()
    await machines.get(kassa)!.publishSale(s)
    await waitFor(() => machines.get(kassa)!.displaysFor(s.saleId).length > 0, `the receipt of a sale on ${kassa}`)
    expect(machines.get(kassa)!.displaysFor(s.saleId)).toHaveLength(1)
  }
  return { broker, gateways, kicks, kickedSales, machines, sell, url: broker.url }
}

describe('kick routing', () => {
  it('wakes only the owning gateway of each kassa, and moves the kassas of a gateway that stops', async () => {
    const ids = ['gwa', 'gwb', 'gwc']
    const s = await system(ids)
    // The broker has heard every gateway's heartbeat once their kicks are addressed to all three.
    await waitFor(async () => {
      s.kicks.clear()
      await s.sell('K1')
      return s.kicks.has(kassaOwner('K1', ids)!)
    }, 'kicks addressed by the heartbeats')
    s.kicks.clear()
    for (const kassa of KASSAS) await s.sell(kassa)
    expect(s.kicks.has('*')).toBe(false)
    for (const kassa of KASSAS) {
      const to = [...s.kicks].filter(([, named]) => named.includes(kassa)).map(([gw]) => gw)
      expect(to, kassa).toEqual([kassaOwner(kassa, ids)])
    }
    expect(new Set(KASSAS.map((k) => kassaOwner(k, ids))).size).toBeGreaterThan(1)

    // A clean stop says so: its kassas' next kicks go to the remaining gateways' owner.
    const leaving = kassaOwner('K1', ids)!
    await s.gateways.get(leaving)!.gateway.stop()
    const rest = ids.filter((id) => id !== leaving)
    s.kicks.clear()
    for (const kassa of KASSAS) await s.sell(kassa)
    expect(s.kicks.has(leaving)).toBe(false)
    for (const kassa of KASSAS) expect([...s.kicks].filter(([, named]) => named.includes(kassa)).map(([gw]) => gw), kassa).toEqual([kassaOwner(kassa, rest)])
  }, 60_000)

  it('signs the sales of a kassa whose owner announces itself but never signs', async () => {
    const s = await system(['gwa'])
    // A gateway that sends heartbeats and nothing else (its database link is gone, say).
    const ghost = await mqtt.connectAsync(s.url, { username: 'gateway', password: 'test-gateway-password', clientId: 'gateway-ghost-out', protocolVersion: 4 })
    stops.push(() => ghost.endAsync())
    const beat = () => ghost.publish(gatewayAliveTopic('vending'), encodeGatewayAlive('ghost'), { qos: 0 })
    beat()
    const timer = setInterval(beat, 300)
    stops.push(async () => clearInterval(timer))
    const ghostly = KASSAS.filter((k) => kassaOwner(k, ['gwa', 'ghost']) === 'ghost')
    expect(ghostly.length).toBeGreaterThan(0)
    await waitFor(async () => {
      s.kicks.clear()
      await s.sell(ghostly[0]!)
      return s.kicks.has('ghost')
    }, "the broker addressing the ghost's kassas to it")
    // Its kick went to the ghost alone; gwa's poll took the sale once it had waited the takeover time.
    expect(s.kicks.get('ghost')).toContain(ghostly[0])
    expect(s.kicks.get('gwa') ?? []).not.toContain(ghostly[0])
  }, 60_000)

  it("carries each kassa's stored sales to its owner, which signs them without reading them back, each once", async () => {
    const s = await system(['gwa'])
    const gw = s.gateways.get('gwa')!
    const db = database!.handle.db
    // One sale at a time: a kassa signs its first batches holding its FN for the whole batch
    // (fiscalizer.worker.ts), then in rounds, where kicked sales need no claim.
    for (let i = 0; i < 30; i++) await s.sell('K1')
    const sold = await sql<{ id: string; sale_id: string; total: string }>`select id, sale_id, total from sales where kassa_id = 'K1' order by id`.execute(db)
    expect(sold.rows).toHaveLength(30)
    // Every sale came to the owner with its kick, as stored.
    const carried = new Map(s.kickedSales.map((k) => [k.id, k]))
    for (const row of sold.rows) {
      expect(carried.get(Number(row.id)), row.sale_id).toMatchObject({ kassa_id: 'K1', sale_id: row.sale_id, total: Number(row.total) })
    }
    const metrics = await (await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)).text()
    const batches = (read: string) => Number(new RegExp(`^gateway_fiscal_batches_total\\{read="${read}"\\} (\\S+)$`, 'm').exec(metrics)?.[1] ?? 0)
    expect(batches('kick')).toBeGreaterThan(0)
    expect(batches('kick') + batches('claim')).toBe(30)
    const docs = await sql<{ n: number; per_sale: number }>`
      select count(*)::int as n, count(distinct sale_row_id)::int as per_sale from fiscal_documents where kassa_id = 'K1' and sale_row_id is not null`.execute(db)
    expect(docs.rows).toEqual([{ n: 30, per_sale: 30 }])
    const report = await verifyFiscalData(db)
    expect(report.failures).toEqual([])
    expect(report.ok).toBe(true)
  }, 60_000)
})
