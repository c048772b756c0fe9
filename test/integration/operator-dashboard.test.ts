import vm from 'node:vm'
import { Counter, Registry } from 'prom-client'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createHttpServer } from '../../gateway/http/http.server.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { gatewayConfig, logger } from '../support/system.js'

describe('the dashboard and the scrape endpoint (HTTP server alone)', () => {
  let database: TestDatabase
  let http: ReturnType<typeof createHttpServer>
  let base: string

  beforeAll(async () => {
    database = await createTestDatabase()
    const registry = new Registry()
    new Counter({ name: 'test_total', help: 'a counter', registers: [registry] })
    http = createHttpServer({
      db: database.handle.db, logger, metrics: registry,
      config: gatewayConfig('mqtt://127.0.0.1:1', { METRICS_TOKEN: 'scrape-token-0123456789' }),
      readiness: () => ({ migrated: true, database: true, broker: false }),
    })
    base = `http://127.0.0.1:${await http.listen()}`
  })

  afterAll(async () => {
    await http?.close()
    await database?.drop()
  })

  it('serves the dashboard page with its fleet table, script and style, in Russian, without a token', async () => {
    const res = await fetch(`${base}/`)
    expect(res.status).toBe(200)
    expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8')
    expect(res.headers.get('content-security-policy')).toContain("script-src 'self'")
    const html = await res.text()
    expect(html).toContain('<html lang="ru">')
    expect(html).toContain('<meta charset="utf-8">')
    expect(html).toContain('name="viewport"')
    expect(html).toMatch(/<table id="fleet">[\s\S]*<thead>[\s\S]*<\/table>/)
    expect(html).toContain('id="machine-search"')
    expect(html).toContain('<script src="/dashboard.js" defer></script>')
    expect(html).toContain('id="kassas"')
    expect(html).toContain('id="alerts"')
    expect(html).toContain('id="username"')
    expect(html).toContain('id="password"')
    const assets = [['/dashboard.js', 'text/javascript'], ['/dashboard.css', 'text/css'], ['/vendor/uPlot.iife.min.js', 'text/javascript'],
      ['/vendor/uPlot.min.css', 'text/css'], ...[...html.matchAll(/src="(\/console\/[^"]+)"/g)].map((m) => [m[1]!, 'text/javascript'])] as const
    expect(assets.length).toBe(11)
    for (const [path, type] of assets) {
      const asset = await fetch(`${base}${path}`)
      expect(asset.status).toBe(200)
      expect(asset.headers.get('content-type')).toBe(`${type}; charset=utf-8`)
    }
  })

  it('ships a script that compiles, signs in to a session with a CSRF token and formats kopecks as rubles exactly', async () => {
    const js = await (await fetch(`${base}/dashboard.js`)).text()
    expect(js).toContain("'x-csrf-token': me?.csrf")
    expect(js).not.toContain('localStorage')
    for (const route of ['/auth/login', '/auth/logout', '/auth/session', '/api/kassas', '/api/alerts', '/api/sales?machine=', '/api/conflicts?machine=']) expect(js).toContain(route)
    // Run it against a stub page: the top level only defines functions and waits for DOMContentLoaded.
    const context = vm.createContext({ document: { addEventListener: () => undefined }, Intl, localStorage: null })
    new vm.Script(js).runInContext(context)
    const rub = context.rub as (k: number) => string
    expect(rub(12000)).toBe('120,00\u00a0₽')
    expect(rub(1)).toBe('0,01\u00a0₽')
    expect(rub(123456789)).toBe('1\u00a0234\u00a0567,89\u00a0₽')
    expect(rub(-4449)).toBe('−44,49\u00a0₽')
  })

  it('asks for METRICS_TOKEN on /metrics when one is configured', async () => {
    expect((await fetch(`${base}/metrics`)).status).toBe(401)
    const res = await fetch(`${base}/metrics`, { headers: { authorization: 'Bearer scrape-token-0123456789' } })
    expect(res.status).toBe(200)
    expect(await res.text()).toContain('# TYPE test_total counter')
    // The operator token is not the scrape token, and the other way round.
    expect((await fetch(`${base}/api/alerts`, { headers: { authorization: 'Bearer scrape-token-0123456789' } })).status).toBe(401)
  })
})
