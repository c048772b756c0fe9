import { CompiledQuery, sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { checkedWrite, claimKassas, writeBatches, writeStatement, type ClaimedBatch } from '../../gateway/fiscalizer/batch-commit.repository.js'
import { signClaimed, signPendingBatch } from '../../gateway/fiscalizer/emulated.signer.js'
import { insertSales } from '../../gateway/ingest/sale.repository.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { sale } from '../support/machine-client.js'
import { provisionFleet, TEST_KASSA, type Credentials } from '../support/system.js'

// What a checked batch's write (gateway/fiscalizer/batch-commit.repository.ts) reads of `sales`
// when a kassa has a backlog, as a burst leaves it: the rows its plan reads, from EXPLAIN ANALYZE,
// not a time. The statistics are taken while nothing is pending, as between bursts, so the planner
// takes the kassa's pending sales for a handful. The write once read all of them for every sale it
// signed (2,000 × 200 here), and then, joining the sales signed by id, hashed the whole table while
// its statistics were a young table's; it must read each sale signed by its id, at any age.

const BATCH = 200
const BACKLOG = 2000
const OPTS = { batchMax: BATCH, publicUrl: 'http://receipts.test', now: () => new Date() }

interface PlanNode { 'Node Type': string; 'Relation Name'?: string; 'Index Name'?: string; 'Actual Rows': number; 'Actual Loops': number; 'Rows Removed by Filter'?: number; Plans?: PlanNode[] }

/** Rows of `relation` each scan of the plan read: returned or filtered out, over all its loops. */
function rowsRead(node: PlanNode, relation: string): { scans: string[]; rows: number } {
  const own = node['Relation Name'] === relation && /Scan/.test(node['Node Type'])
    ? { scans: [`${node['Node Type']} ${node['Index Name'] ?? ''}`.trim()], rows: (node['Actual Rows'] + (node['Rows Removed by Filter'] ?? 0)) * node['Actual Loops'] }
    : { scans: [], rows: 0 }
  return (node.Plans ?? []).map((p) => rowsRead(p, relation)).reduce((a, b) => ({ scans: [...a.scans, ...b.scans], rows: a.rows + b.rows }), own)
}

describe.each([
  { age: 'a young table', history: 200 },
  { age: 'a table with a history', history: 10_000 },
])('a checked batch write with a backlog, in $age', ({ history }) => {
  let database: TestDatabase
  let machines: Credentials[]
  const db = () => database.handle.db

  beforeAll(async () => {
    database = await createTestDatabase()
    machines = await provisionFleet(db(), 20, { prefix: 'PLAN-' })
    // The history, all receipted, analyzed with nothing pending; then the backlog.
    for (let i = 0; i < history; i += BATCH) {
      await insertSales(db(), Array.from({ length: BATCH }, (_, j) => ({ machineId: machines[j % 20]!.id, event: sale(), payload: new Uint8Array() })))
      expect((await signPendingBatch(db(), TEST_KASSA.id, OPTS)).signed).toBe(BATCH)
    }
    await sql`analyze sales`.execute(db())
    for (let i = 0; i < BACKLOG; i += BATCH) {
      await insertSales(db(), Array.from({ length: BATCH }, (_, j) => ({ machineId: machines[j % 20]!.id, event: sale(), payload: new Uint8Array() })))
    }
  })

  afterAll(async () => {
    await database?.drop()
  })

  it(`reads each of the ${BATCH} sales it signs by id, not the kassa's ${BACKLOG} pending sales for each, and writes them`, async () => {
    const claim = (await claimKassas(db(), [TEST_KASSA.id], BATCH)).get(TEST_KASSA.id) as ClaimedBatch
    expect(claim.sales).toHaveLength(BATCH)
    const write = checkedWrite(signClaimed(claim, [], OPTS).write, claim.rowVersion)
    const compiled = writeStatement([write]).statement.compile(db())
    // EXPLAIN ANALYZE runs the statement: in a transaction rolled back.
    const rollback = new Error('rolled back')
    let plan: PlanNode | undefined
    await db().transaction().execute(async (tx) => {
      const explained = await tx.executeQuery<{ 'QUERY PLAN': [{ Plan: PlanNode }] }>(CompiledQuery.raw(`explain (analyze, format json) ${compiled.sql}`, [...compiled.parameters]))
      plan = explained.rows[0]!['QUERY PLAN'][0].Plan
      throw rollback
    }).catch((err: unknown) => { if (err !== rollback) throw err })
    const read = rowsRead(plan!, 'sales')
    // Each sale signed read once to check it and once to mark it receipted.
    expect(read.scans).toEqual(['Index Scan sales_pkey', 'Index Scan sales_pkey'])
    expect(read.rows).toBe(2 * BATCH)

    // The same write, for real: every sale of the batch receipted, once.
    const written = await writeBatches(db(), [write])
    expect(written.get(TEST_KASSA.fn)!.displays).toHaveLength(BATCH)
    const pending = await sql<{ n: number }>`select count(*)::int as n from sales where state = 'pending'`.execute(db())
    expect(pending.rows[0]!.n).toBe(BACKLOG - BATCH)
  })
})
