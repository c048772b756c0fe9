import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import type { ReceiptDisplay } from '../../protocol/index.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectMachine, sale, type TestMachine } from '../support/machine-client.js'
import { provisionFleet, startBroker, startGateway } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// The public face of the gateway under a stranger's eye: headers on every answer, receipt lookups
// limited per address, path parameters range-checked, /metrics behind its token.

const METRICS_TOKEN = 'scrape-token-0123456789'

describe('public pages', () => {
  let database: TestDatabase
  let broker: Awaited<ReturnType<typeof startBroker>>
  let gw: Awaited<ReturnType<typeof startGateway>>
  let machine: TestMachine
  let receipt: ReceiptDisplay
  const base = () => `http://127.0.0.1:${gw.httpPort}`

  beforeAll(async () => {
    database = await createTestDatabase()
    const [creds] = await provisionFleet(database.handle.db, 1)
    broker = await startBroker(database.handle.db)
    gw = await startGateway(database.handle, broker.url, { METRICS_TOKEN, RECEIPT_RATE_PER_S: '2', RECEIPT_RATE_BURST: '10' })
    machine = await connectMachine(broker.url, creds!)
    const s = sale()
    await machine.publishSale(s)
    receipt = await waitFor(() => machine.displaysFor(s.saleId)[0] as ReceiptDisplay | undefined, 'the receipt')
  })

  afterAll(async () => {
    await machine?.close()
    await gw?.gateway.stop()
    await broker?.broker.stop()
    await database?.drop()
  })

  const path = () => `/r/${receipt.fiscal.fn}/${receipt.fiscal.fd}?fp=${receipt.fiscal.fp}`

  it('sends CSP, nosniff, frame and referrer policies with every answer, pages, errors and JSON alike', async () => {
    for (const [url, headers] of [
      [path(), {}], ['/r/9999078900001234/1?fp=1', {}], ['/healthz', {}], ['/', {}],
      ['/api/machines', { authorization: 'Bearer test-operator-token-0123456789' }], ['/api/machines', {}],
    ] as const) {
      const res = await fetch(`${base()}${url}`, { headers })
      await res.arrayBuffer()
      expect(res.headers.get('x-content-type-options'), url).toBe('nosniff')
      expect(res.headers.get('x-frame-options'), url).toBe('DENY')
      expect(res.headers.get('referrer-policy'), url).toBe('no-referrer')
      expect(res.headers.get('content-security-policy'), url).toMatch(/frame-ancestors 'none'/)
    }
    const page = await fetch(`${base()}${path()}`)
    expect(page.status).toBe(200)
    expect(page.headers.get('content-security-policy')).toMatch(/^default-src 'none'/) // no script on a receipt
  })

  it('answers 404, never 500, for an FD of 2^31 or more, and never shows database errors', async () => {
    for (const fd of ['2147483648', '4294967296', '9999999999', '99999999999', '-1', '1e3', '0']) {
      const res = await fetch(`${base()}/r/${receipt.fiscal.fn}/${fd}?fp=1`)
      const text = await res.text()
      expect(res.status, fd).toBe(404)
      expect(text).not.toMatch(/integer|out of range|postgres|sql/i)
    }
  })

  it('limits receipt lookups per address with 429, right or wrong fp alike', async () => {
    // A full budget again (10 at 2/s): the lookups above spent most of it.
    await new Promise((r) => setTimeout(r, 5_100))
    const statuses: number[] = []
    for (let i = 0; i < 30; i++) {
      const res = await fetch(`${base()}/r/${receipt.fiscal.fn}/${receipt.fiscal.fd}?fp=${i === 0 ? receipt.fiscal.fp : String(i)}`)
      await res.arrayBuffer()
      statuses.push(res.status)
      if (res.status === 429) expect(Number(res.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    }
    expect(statuses[0]).toBe(200)
    expect(statuses.filter((s) => s === 404).length).toBeLessThanOrEqual(11)
    expect(statuses.filter((s) => s === 429).length).toBeGreaterThanOrEqual(18)
    // Health probes are never limited.
    expect((await fetch(`${base()}/healthz`)).status).toBe(200)
  })

  it('serves /metrics only with its token', async () => {
    expect((await fetch(`${base()}/metrics`)).status).toBe(401)
    expect((await fetch(`${base()}/metrics`, { headers: { authorization: 'Bearer wrong-token-0123456789' } })).status).toBe(401)
    const res = await fetch(`${base()}/metrics`, { headers: { authorization: `Bearer ${METRICS_TOKEN}` } })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('process_cpu_user_seconds_total')
  })
})
