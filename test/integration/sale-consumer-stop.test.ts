import { spawn } from 'node:child_process'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { provisionFleet, type Credentials } from '../support/system.js'

// stop() of the sale consumer (gateway/ingest/sale.consumer.ts), which the broker and the gateway
// call on SIGTERM, at the moments a write is due but not begun. It must write what was read, once,
// and return: before, it awaited a drain that never cleared itself (an endless loop of microtasks:
// the process froze, timers and all, until SIGKILL), or let a second drain write the same sales.
// Each case runs in a process of its own (test/support/consumer-stop.process.ts), so a stop that
// never returns fails this test instead of freezing it.

let database: TestDatabase
let machine: Credentials

beforeAll(async () => {
  database = await createTestDatabase()
  ;[machine] = (await provisionFleet(database.handle.db, 1, { prefix: 'STOP-' })) as [Credentials]
})

afterAll(async () => {
  await database?.drop()
})

/** The machine's sales in the table. */
async function stored(): Promise<number> {
  const row = await database.handle.db.selectFrom('sales').select(({ fn }) => fn.countAll<string>().as('n')).where('machine_id', '=', machine.id).executeTakeFirstOrThrow()
  return Number(row.n)
}

function stopAt(moment: 'window' | 'immediate'): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'test/support/consumer-stop.process.ts', database.url, machine.id, moment], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (d: Buffer) => { out += d.toString() })
    child.stderr.on('data', (d: Buffer) => { err += d.toString() })
    // Starting node and tsx takes a few seconds on a busy machine; the stop itself, milliseconds.
    const bound = setTimeout(() => child.kill('SIGKILL'), 20_000)
    child.on('exit', (code) => { clearTimeout(bound); resolve({ code, out, err }) })
  })
}

/** Stops the consumer at `moment` and expects `sales` read, each stored once, and the event loop turning. */
async function expectStopsWith(moment: 'window' | 'immediate', sales: number): Promise<void> {
  const before = await stored()
  const run = await stopAt(moment)
  expect(run.err).toBe('')
  expect(run.code).toBe(0)
  expect(JSON.parse(run.out)).toEqual({ stored: sales, repeated: 0, loopTurned: true })
  expect(await stored()).toBe(before + sales)
}

describe('sale consumer stop', () => {
  it('returns, with every sale read stored once, when it comes while a sale waits for the batch window', async () => {
    await expectStopsWith('window', 2)
  })

  it('writes a sale once when it comes before the write set for the next turn of the event loop', async () => {
    await expectStopsWith('immediate', 1)
  })
})
