import { readFileSync, rmSync } from 'node:fs'
import mqtt from 'mqtt'
import { afterAll, describe, expect, it } from 'vitest'
import { BUILT_BROKER, buildBroker } from '../../scripts/lib/build.js'
import { startService } from '../../scripts/chaos/service-process.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { freePort, killAllProcesses, type ServiceProcess } from '../support/processes.js'
import { provisionFleet } from '../support/system.js'

// `npm run build`: the broker compiled to dist/ and started with plain node, no tsx (the bench's
// reconnect storm and `npm run broker:built` start it so, README.md#reconnect-storm). The same
// broker: a machine logs in with its secret and subscribes to its display, a wrong secret is refused.

describe('the compiled broker', () => {
  let database: TestDatabase | undefined
  let broker: ServiceProcess | undefined

  const outDir = `.tmp/build-test-${process.pid}`

  afterAll(async () => {
    if (broker) await killAllProcesses([broker])
    await database?.drop()
    rmSync(outDir, { recursive: true, force: true })
  })

  it('compiles, starts from dist/ without tsx, logs a machine in and refuses a wrong secret', { timeout: 180_000 }, async () => {
    // The default output is dist/ (the bench's storm step starts it from there).
    expect(BUILT_BROKER).toBe('dist/scripts/broker.js')
    // Its own directory: the bench's smoke test may compile into dist/ at the same time.
    const built = await buildBroker(outDir)
    expect(built).toBe(`${outDir}/scripts/broker.js`)
    database = await createTestDatabase()
    const [machine] = await provisionFleet(database.handle.db, 1)
    const port = await freePort()
    broker = startService('broker', built, {
      DATABASE_URL: database.url, MQTT_HOST: '127.0.0.1', MQTT_PORT: String(port), GATEWAY_MQTT_PASSWORD: 'build-test-gateway-password', LOG_LEVEL: 'info',
    })
    await broker.waitForLine(/broker listening/, 60_000)
    // The process runs the compiled file itself, with no TypeScript loader.
    const cmdline = readFileSync(`/proc/${broker.pid}/cmdline`, 'utf8').split('\0')
    expect(cmdline).toContain(built)
    expect(cmdline).not.toContain('tsx')

    const url = `mqtt://127.0.0.1:${port}`
    const client = await mqtt.connectAsync(url, { clientId: machine!.id, username: machine!.id, password: machine!.secret, reconnectPeriod: 0 })
    const granted = await client.subscribeAsync(`vending/${machine!.id}/display`, { qos: 1 })
    expect(granted[0]?.qos).toBe(1)
    await client.endAsync()
    const refused = await mqtt.connectAsync(url, { clientId: machine!.id, username: machine!.id, password: 'wrong', reconnectPeriod: 0 }).then(() => null, (err: { code?: number }) => err)
    expect(refused?.code).toBe(5)
  })
})
