import type { KyselyPlugin, PluginTransformQueryArgs, PluginTransformResultArgs, QueryResult, RootOperationNode, UnknownRow } from 'kysely'
import { afterEach, describe, expect, it } from 'vitest'
import { unacknowledgedDisplays } from '../../gateway/display/outbox.repository.js'
import { storedKickTopic } from '../../protocol/index.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { provisionFleet, startBroker, startGateway } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// Each sale is written once, by the broker holding the machine's connection, however many gateways
// there are: no gateway subscribes to sales, the machine's PUBACK comes after the sale is stored,
// and the database writes per stored sale are the same with 1 and with 3 gateways.

/** The table a write statement changes, for INSERT, UPDATE, DELETE (also as raw SQL); null for reads, `select … for update` included. */
function writtenTable(node: RootOperationNode): string | null {
  const n = node as { kind: string; into?: { table: { identifier: { name: string } } }; table?: { table: { identifier: { name: string } } }; sqlFragments?: readonly string[] }
  if (n.kind === 'InsertQueryNode') return n.into?.table.identifier.name ?? '?'
  if (n.kind === 'UpdateQueryNode') return n.table?.table.identifier.name ?? '?'
  if (n.kind === 'DeleteQueryNode') return '?'
  if (n.kind !== 'RawNode') return null
  const text = (n.sqlFragments ?? []).join(' ').replace(/\bfor\s+(no\s+key\s+)?update\b/gi, '')
  return /\b(?:insert\s+into|update|delete\s+from)\s+([a-z_]+)/i.exec(text)?.[1] ?? null
}

/**
 * Counts the write statements run through a Kysely handle that changed a row, by table. A periodic
 * statement that finds nothing to do (the cloud-kassa poller's lease, once a second per gateway)
 * writes nothing: counted, it made the figure depend on how many gateways polled during the run.
 */
function writeCounter(): KyselyPlugin & { byTable: Map<string, number> } {
  const pending = new Map<unknown, string>()
  const counter = {
    byTable: new Map<string, number>(),
    transformQuery(args: PluginTransformQueryArgs): RootOperationNode {
      const table = writtenTable(args.node)
      if (table) pending.set(args.queryId, table)
      return args.node
    },
    transformResult: async (args: PluginTransformResultArgs): Promise<QueryResult<UnknownRow>> => {
      const table = pending.get(args.queryId)
      pending.delete(args.queryId)
      const changed = Number(args.result.numAffectedRows ?? 0n) > 0 || args.result.rows.length > 0
      if (table && changed) counter.byTable.set(table, (counter.byTable.get(table) ?? 0) + 1)
      return args.result
    },
  }
  return counter
}

let databases: TestDatabase[] = []
const stops: (() => Promise<void>)[] = []
afterEach(async () => {
  for (const stop of stops.splice(0).reverse()) await stop()
  await Promise.all(databases.splice(0).map((d) => d.drop()))
})

const SALES = 30

async function run(gateways: number) {
  const database = await createTestDatabase()
  databases.push(database)
  const creds = await provisionFleet(database.handle.db, 3)
  const counter = writeCounter()
  const db = database.handle.db.withPlugin(counter)
  const broker = await startBroker(db)
  stops.push(() => broker.broker.stop())
  for (let i = 0; i < gateways; i++) {
    const gw = await startGateway({ ...database.handle, db }, broker.url, { GATEWAY_ID: `once${i}` })
    stops.push(() => gw.gateway.stop())
  }
  const machines: TestMachine[] = await Promise.all(creds.map((c) => connectMachine(broker.url, c)))
  stops.push(async () => { await Promise.all(machines.map((m) => m.close())) })
  const unsent = async () => (await unacknowledgedDisplays(database.handle.db)).rows[0]!.n

  // One sale at a time, so every fiscal batch holds one sale in both runs. The first one opens the shift.
  const sell = async (m: TestMachine) => {
    const s = sale()
    await m.publishSale(s)
    // PUBACK means stored: the row is there when publishAsync resolves.
    const stored = await database.handle.db.selectFrom('sales').select('sale_id').where('sale_id', '=', s.saleId).executeTakeFirst()
    expect(stored?.sale_id, 'the sale is stored before its PUBACK').toBe(s.saleId)
    await waitFor(() => m.displaysFor(s.saleId).length > 0, 'the receipt')
  }
  for (const m of machines) await sell(m)
  await waitFor(async () => (await unsent()) === 0, 'every display acknowledged')
  counter.byTable.clear()
  for (let i = 0; i < SALES; i++) await sell(machines[i % machines.length]!)
  await waitFor(async () => (await unsent()) === 0, 'every display acknowledged')
  const writes = Object.fromEntries(counter.byTable)

  // Every connection's subscription filters, as the broker holds them.
  const clients = Object.values((broker.broker.aedes as unknown as { clients: Record<string, { id: string; subscriptions: Record<string, unknown> }> }).clients)
  const matches = (filter: string, topic: string) => new RegExp(`^${filter.replace(/[$]/g, '\\$').replace(/\+/g, '[^/]+').replace(/#$/, '.*')}$`).test(topic)
  const subscribers = (topic: string) => clients.filter((c) => Object.keys(c.subscriptions).some((f) => matches(f, topic))).map((c) => ({ clientId: c.id }))
  const saleSubscribers = subscribers(`vending/${creds[0]!.id}/sale`)
  const kickSubscribers = subscribers(storedKickTopic('vending'))
  const perSale = (tables: string[]) => tables.reduce((n, t) => n + (writes[t] ?? 0), 0) / SALES
  return {
    saleSubscribers, kickSubscribers, stored: broker.ingest!.stored, writes,
    // What each sale costs: its row, its fiscal batch (documents, sale states, FN counters).
    salePath: perSale(['sales', 'fiscal_documents', 'fiscal_drives', 'rejected_messages']),
    total: perSale(Object.keys(writes)),
  }
}

describe('ingest once', () => {
  it('no gateway subscribes to sales, and writes per stored sale are the same with 1 and 3 gateways', async () => {
    const one = await run(1)
    const three = await run(3)
    expect(one.saleSubscribers).toEqual([])
    expect(three.saleSubscribers).toEqual([])
    expect(three.kickSubscribers.map((s) => s.clientId).sort()).toEqual(['gateway-once0-in', 'gateway-once1-in', 'gateway-once2-in'])
    expect(one.stored).toBe(SALES + 3)
    expect(three.stored).toBe(SALES + 3)
    console.log(`ingest once: write statements per stored sale (sale path / all), 1 gateway ${one.salePath.toFixed(2)} / ${one.total.toFixed(2)}, 3 gateways ${three.salePath.toFixed(2)} / ${three.total.toFixed(2)}; by table ${JSON.stringify({ one: one.writes, three: three.writes })}`)
    // One insert per sale, and sale-state changes; each gateway writing each sale would be 3 × SALES more.
    expect(three.writes.sales).toBeLessThanOrEqual(one.writes.sales! + 3)
    expect(Math.abs(three.salePath - one.salePath) / one.salePath).toBeLessThanOrEqual(0.05)
  }, 120_000)
})
