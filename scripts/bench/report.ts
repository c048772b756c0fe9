import type { BenchPlan } from './args.js'
import { stepUpResult, type JudgedStep, type StepUp } from './run.js'
import type { ProcessFigures } from './samples.js'

// The run's one JSON document, its ratios to the echo baseline, the issue's targets, and a
// Markdown table the README's performance section can quote.

export interface Target { name: string; goal: string; measured: string; met: boolean | null }

/**
 * ms of CPU per sale summed over every process of the path (broker, responder, database,
 * simulator): a machine shared with other work stretches latency, much less the CPU each sale
 * costs, so this is the steadier comparison with the baseline.
 */
export interface CpuPerSale {
  rate: number; echo: number | null; gateway: number | null; ratio: number | null
  /**
   * The ratio the gateway step would have if its broker and gateway cost only what the echo's broker
   * and responder cost, its database and simulator as measured: the database's work for durable
   * sales alone against the echo's whole cost. A ratio target below this floor is out of reach
   * however lean the Node processes get.
   */
  floor: number | null
}

export interface BenchSummary {
  baseline: StepUp | null
  gateway: StepUp | null
  /** Gateway ÷ echo: sustained rate (aim ≥ 0.5), and latency at each fixed rate (× slower). */
  ratios: { sustained: number | null; latency: { rate: number; p50: number | null; p99: number | null }[]; cpu: CpuPerSale[] }
  /** Broker memory with the whole fleet connected and idle, then selling; peaks over both. */
  scale: {
    machines: number; connected: number; connectS: number | null; brokerIdleRssMiB: number | null; brokerSellingRssMiB: number | null
    brokerHwmMiB: number | null; gatewayHwmMiB: number | null
  } | null
  /** Machines of one kassa at a fixed rate: latency against the echo's in the same run. */
  oneKassa: { machines: number; rate: number; gateway: { p50: number; p99: number } | null; echo: { p50: number; p99: number } | null } | null
  /** Sales sent at once through one kassa: receipts per second, the gateway's ÷ the echo's. */
  burst: { sales: number; gateway: number | null; echo: number | null; ratio: number | null } | null
  targets: Target[]
}

/** The performance issue's goal for the p99 from sale to QR. */
const P99_GOAL_MS = 20

const ratio = (a: number | undefined, b: number | undefined) => (a !== undefined && b !== undefined && b > 0 ? Math.round((a / b) * 100) / 100 : null)
const find = (steps: readonly JudgedStep[], phase: JudgedStep['phase'], rate?: number) => steps.find((s) => s.phase === phase && (rate === undefined || s.targetRate === rate))

export function summarize(plan: BenchPlan, steps: readonly JudgedStep[], combined: boolean): BenchSummary {
  const baseline = stepUpResult(steps, 'baseline-stepup')
  const gateway = stepUpResult(steps, 'stepup')
  const latency = plan.fixedRates.map((rate) => {
    const g = find(steps, 'fixed', rate)?.latencyMs
    const e = find(steps, 'baseline-fixed', rate)?.latencyMs
    return { rate, p50: ratio(g?.p50, e?.p50), p99: ratio(g?.p99, e?.p99) }
  })
  // ms of CPU per sale of the processes given, or null when one of them was not measured.
  const cpuSum = (figures: readonly (ProcessFigures | undefined)[]) => {
    const parts = figures.map((f) => f?.cpuMsPerSale)
    return parts.length > 0 && parts.every((v) => v !== undefined) ? Math.round(parts.reduce<number>((n, v) => n + v!, 0) * 100) / 100 : null
  }
  const cpu = plan.fixedRates.map((rate): CpuPerSale => {
    const e = find(steps, 'baseline-fixed', rate)?.processes
    const g = find(steps, 'fixed', rate)?.processes
    const echo = e ? cpuSum(Object.values(e)) : null
    const gw = g ? cpuSum(Object.values(g)) : null
    const asEcho = e && g ? cpuSum([e.broker, e.echo, g.postgres, g.simulator]) : null
    return { rate, echo, gateway: gw, ratio: ratio(gw ?? undefined, echo ?? undefined), floor: ratio(asEcho ?? undefined, echo ?? undefined) }
  })
  const scaled = find(steps, 'scale')
  const peak = (name: 'broker' | 'gateway') => Math.max(scaled?.idle?.processes[name]?.hwmMiB ?? 0, scaled?.processes[name]?.hwmMiB ?? 0) || null
  const scale = scaled ? {
    machines: scaled.machines, connected: scaled.connected, connectS: scaled.connectS,
    brokerIdleRssMiB: scaled.idle?.processes.broker?.rssMiB ?? null, brokerSellingRssMiB: scaled.processes.broker?.rssMiB ?? null,
    brokerHwmMiB: peak('broker'), gatewayHwmMiB: combined ? null : peak('gateway'),
  } : null

  const oneG = find(steps, 'onekassa')
  const oneE = find(steps, 'baseline-onekassa')
  const pct = (s?: JudgedStep) => (s ? { p50: s.latencyMs.p50, p99: s.latencyMs.p99 } : null)
  const oneKassa = oneG || oneE ? { machines: (oneG ?? oneE)!.machines, rate: plan.oneKassaRate, gateway: pct(oneG), echo: pct(oneE) } : null
  const burstG = find(steps, 'burst')
  const burstE = find(steps, 'baseline-burst')
  const burst = burstG || burstE ? {
    sales: plan.burstSales, gateway: burstG?.burst?.receiptsPerS ?? null, echo: burstE?.burst?.receiptsPerS ?? null,
    ratio: ratio(burstG?.burst?.receiptsPerS, burstE?.burst?.receiptsPerS),
  } : null

  // The performance issue's targets first, then the earlier ones.
  const targets: Target[] = []
  // A latency target's row shows the echo's own p50 / p99 in the same run: where the echo's p99 is
  // already over the goal, the machine left nothing of it in that step.
  const latencyMeasured = (g: JudgedStep, e: JudgedStep | undefined) =>
    `${g.latencyMs.p99} ms (p50 ${g.latencyMs.p50}; echo ${e ? `${e.latencyMs.p50} / ${e.latencyMs.p99}${e.latencyMs.p99 > P99_GOAL_MS ? ', over the goal itself' : ''}` : '–'}; lost ${g.lost})`
  const at1000 = find(steps, 'fixed', 1000)
  if (at1000) targets.push({ name: `p99 sale → QR, 1,000 sales/s, ${at1000.machines} machines, ${Math.ceil(at1000.machines / plan.machinesPerKassa)} kassas`, goal: `≤ ${P99_GOAL_MS} ms`, measured: latencyMeasured(at1000, find(steps, 'baseline-fixed', 1000)), met: at1000.latencyMs.p99 <= P99_GOAL_MS && at1000.lost === 0 })
  if (oneG) targets.push({ name: `p99 sale → QR, ${plan.oneKassaRate} sales/s, ${oneG.machines} machines, one kassa`, goal: `≤ ${P99_GOAL_MS} ms`, measured: latencyMeasured(oneG, oneE), met: plan.quick ? null : oneG.latencyMs.p99 <= P99_GOAL_MS && oneG.lost === 0 })
  const sustained = ratio(gateway?.sustainedRate, baseline?.sustainedRate)
  if (sustained !== null) targets.push({ name: 'highest sustained rate (p99 < 100 ms, 0 lost) ÷ the echo\'s', goal: '≥ 0.5', measured: `${sustained} (${gateway!.sustainedRate} vs ${baseline!.sustainedRate} sales/s)`, met: plan.quick ? null : sustained >= 0.5 })
  if (burst && burstG) targets.push({ name: `burst: ${plan.burstSales} sales at once, ${burstG.machines} machines, one kassa: receipts/s ÷ the echo's`, goal: '≥ 0.5', measured: `${burst.ratio ?? '–'} (${burst.gateway ?? '–'} vs ${burst.echo ?? '–'}/s; lost ${burstG.lost})`, met: plan.quick || burst.ratio === null ? null : burst.ratio >= 0.5 && burstG.lost === 0 })
  const cpu1000 = cpu.find((c) => c.rate === 1000)
  if (cpu1000?.ratio != null) targets.push({ name: 'CPU ms per sale of the whole system at 1,000/s ÷ the echo\'s', goal: '≤ 1.5', measured: `${cpu1000.ratio} (${cpu1000.gateway} vs ${cpu1000.echo} ms; floor ${cpu1000.floor ?? '–'})`, met: cpu1000.ratio <= 1.5 })
  if (gateway) targets.push({ name: 'sustained rate, 0 lost, p99 < 100 ms', goal: '≥ 5,000 sales/s', measured: `${gateway.sustainedRate} sales/s (next step: ${gateway.limitedBy})`, met: plan.quick ? null : gateway.sustainedRate >= 5000 })
  if (scale) {
    const rss = scale.brokerHwmMiB
    targets.push({ name: `${scale.machines} machines on one broker, broker peak RSS`, goal: combined ? '≤ 1 GiB (broker + gateway, one process on PGlite)' : '≤ 1 GiB', measured: `${scale.connected}/${scale.machines} connected, ${rss ?? '?'} MiB`, met: plan.quick ? null : scale.connected === scale.machines && rss !== null && rss <= 1024 })
  }
  return { baseline, gateway, ratios: { sustained, latency, cpu }, scale, oneKassa, burst, targets }
}

const fmt = (n: number | undefined | null, digits = 1) => (n === undefined || n === null ? '–' : n.toFixed(digits))

export function markdown(steps: readonly JudgedStep[], summary: BenchSummary, heading: string, combined: boolean): string {
  const row = (s: JudgedStep, idle: boolean) => {
    const p = idle ? s.idle!.processes : s.processes
    const g = combined ? undefined : p.gateway ?? p.echo
    const cpu = [p.broker, g, p.postgres, p.simulator].map((f) => f?.cpuPercent ?? '–').join(' / ')
    const perSale = [p.broker, g, p.postgres, p.simulator].map((f) => fmt(f?.cpuMsPerSale, 2)).join(' / ')
    if (idle) return `| ${s.name}, idle first | ${s.connected}/${s.machines} | 0 | – | – | – | – | ${fmt(p.broker?.hwmMiB, 0)} | ${fmt(g?.hwmMiB, 0)} | ${cpu} | – | – | – | – | – | – |`
    const pg = s.postgresPerSale
    // A burst's rate is its receipts per second (sales were all made at once).
    const rate = s.burst ? `${s.burst.receiptsPerS} (burst)` : s.achievedRate
    return `| ${s.name} | ${s.machines} | ${rate} | ${fmt(s.latencyMs.p50, 2)} | ${fmt(s.latencyMs.p95, 2)} | ${fmt(s.latencyMs.p99, 2)} | ${s.lost} | ` +
      `${fmt(p.broker?.hwmMiB, 0)} | ${fmt(g?.hwmMiB, 0)} | ${cpu} | ${perSale} | ${s.fiscalBatchMean ?? '–'} | ` +
      `${s.gatewayMeanMs ? `${fmt(s.gatewayMeanMs.commit)} / ${fmt(s.gatewayMeanMs.display)}` : '–'} | ${pg ? `${fmt(pg.commits, 2)} / ${fmt(pg.inserted, 2)} / ${fmt(pg.updated, 2)}` : '–'} | ${s.host?.othersPercent ?? '–'} | ${s.pass ? 'ok' : s.limitedBy} |`
  }
  const who = combined ? 'broker+gateway (one process) / – / postgres / sim' : 'broker / gateway or echo / postgres / sim'
  return [
    heading, '',
    `| step | machines | sales/s | p50 ms | p95 ms | p99 ms | lost | broker peak MiB | ${combined ? '–' : 'gateway or echo peak MiB'} | CPU % (${who}) | CPU ms per sale (same) | batch | gateway mean ms: stored → committed / → display acked | PostgreSQL per sale: commits / rows inserted / updated | others' CPU % | verdict |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...steps.flatMap((s) => (s.idle ? [row(s, true), row(s, false)] : [row(s, false)])), '',
    '| target | goal | measured | met |', '| --- | --- | --- | --- |',
    ...summary.targets.map((t) => `| ${t.name} | ${t.goal} | ${t.measured} | ${t.met === null ? 'n/a (quick)' : t.met ? 'yes' : 'no'} |`), '',
    `Ratios to the echo baseline: sustained ${fmt(summary.ratios.sustained, 2)}; ` +
      summary.ratios.latency.map((l) => `at ${l.rate}/s p50 ×${fmt(l.p50, 1)}, p99 ×${fmt(l.p99, 1)}`).join('; ') + '. ' +
      `CPU per sale, all processes: ${summary.ratios.cpu.map((c) => `at ${c.rate}/s ${fmt(c.gateway, 2)} ms vs ${fmt(c.echo, 2)} ms (×${fmt(c.ratio, 1)})`).join('; ')}. ` +
      `Floor (the broker and the gateway at the echo's cost, PostgreSQL and the simulator as measured): ${summary.ratios.cpu.map((c) => `at ${c.rate}/s ×${fmt(c.floor, 2)}`).join('; ')}.`, '',
  ].join('\n')
}
