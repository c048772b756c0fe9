import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createDatabaseProbe } from '../../gateway/db/health.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { createTcpProxy, type TcpProxy } from '../support/tcp-proxy.js'

// The readiness probe of a gateway with no sales: through a proxy that can swallow everything
// (a partition) or reset connections, it must say "away" within its timeout and "back" after.

describe('database probe', () => {
  let database: TestDatabase
  let proxy: TcpProxy
  let url: string

  beforeAll(async () => {
    database = await createTestDatabase()
    proxy = await createTcpProxy({ host: '127.0.0.1', port: Number(new URL(database.url).port || 5432) })
    const viaProxy = new URL(database.url)
    viaProxy.port = String(proxy.port)
    url = viaProxy.toString()
  })

  afterAll(async () => {
    await proxy?.close()
    await database?.drop()
  })

  it('answers false within its timeout during a partition or a reset, and true again on a fresh connection', async () => {
    const verdicts: boolean[] = []
    const probe = createDatabaseProbe({ url, timeoutMs: 500, onHealth: (ok) => verdicts.push(ok) })
    expect(await probe.probe()).toBe(true)
    expect(await probe.probe()).toBe(true) // the same connection again

    proxy.cut('blackhole')
    const t0 = performance.now()
    expect(await probe.probe()).toBe(false)
    expect(performance.now() - t0).toBeGreaterThanOrEqual(450) // a partition does not fail: the probe gave up after its timeout
    expect(await probe.probe()).toBe(false) // a new connection into the partition fails too
    proxy.heal()
    expect(await probe.probe()).toBe(true)

    proxy.cut('reset')
    expect(await probe.probe()).toBe(false)
    proxy.heal()
    expect(await probe.probe()).toBe(true)
    expect(verdicts).toEqual([true, true, false, false, true, false, true])
    await probe.stop()
  })
})
