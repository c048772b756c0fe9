import type { Socket } from 'node:net'
import mqtt from 'mqtt'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { connectPacket, cpuSeconds, rawLogin, silentSocket, type RawLoginResult } from '../support/mqtt-raw.js'
import { freePort, killAllProcesses, type ServiceProcess } from '../support/processes.js'
import { startService } from '../../scripts/chaos/service-process.js'
import { provisionFleet, type Credentials } from '../support/system.js'
import { waitFor } from '../support/wait.js'

// The broker as a real process, attacked from outside: sockets that never log in, and a flood of
// wrong-password CONNECTs, all from the address the honest machines and the gateways use too
// (127.0.0.1), the hardest case for per-address limits.

const GATEWAY_PASSWORD = 'abuse-test-gateway-password'
/** The flood of the issue: 150 wrong-password attempts a second for 60 s (FLOOD_S shortens it locally). */
const FLOOD_RATE = 150
const FLOOD_S = Number(process.env.FLOOD_S ?? 60)
/** A fresh honest login must complete within this, throughout the flood. */
const HONEST_BOUND_MS = 2_000

describe('the broker under abuse', () => {
  let database: TestDatabase
  let broker: ServiceProcess
  let port: number
  let machines: Credentials[]

  beforeAll(async () => {
    database = await createTestDatabase()
    machines = await provisionFleet(database.handle.db, 60)
    port = await freePort()
    broker = startService('broker', 'scripts/broker.ts', {
      DATABASE_URL: database.url, MQTT_HOST: '127.0.0.1', MQTT_PORT: String(port), GATEWAY_MQTT_PASSWORD: GATEWAY_PASSWORD,
      LOG_LEVEL: 'info', BROKER_MAX_CONNECTIONS: '1000', BROKER_CONNECT_TIMEOUT_MS: '8000',
    })
    await broker.waitForLine(/broker listening/)
  }, 120_000)

  afterAll(async () => {
    await killAllProcesses([broker])
    await database?.drop()
  })

  async function honestLogin(creds: Credentials): Promise<number> {
    const t0 = performance.now()
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, {
      clientId: creds.id, username: creds.id, password: creds.secret, reconnectPeriod: 0, connectTimeout: 10_000,
    })
    const ms = performance.now() - t0
    await client.endAsync(true)
    return ms
  }

  async function gatewayLogin(id: string): Promise<boolean> {
    const r = await rawLogin(port, connectPacket(`gateway-${id}-in`, 'gateway', GATEWAY_PASSWORD))
    return r.code === 0
  }

  it('silent sockets lock out neither a machine nor a second gateway, and are closed at the CONNECT deadline', async () => {
    const closed = new Set<Socket>()
    let opened = 0
    async function openSilent(count: number, localAddress?: string): Promise<void> {
      for (let i = 0; i < count; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, count - i) }, async () => {
          const s = await silentSocket(port, localAddress)
          opened++
          s.on('close', () => closed.add(s))
          s.on('error', () => {})
        }))
      }
    }
    // 1,100 from the address the machines and gateways use, 100 every 1.2 s: the per-address bound
    // (64) closes the oldest silent ones (silent for 1 s or more) to make room for new ones.
    for (let i = 0; i < 11; i++) {
      await openSilent(100)
      await new Promise((r) => setTimeout(r, 1_200))
    }
    expect(opened - closed.size).toBeLessThanOrEqual(64 + 100)
    // 1,200 more from 20 other addresses, held: more than BROKER_MAX_CONNECTIONS (1,000), yet they
    // take none of the room of logged-in connections.
    for (let a = 2; a <= 21; a++) await openSilent(60, `127.0.0.${a}`)
    expect(opened - closed.size).toBeGreaterThanOrEqual(1200)
    expect(await honestLogin(machines[0]!)).toBeLessThan(HONEST_BOUND_MS)
    expect(await gatewayLogin('second')).toBe(true)
    expect(opened - closed.size).toBeGreaterThanOrEqual(1200) // still held while they logged in
    // None outlives the CONNECT deadline (BROKER_CONNECT_TIMEOUT_MS, 8 s here).
    await waitFor(() => closed.size === opened, 'every silent socket to be closed', 20_000)
  })

  it(`holds ${FLOOD_RATE} wrong-password attempts/s for ${FLOOD_S} s: honest logins within ${HONEST_BOUND_MS} ms throughout, under one core`, async () => {
    const flood: Promise<RawLoginResult>[] = []
    const honest: number[] = []
    const honestFailures: unknown[] = []
    const gatewaysIn: boolean[] = []
    let stop = false
    // Honest probes: a fresh connection of a machine every 250 ms, and a gateway login every 5 s.
    const probing = (async () => {
      for (let i = 0; !stop; i++) {
        const creds = machines[i % 60]! // machines 0–39 are the flood's targets too
        try {
          honest.push(await honestLogin(creds))
        } catch (err) {
          honestFailures.push(err)
        }
        if (i % 20 === 0) gatewaysIn.push(await gatewayLogin(`probe${i}`))
        await new Promise((r) => setTimeout(r, 250))
      }
    })()
    const cpu0 = cpuSeconds(broker.pid)
    const t0 = performance.now()
    // Half wrong secrets for real machines, half unknown machine ids, spread evenly over each second.
    for (let sent = 0; performance.now() - t0 < FLOOD_S * 1000;) {
      const due = Math.floor(((performance.now() - t0) / 1000) * FLOOD_RATE)
      for (; sent < due; sent++) {
        const id = sent % 2 === 0 ? machines[sent % 40]!.id : `VM-X${sent}`
        flood.push(rawLogin(port, connectPacket(id, id, `wrong-${sent}`)))
      }
      await new Promise((r) => setTimeout(r, 10))
    }
    const wallS = (performance.now() - t0) / 1000
    const cpu = cpuSeconds(broker.pid) - cpu0
    stop = true
    await probing
    const results = await Promise.all(flood)

    const codes = new Map<string, number>()
    for (const r of results) codes.set(String(r.code), (codes.get(String(r.code)) ?? 0) + 1)
    const sorted = [...honest].sort((a, b) => a - b)
    const figures = {
      attempts: results.length, ratePerS: Math.round(results.length / wallS), codes: Object.fromEntries(codes),
      honestLogins: honest.length, honestP50Ms: Math.round(sorted[Math.floor(sorted.length / 2)]!), honestMaxMs: Math.round(sorted.at(-1)!),
      brokerCpuCores: Math.round((cpu / wallS) * 100) / 100, gatewayLogins: gatewaysIn.length,
    }
    process.stderr.write(`login flood: ${JSON.stringify(figures)}\n`)

    expect(results.length).toBeGreaterThanOrEqual(FLOOD_RATE * FLOOD_S * 0.95)
    expect(codes.get('0') ?? 0).toBe(0) // not one wrong secret got in
    expect(honestFailures).toEqual([])
    expect(honest.length).toBeGreaterThanOrEqual(FLOOD_S * 2)
    expect(figures.honestMaxMs).toBeLessThan(HONEST_BOUND_MS)
    expect(gatewaysIn.every(Boolean)).toBe(true)
    expect(cpu / wallS).toBeLessThan(1)
  }, (FLOOD_S + 60) * 1000)
})
