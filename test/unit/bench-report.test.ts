import { describe, expect, it } from 'vitest'
import { parseBenchArgs, type BenchPlan } from '../../scripts/bench/args.js'
import { markdown, summarize } from '../../scripts/bench/report.js'
import type { JudgedStep } from '../../scripts/bench/run.js'
import type { Processes } from '../../scripts/bench/samples.js'

// The bench's summary of CPU per sale against the echo baseline (scripts/bench/report.ts), from
// hand-made steps: the ratio the performance target is judged on, and its floor.

const plan = parseBenchArgs(['--only', 'baseline,fixed']) as BenchPlan

const cpu = (ms: Record<string, number>): Processes =>
  Object.fromEntries(Object.entries(ms).map(([name, cpuMsPerSale]) => [name, { rssMiB: 100, hwmMiB: 100, cpuPercent: 50, cpuMsPerSale }]))

function step(phase: JudgedStep['phase'], rate: number, processes: Processes, latencyMs = { p50: 1, p95: 2, p99: 3, max: 4 }): JudgedStep {
  return {
    phase, name: `${phase} ${rate}/s`, against: phase.startsWith('baseline') ? 'echo' : 'gateway', targetRate: rate, machines: 1000, connected: 1000,
    connectS: 1, durationS: 10, sent: rate * 10, receipted: rate * 10, rejected: 0, lost: 0, duplicates: 0, conflicts: 0, republished: 0,
    achievedRate: rate, latencyMs, scheduleLagP99Ms: 1, processes, connectionErrors: {}, pass: true, limitedBy: null,
  }
}

describe('bench CPU per sale against the echo', () => {
  const steps = [
    step('baseline-fixed', 1000, cpu({ broker: 0.3, echo: 0.15, simulator: 0.3, postgres: 0 })),
    step('fixed', 1000, cpu({ broker: 0.45, gateway: 0.35, simulator: 0.31, postgres: 0.5 })),
  ]
  const summary = summarize(plan, steps, false)
  const at1000 = summary.ratios.cpu.find((c) => c.rate === 1000)!

  it('sums every process of each step and divides the gateway\'s by the echo\'s', () => {
    expect(at1000).toMatchObject({ echo: 0.75, gateway: 1.61, ratio: 2.15 })
  })

  it('puts the floor at the echo\'s broker and responder with the gateway step\'s database and simulator', () => {
    // (0.3 + 0.15 + 0.5 + 0.31) / 0.75
    expect(at1000.floor).toBe(1.68)
    const target = summary.targets.find((t) => t.name.startsWith('CPU ms per sale'))!
    expect(target).toMatchObject({ measured: '2.15 (1.61 vs 0.75 ms; floor 1.68)', met: false })
    expect(markdown(steps, summary, '# run', false)).toContain('at 1000/s ×1.68')
  })

  it('has no floor without both steps\' figures', () => {
    const alone = summarize(plan, [steps[1]!], false).ratios.cpu.find((c) => c.rate === 1000)!
    expect(alone).toMatchObject({ echo: null, ratio: null, floor: null })
  })
})

describe('bench p99 targets against the echo', () => {
  const echo = cpu({ broker: 0.3, echo: 0.15, simulator: 0.3, postgres: 0 })
  const gateway = cpu({ broker: 0.45, gateway: 0.35, simulator: 0.31, postgres: 0.5 })
  const target = (echoP99: number) => summarize(plan, [
    step('baseline-fixed', 1000, echo, { p50: 0.8, p95: 3, p99: echoP99, max: 40 }),
    step('fixed', 1000, gateway, { p50: 17.5, p95: 82, p99: 127.7, max: 300 }),
  ], false).targets.find((t) => t.name.startsWith('p99 sale → QR, 1,000 sales/s'))!

  it('shows the echo\'s own p50 and p99 of the same step beside the gateway\'s', () => {
    expect(target(10.9)).toMatchObject({ goal: '≤ 20 ms', measured: '127.7 ms (p50 17.5; echo 0.8 / 10.9; lost 0)', met: false })
  })

  it('says so when the echo itself is over the goal in that step', () => {
    expect(target(25.9).measured).toBe('127.7 ms (p50 17.5; echo 0.8 / 25.9, over the goal itself; lost 0)')
  })
})
