import { afterEach, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { provisionFleet, startBroker } from '../support/system.js'

// The broker's ingest window (BROKER_BATCH_WINDOW_MS, broker/config.ts): a sale that finds the
// last write ended less than the window ago waits for the window, so sales that follow each other
// share one statement; a sale after a quiet spell is written at once. Each statement is one
// kick (scripts/broker-node.ts), so the kicks count the statements.

let database: TestDatabase | undefined
let stop: (() => Promise<void>) | undefined
afterEach(async () => {
  await stop?.()
  await database?.drop()
  stop = undefined
  database = undefined
})

async function fleetBehind(windowMs: number) {
  database = await createTestDatabase()
  const creds = await provisionFleet(database.handle.db, 6)
  const broker = await startBroker(database.handle.db, { ingestWindowMs: windowMs })
  const machines: TestMachine[] = await Promise.all(creds.map((c) => connectMachine(broker.url, c)))
  stop = async () => {
    await Promise.all(machines.map((m) => m.close()))
    await broker.broker.stop()
  }
  return { machines, ingest: broker.ingest! }
}

/** Machines 1–5 sell one sale each, 20 ms apart, each awaiting its PUBACK (stored) in the end. */
async function followingSales(machines: TestMachine[]): Promise<void> {
  const acks: Promise<void>[] = []
  for (const m of machines.slice(1)) {
    acks.push(m.publishSale(sale()))
    await new Promise((r) => setTimeout(r, 20))
  }
  await Promise.all(acks)
}

describe('broker ingest window', () => {
  it('writes a sale after a quiet spell at once and gathers the sales that follow a write into one statement', async () => {
    const windowMs = 1500
    const { machines, ingest } = await fleetBehind(windowMs)
    const started = performance.now()
    await machines[0]!.publishSale(sale())
    // Far below the window: the lone sale did not wait for it.
    expect(performance.now() - started).toBeLessThan(windowMs)
    expect(ingest).toMatchObject({ stored: 1, kicks: 1 })

    // Within the window of that write: the five wait for it and are stored together.
    await followingSales(machines)
    expect(ingest).toMatchObject({ stored: 6, kicks: 2 })
  })

  it('without a window writes each sale as it comes', async () => {
    const { machines, ingest } = await fleetBehind(0)
    await machines[0]!.publishSale(sale())
    await followingSales(machines)
    expect(ingest.stored).toBe(6)
    expect(ingest.kicks).toBeGreaterThan(2)
  })
})
