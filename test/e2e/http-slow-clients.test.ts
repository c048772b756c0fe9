import { spawn, type ChildProcess } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { startFleet } from '../../device-sim/fleet.js'
import { verifyFiscalData } from '../../gateway/fleet/verify.js'
import { provisionChaosFleet } from '../../scripts/chaos/chaos-database.js'
import { PROJECT_ROOT } from '../../scripts/chaos/service-process.js'
import { createTestDatabase, type TestDatabase } from '../support/database.js'
import { killAllProcesses, startTestCluster, type ChaosCluster } from '../support/processes.js'
import { waitFor } from '../support/wait.js'

// 2 × 10,000 slow-header HTTP connections against a gateway process (open-file limit 20,000 here,
// so its connection cap is the automatic 10,000) while machines keep selling: fiscalization goes
// on, /healthz always answers, the gateway never runs out of file descriptors. The header timeout
// is raised to Node's old default (60 s) so that the connection cap alone has to hold: with the
// default 5 s, slow connections die long before 20,000 can be open at once.

const ATTACKERS = [{ address: '127.0.0.3', count: 10_000 }, { address: '127.0.0.4', count: 10_000 }]
const ATTACK_S = Number(process.env.SLOW_HTTP_S ?? 30)

describe('a gateway under 20,000 slow HTTP connections', () => {
  let database: TestDatabase
  let cluster: ChaosCluster
  let machines: { id: string; secret: string }[]
  const attackers: ChildProcess[] = []

  beforeAll(async () => {
    database = await createTestDatabase()
    machines = await provisionChaosFleet(database.handle, 20)
    cluster = await startTestCluster({ databaseUrl: database.url, gatewayEnv: { HTTP_HEADERS_TIMEOUT_MS: '60000', HTTP_REQUEST_TIMEOUT_MS: '120000' } })
  }, 120_000)

  afterAll(async () => {
    for (const a of attackers) a.kill('SIGKILL')
    cluster?.killAll()
    await killAllProcesses()
    await database?.drop()
  })

  it('keeps fiscalizing and answering /healthz, within its file descriptors', async () => {
    const gateway = cluster.gateways[0]!
    const httpPort = cluster.o.httpPorts[0]!
    const fleet = startFleet({
      url: cluster.mqttUrl, machines, rate: 20, durationS: Infinity, drainTimeoutS: 60, seed: 19, telemetryIntervalS: 0,
      retry: { initialMs: 2000, maxMs: 5000 },
    })
    const opened = ATTACKERS.map(() => 0)
    const dialled = ATTACKERS.map(() => 0)
    const open = ATTACKERS.map(() => 0)
    let peakOpen = 0
    ATTACKERS.forEach((a, i) => {
      // Each its own process, with its own open-file limit.
      const p = spawn(process.execPath, ['--import', 'tsx', 'test/support/slow-http-clients.ts', String(httpPort), String(a.count), a.address], {
        cwd: PROJECT_ROOT, stdio: ['ignore', 'pipe', 'ignore'],
      })
      attackers.push(p)
      p.stdout.on('data', (d: Buffer) => {
        const last = d.toString().trim().split('\n').at(-1)
        if (!last?.startsWith('{')) return
        const state = JSON.parse(last) as { dialled: number; opened: number; open: number }
        dialled[i] = state.dialled
        opened[i] = state.opened
        open[i] = state.open
        peakOpen = Math.max(peakOpen, open.reduce((a, b) => a + b, 0))
      })
    })
    const probes: { status: number | 'timeout' | 'error'; ms: number }[] = []
    let maxFds = 0
    const t0 = Date.now()
    // At least ATTACK_S, and until 20,000 connections were dialled (slower on a loaded machine).
    const attacking = () => Date.now() - t0 < ATTACK_S * 1000 || dialled.reduce((a, b) => a + b, 0) < 20_000
    while (attacking() && Date.now() - t0 < 240_000) {
      const p0 = performance.now()
      try {
        const res = await fetch(`http://127.0.0.1:${httpPort}/healthz`, { signal: AbortSignal.timeout(2_000) })
        await res.arrayBuffer()
        probes.push({ status: res.status, ms: performance.now() - p0 })
      } catch (err) {
        probes.push({ status: (err as { name?: string }).name === 'TimeoutError' ? 'timeout' : 'error', ms: performance.now() - p0 })
      }
      maxFds = Math.max(maxFds, readdirSync(`/proc/${gateway.pid}/fd`).length)
      await new Promise((r) => setTimeout(r, 250))
    }
    const report = await fleet.stop()
    const answered = probes.filter((p) => typeof p.status === 'number')
    const figures = {
      attackDialled: dialled, attackOpened: opened, attackPeakOpen: peakOpen, probes: probes.length, probeStatuses: [...new Set(probes.map((p) => p.status))],
      probeMaxMs: Math.round(Math.max(...probes.map((p) => p.ms))), gatewayMaxFds: maxFds,
      sent: report.sent, receipted: report.receipted, unanswered: report.unanswered,
    }
    process.stderr.write(`slow HTTP: ${JSON.stringify(figures)}\n`)

    expect(dialled.reduce((a, b) => a + b, 0)).toBeGreaterThanOrEqual(20_000)
    expect(peakOpen).toBeGreaterThanOrEqual(9_000) // the cap (10,000) was reached: the eviction held, not the timeouts
    expect(answered).toHaveLength(probes.length) // never a hang: every probe answered within 2 s
    expect(answered.every((p) => p.status === 200 || p.status === 503)).toBe(true)
    expect(maxFds).toBeLessThan(20_000)
    expect(report.unanswered).toBe(0)
    expect(report.receipted).toBe(report.sent)
    expect(gateway.alive).toBe(true)
    expect(gateway.tail(200)).not.toMatch(/EMFILE/)
    expect((await verifyFiscalData(database.handle.db)).failures).toEqual([])
  }, 400_000)
})
