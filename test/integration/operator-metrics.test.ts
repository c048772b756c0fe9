import { sql } from 'kysely'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { parsePromText, sampleValue, type PromText } from '../support/prom-text.js'
import { provisionFleet, startBroker, startGateway } from '../support/system.js'
import { waitFor } from '../support/wait.js'

describe('GET /metrics (PostgreSQL, real broker and gateway)', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let machine: TestMachine

  async function scrape(): Promise<PromText> {
    const res = await fetch(`http://127.0.0.1:${gw.httpPort}/metrics`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/)
    return parsePromText(await res.text())
  }

  beforeAll(async () => {
    database = await createTestDatabase()
    const creds = await provisionFleet(database.handle.db, 2)
    // The gateway's ingest counters: the gateway stores the sales (GATEWAY_INGEST=gateway) behind a broker that only routes.
    broker = await startBroker(database.handle.db, {}, { ingest: false })
    gw = await startGateway(database.handle, broker.url, { GATEWAY_INGEST: 'gateway' })
    machine = await connectMachine(broker.url, creds[0]!)
  })

  afterAll(async () => {
    await machine?.close()
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
  })

  it('serves well-formed Prometheus text with process metrics and the gateway state, without a token', async () => {
    const m = await scrape()
    expect(m.types.get('process_cpu_user_seconds_total')).toBe('counter')
    expect(m.types.get('nodejs_eventloop_lag_seconds')).toBe('gauge')
    expect(m.types.get('gateway_fiscalization_commit_seconds')).toBe('histogram')
    expect(m.types.get('gateway_fiscalization_display_seconds')).toBe('histogram')
    expect(m.types.get('gateway_fiscal_batch_size')).toBe('histogram')
    expect(sampleValue(m, 'gateway_mqtt_connected', { client: 'ingest' })).toBe(1)
    expect(sampleValue(m, 'gateway_mqtt_connected', { client: 'publisher' })).toBe(1)
    expect(sampleValue(m, 'gateway_mqtt_connected', { client: 'subscribed' })).toBe(1)
    expect(sampleValue(m, 'gateway_sales_pending', { kassa: 'K1' })).toBe(0)
    expect(sampleValue(m, 'gateway_machines_online')).toBe(0)
    expect(sampleValue(m, 'gateway_display_outbox_unsent')).toBe(0)
    expect(sampleValue(m, 'gateway_displays_in_flight')).toBe(0)
    expect(m.types.get('gateway_displays_resent_total')).toBe('counter')
    expect(sampleValue(m, 'gateway_displays_resent_total')).toBe(0)
    expect(sampleValue(m, 'gateway_sales_received_total', { outcome: 'stored' })).toBeUndefined()
  })

  it('moves the counters and histograms with traffic: stored, repeated, rejected by class, receipts, latencies', async () => {
    await machine.publishRaw('vending/VM-001/status', JSON.stringify({ v: 1, state: 'online', at: new Date().toISOString() }))
    const sales = [sale(), sale(), sale()]
    for (const s of sales) await machine.publishSale(s)
    await waitFor(() => machine.displays.length === 3, 'three receipts')
    await machine.publishSale(sales[0]!) // a repeat: answered with the stored receipt
    const bad = { ...sale(), payment: { method: 'card', amount: 1 } }
    await machine.publishRaw('vending/VM-001/sale', JSON.stringify(bad))
    await machine.publishRaw('vending/VM-001/sale', '{not json')
    await waitFor(() => machine.displays.length === 5, 'the repeat and the rejection answered')

    const m = await waitFor(async () => {
      const s = await scrape()
      // The latency histograms are observed after one more query and the PUBACK: wait for all three.
      return sampleValue(s, 'gateway_fiscalization_display_seconds_count') === 3 && sampleValue(s, 'gateway_sales_rejected_total', { reason: 'json' }) === 1 ? s : null
    }, 'the metrics to catch up')
    expect(sampleValue(m, 'gateway_sales_received_total', { outcome: 'stored' })).toBe(3)
    expect(sampleValue(m, 'gateway_sales_received_total', { outcome: 'repeated' })).toBe(1)
    expect(sampleValue(m, 'gateway_sales_received_total', { outcome: 'rejected' })).toBe(2)
    expect(sampleValue(m, 'gateway_sales_rejected_total', { stage: 'ingest', reason: 'amount_mismatch' })).toBe(1)
    expect(sampleValue(m, 'gateway_sales_rejected_total', { stage: 'ingest', reason: 'json' })).toBe(1)
    expect(sampleValue(m, 'gateway_receipts_issued_total', { kind: 'sale' })).toBe(3)
    expect(sampleValue(m, 'gateway_fiscalization_commit_seconds_count')).toBe(3)
    expect(sampleValue(m, 'gateway_fiscalization_commit_seconds_bucket', { le: '+Inf' })).toBe(3)
    const commitSum = sampleValue(m, 'gateway_fiscalization_commit_seconds_sum')!
    expect(commitSum).toBeGreaterThan(0)
    expect(commitSum).toBeLessThan(3 * 5) // seconds: a sale on an idle gateway is signed in milliseconds
    expect(sampleValue(m, 'gateway_fiscalization_display_seconds_sum')).toBeGreaterThanOrEqual(0)
    const batches = sampleValue(m, 'gateway_fiscal_batch_size_count')!
    expect(batches).toBeGreaterThanOrEqual(1)
    expect(sampleValue(m, 'gateway_fiscal_batch_size_sum')).toBe(3)
    // Each of those batches read its sales by a claim or took the kick's copy.
    expect((sampleValue(m, 'gateway_fiscal_batches_total', { read: 'claim' }) ?? 0) + (sampleValue(m, 'gateway_fiscal_batches_total', { read: 'kick' }) ?? 0)).toBe(batches)
    expect(sampleValue(m, 'gateway_sales_pending', { kassa: 'K1' })).toBe(0)
    await waitFor(async () => sampleValue(await scrape(), 'gateway_machines_online') === 1, 'one machine online')
    // Every display acknowledged and marked; a receipt the broker never confirmed is counted.
    await waitFor(async () => sampleValue(await scrape(), 'gateway_display_outbox_unsent') === 0, 'the displays acknowledged')
    expect(sampleValue(await scrape(), 'gateway_displays_in_flight')).toBe(0)
    // The FN's mark one document back, its sweep an hour away: the last receipt is unacknowledged.
    await sql`update display_marks set through_fd = through_fd - 1, sweep_at = now() + interval '1 hour'`.execute(database.handle.db)
    expect(sampleValue(await scrape(), 'gateway_display_outbox_unsent')).toBe(1)
  })
})
