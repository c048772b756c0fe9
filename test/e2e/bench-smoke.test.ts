import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { TEST_SERVER_URL } from '../support/database.js'

// `npm run bench -- --quick` end to end, as CI runs it: real child processes, a fresh database on
// the test server, every step. Performance is not asserted here (the machine is shared); only that
// the report has its shape and that every sale of every step got its receipt.

interface Step {
  phase: string; name: string; against: string; machines: number; connected: number; sent: number; receipted: number
  lost: number; duplicates: number; latencyMs: Record<'p50' | 'p95' | 'p99' | 'max', number>
  processes: Record<string, { rssMiB: number; hwmMiB: number; cpuPercent: number }>; pass: boolean
  idle?: { processes: Record<string, { rssMiB: number }> }
  burst?: { sales: number; receiptsPerS: number }
  kickedBatchShare?: number
  displaysResent?: number
  tail?: { windowMs: number; windows: number; slowest: number; slowestInWindows: number; windowsMedianAbove: number }
}

interface ClusterFigures { brokers: number; gateways: number; sent: number; receipted: number; lost: number; cpuMsPerSale: number; pgTransactionsPerSale: number; cpuS: Record<string, number> }
interface ClusterStep { single: ClusterFigures; cluster: ClusterFigures; ratio: number }
interface Failover { machines: number; victims: number; backMs: number | null; othersReceipts: number; sent: number; receipted: number; lost: number }
interface Storm { machines: number; backMs: number | null; sellingMs: number | null; sent: number; receipted: number; lost: number }

describe('npm run bench -- --quick', () => {
  const out = mkdtempSync(join(tmpdir(), 'vt-bench-'))
  let child: ChildProcess | null = null

  afterAll(() => {
    // Its own process group: the bench's broker and gateway children go with it.
    if (child?.pid && child.exitCode === null) process.kill(-child.pid, 'SIGKILL')
    rmSync(out, { recursive: true, force: true })
  })

  it('runs every step against PostgreSQL and reports a receipt for every sale sent', { timeout: 420_000 }, async () => {
    child = spawn('npm', ['run', '-s', 'bench', '--', '--quick', '--out', out], {
      env: { ...process.env, DATABASE_URL: TEST_SERVER_URL }, stdio: ['ignore', 'pipe', 'pipe'], detached: true,
    })
    let stdout = ''
    let stderr = ''
    child.stdout!.on('data', (chunk: Buffer) => { stdout += chunk.toString() })
    child.stderr!.on('data', (chunk: Buffer) => { stderr += chunk.toString() })
    const code = await new Promise<number | null>((resolve) => child!.once('exit', resolve))
    expect(code, stderr.slice(-4000)).toBe(0)

    const report = JSON.parse(stdout) as { quick: boolean; database: string; summary: Record<string, unknown>; steps: Step[]; warmups: { against: string; sent: number; receipted: number; lost: number; duplicates: number }[]; cluster: ClusterStep | null; failover: Failover | null; storm: Storm | null }
    expect(report).toMatchObject({ quick: true, database: 'postgres' })
    expect(report.summary).toHaveProperty('targets')
    expect(report.summary).toHaveProperty('ratios')
    // Wherever both steps measured CPU, the ratio comes with its floor (the database's share alone).
    const cpu = (report.summary as { ratios: { cpu: { ratio: number | null; floor: number | null }[] } }).ratios.cpu
    expect(cpu.some((c) => c.ratio !== null)).toBe(true)
    for (const c of cpu) if (c.ratio !== null) expect(c.floor).toBeGreaterThan(0)
    const phases = new Set(report.steps.map((s) => s.phase))
    for (const phase of ['baseline-fixed', 'baseline-stepup', 'baseline-onekassa', 'baseline-burst', 'fixed', 'stepup', 'onekassa', 'burst', 'scale']) expect(phases).toContain(phase)
    for (const step of report.steps) {
      expect(step.connected, step.name).toBe(step.machines)
      expect(step.receipted, step.name).toBe(step.sent)
      expect(step.lost, step.name).toBe(0)
      expect(step.duplicates, step.name).toBe(0)
      expect(Object.keys(step.latencyMs).sort(), step.name).toEqual(['max', 'p50', 'p95', 'p99'])
      expect(step.processes.broker?.rssMiB, step.name).toBeGreaterThan(0)
    }
    expect(report.steps.every((s) => s.sent > 0)).toBe(true)
    // The gateway's batches at a fixed rate are signed from the sales their kicks carried, once
    // each kassa is signed in rounds; the echo's steps have no batches.
    for (const step of report.steps.filter((s) => s.phase === 'fixed')) expect(step.kickedBatchShare, step.name).toBeGreaterThan(0)
    for (const step of report.steps.filter((s) => s.phase.startsWith('baseline-'))) expect(step.kickedBatchShare, step.name).toBeUndefined()
    // Displays the gateway's sweeper published again: counted for the gateway's steps only.
    for (const step of report.steps) expect(step.displaysResent === undefined, step.name).toBe(step.against !== 'gateway')
    // Where each step's slowest 1% fell in time: a burst, sent at once, has no such figure.
    for (const step of report.steps) {
      if (step.burst) { expect(step.tail, step.name).toBeUndefined(); continue }
      expect(step.tail?.windows, step.name).toBeGreaterThan(0)
      expect(step.tail!.slowest, step.name).toBeGreaterThanOrEqual(1)
      expect(step.tail!.slowestInWindows, step.name).toBeGreaterThanOrEqual(1)
      expect(step.tail!.slowestInWindows, step.name).toBeLessThanOrEqual(Math.min(step.tail!.slowest, step.tail!.windows))
    }
    // The echo and the gateway each sold unmeasured for a while right after starting, losing nothing.
    expect(report.warmups.map((w) => w.against)).toEqual(['echo', 'gateway'])
    for (const w of report.warmups) expect([w.sent > 0, w.receipted, w.lost, w.duplicates], w.against).toEqual([true, w.sent, 0, 0])
    expect(stderr).toMatch(/Not measured, right after the processes started: echo warm-up/)
    // One kassa: the machines of one kassa at a fixed rate, then all their sales at once, against
    // the echo and the gateway; the burst's figure is receipts per second.
    for (const phase of ['baseline-burst', 'burst']) {
      const burst = report.steps.find((s) => s.phase === phase)!
      expect(burst.sent, phase).toBe(burst.burst?.sales)
      expect(burst.burst?.receiptsPerS, phase).toBeGreaterThan(0)
    }
    expect(report.steps.find((s) => s.phase === 'onekassa')?.machines).toBe(10)
    expect(report.summary).toMatchObject({ oneKassa: { machines: 10 }, burst: { sales: 500 } })
    // Each of the performance issue's targets that a quick run has: measured against its goal.
    const targets = (report.summary as { targets: { name: string; goal: string; measured: string; met: boolean | null }[] }).targets
    for (const name of [/one kassa$/, /^burst: /]) expect(targets.some((t) => name.test(t.name)), String(name)).toBe(true)
    expect(stderr).toMatch(/\| target \| goal \| measured \| met \|/)
    // The scale step measures its fleet idle before it sells.
    expect(report.steps.find((s) => s.phase === 'scale')?.idle?.processes.broker?.rssMiB).toBeGreaterThan(0)
    // The cluster step: the same fleet through 1 × 1 and 3 × 3 (brokers on a private Redis), every sale receipted.
    expect(report.cluster).not.toBeNull()
    for (const figures of [report.cluster!.single, report.cluster!.cluster]) {
      expect(figures.receipted).toBe(figures.sent)
      expect(figures.sent).toBeGreaterThan(0)
      expect(figures.lost).toBe(0)
      expect(figures.cpuMsPerSale).toBeGreaterThan(0)
      expect(figures.pgTransactionsPerSale).toBeGreaterThan(0)
    }
    expect([report.cluster!.single.brokers, report.cluster!.cluster.brokers, report.cluster!.cluster.gateways]).toEqual([1, 3, 3])
    expect(report.cluster!.cluster.cpuS.redis).toBeGreaterThanOrEqual(0)
    expect(report.cluster!.ratio).toBeCloseTo(report.cluster!.cluster.cpuMsPerSale / report.cluster!.single.cpuMsPerSale, 1)
    expect(stderr).toMatch(/\| cluster step at \d+\/s/)
    // The failover step: a third of the fleet loses its broker, comes back through the others, nothing is lost.
    expect(report.failover).not.toBeNull()
    expect(report.failover!.victims).toBeGreaterThan(0)
    expect(report.failover!.victims).toBeLessThan(report.failover!.machines)
    expect(report.failover!.backMs).not.toBeNull()
    expect(report.failover!.othersReceipts).toBeGreaterThan(0)
    expect(report.failover!.receipted).toBe(report.failover!.sent)
    expect(report.failover!.lost).toBe(0)
    // The reconnect storm: the broker holding the whole fleet restarts; every machine is back and its sales receipted.
    expect(report.storm).not.toBeNull()
    expect(report.storm!.machines).toBeGreaterThan(0)
    expect(report.storm!.backMs).not.toBeNull()
    expect(report.storm!.sellingMs).not.toBeNull()
    expect(report.storm!.sent).toBeGreaterThan(0)
    expect(report.storm!.receipted).toBe(report.storm!.sent)
    expect(report.storm!.lost).toBe(0)
    // The same document and a Markdown table are written for the README to quote.
    const files = readdirSync(out).sort()
    expect(files.some((f) => f.endsWith('-quick.json'))).toBe(true)
    expect(files.some((f) => f.endsWith('-quick.md'))).toBe(true)
    const written = JSON.parse(readFileSync(join(out, files.find((f) => f.endsWith('.json'))!), 'utf8')) as unknown
    expect(written).toEqual(report)
    expect(stderr).toMatch(/\| step \| machines \| sales\/s/)
  })
})
