import type { BenchPlan } from './args.js'
import { stepUpResult, type JudgedStep, type StepUp } from './run.js'

// The run's one JSON document, its ratios to the echo baseline, the issue's targets, and a
// Markdown table the README's performance section can quote.

export interface Target { name: string; goal: string; measured: string; met: boolean | null }

/**
 * ms of CPU per sale summed over every process of the path (broker, responder, database,
 * simulator): a machine shared with other work stretches latency, much less the CPU each sale
 * costs, so this is the steadier comparison with the baseline.
 */
export interface CpuPerSale { rate: number; echo: number | null; gateway: number | null; ratio: number | null }

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
  targets: Target[]
}

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
  const cpuSum = (s?: JudgedStep) => {
    const parts = s ? Object.values(s.processes).map((f) => f?.cpuMsPerSale) : []
    return parts.length > 0 && parts.every((v) => v !== undefined) ? Math.round(parts.reduce((n, v) => n + v!, 0) * 100) / 100 : null
  }
  const cpu = plan.fixedRates.map((rate) => {
    const echo = cpuSum(find(steps, 'baseline-fixed', rate))
    const gw = cpuSum(find(steps, 'fixed', rate))
    return { rate, echo, gateway: gw, ratio: ratio(gw ?? undefined, echo ?? undefined) }
  })
  const scaled = find(steps, 'scale')
  const peak = (name: 'broker' | 'gateway') => Math.max(scaled?.idle?.processes[name]?.hwmMiB ?? 0, scaled?.processes[name]?.hwmMiB ?? 0) || null
  const scale = scaled ? {
    machines: scaled.machines, connected: scaled.connected, connectS: scaled.connectS,
    brokerIdleRssMiB: scaled.idle?.processes.broker?.rssMiB ?? null, brokerSellingRssMiB: scaled.processes.broker?.rssMiB ?? null,
    brokerHwmMiB: peak('broker'), gatewayHwmMiB: combined ? null : peak('gateway'),
  } : null

  const targets: Target[] = []
  if (gateway) targets.push({ name: 'sustained rate, 0 lost, p99 < 100 ms', goal: '≥ 5,000 sales/s', measured: `${gateway.sustainedRate} sales/s (next step: ${gateway.limitedBy})`, met: plan.quick ? null : gateway.sustainedRate >= 5000 })
  const sustained = ratio(gateway?.sustainedRate, baseline?.sustainedRate)
  if (sustained !== null) targets.push({ name: 'sustained ÷ echo baseline', goal: '≥ 0.5', measured: String(sustained), met: plan.quick ? null : sustained >= 0.5 })
  const at1000 = find(steps, 'fixed', 1000)
  if (at1000) targets.push({ name: `p99 sale → QR at 1,000 sales/s, ${at1000.machines} machines`, goal: '≤ 20 ms', measured: `${at1000.latencyMs.p99} ms`, met: at1000.latencyMs.p99 <= 20 && at1000.lost === 0 })
  if (scale) {
    const rss = scale.brokerHwmMiB
    targets.push({ name: `${scale.machines} machines on one broker, broker peak RSS`, goal: combined ? '≤ 1 GiB (broker + gateway, one process on PGlite)' : '≤ 1 GiB', measured: `${scale.connected}/${scale.machines} connected, ${rss ?? '?'} MiB`, met: plan.quick ? null : scale.connected === scale.machines && rss !== null && rss <= 1024 })
  }
  return { baseline, gateway, ratios: { sustained, latency, cpu }, scale, targets }
}

const fmt = (n: number | undefined | null, digits = 1) => (n === undefined || n === null ? '–' : n.toFixed(digits))

export function markdown(steps: readonly JudgedStep[], summary: BenchSummary, heading: string, combined: boolean): string {
  const row = (s: JudgedStep, idle: boolean) => {
    const p = idle ? s.idle!.processes : s.processes
    const g = combined ? undefined : p.gateway ?? p.echo
    const cpu = [p.broker, g, p.postgres, p.simulator].map((f) => f?.cpuPercent ?? '–').join(' / ')
    const perSale = [p.broker, g, p.postgres, p.simulator].map((f) => fmt(f?.cpuMsPerSale, 2)).join(' / ')
    if (idle) return `| ${s.name}, idle first | ${s.connected}/${s.machines} | 0 | – | – | – | – | ${fmt(p.broker?.hwmMiB, 0)} | ${fmt(g?.hwmMiB, 0)} | ${cpu} | – | – | – | – | – |`
    return `| ${s.name} | ${s.machines} | ${s.achievedRate} | ${fmt(s.latencyMs.p50, 2)} | ${fmt(s.latencyMs.p95, 2)} | ${fmt(s.latencyMs.p99, 2)} | ${s.lost} | ` +
      `${fmt(p.broker?.hwmMiB, 0)} | ${fmt(g?.hwmMiB, 0)} | ${cpu} | ${perSale} | ${s.fiscalBatchMean ?? '–'} | ` +
      `${s.gatewayMeanMs ? `${fmt(s.gatewayMeanMs.commit)} / ${fmt(s.gatewayMeanMs.display)}` : '–'} | ${s.host?.othersPercent ?? '–'} | ${s.pass ? 'ok' : s.limitedBy} |`
  }
  const who = combined ? 'broker+gateway (one process) / – / postgres / sim' : 'broker / gateway or echo / postgres / sim'
  return [
    heading, '',
    `| step | machines | sales/s | p50 ms | p95 ms | p99 ms | lost | broker peak MiB | ${combined ? '–' : 'gateway or echo peak MiB'} | CPU % (${who}) | CPU ms per sale (same) | batch | gateway mean ms: stored → committed / → display acked | others' CPU % | verdict |`,
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...steps.flatMap((s) => (s.idle ? [row(s, true), row(s, false)] : [row(s, false)])), '',
    '| target | goal | measured | met |', '| --- | --- | --- | --- |',
    ...summary.targets.map((t) => `| ${t.name} | ${t.goal} | ${t.measured} | ${t.met === null ? 'n/a (quick)' : t.met ? 'yes' : 'no'} |`), '',
    `Ratios to the echo baseline: sustained ${fmt(summary.ratios.sustained, 2)}; ` +
      summary.ratios.latency.map((l) => `at ${l.rate}/s p50 ×${fmt(l.p50, 1)}, p99 ×${fmt(l.p99, 1)}`).join('; ') + '. ' +
      `CPU per sale, all processes: ${summary.ratios.cpu.map((c) => `at ${c.rate}/s ${fmt(c.gateway, 2)} ms vs ${fmt(c.echo, 2)} ms (×${fmt(c.ratio, 1)})`).join('; ')}.`, '',
  ].join('\n')
}
