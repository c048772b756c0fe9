import { runFleet, type FleetMachine, type FleetReport, type FleetSnapshot } from '../../device-sim/index.js'
import { gatewayCounters, gatewayFigures } from './gateway-counters.js'
import { hostFigures, sample, windowFigures, type Processes, type Sample } from './samples.js'
import { tailFigures, type TailFigures } from './tail.js'
import type { BenchServices, DatabaseCounters } from './services.js'

// One measured step: a fleet selling at a fixed open-loop rate against whatever answers (the echo
// responder or the gateway), with each process's CPU and memory over the selling phase, and over
// an idle phase first when `idleS` is given (the fleet connected and quiet).

export interface StepResult {
  name: string
  against: 'echo' | 'gateway'
  targetRate: number
  machines: number
  connected: number
  /** s from the first connection to the start of sales (ramp-up included), to 0.5 s. */
  connectS: number | null
  durationS: number
  sent: number
  receipted: number
  rejected: number
  /** Unanswered after the drain. */
  lost: number
  duplicates: number
  conflicts: number
  republished: number
  achievedRate: number
  latencyMs: FleetReport['latencyMs']
  /** p99 of how late sales left against their schedule: large means the simulator was the limit. */
  scheduleLagP99Ms: number
  processes: Processes
  /** The whole machine over the selling phase, % of one core: busy, and busy with work not the bench's. */
  host?: { busyPercent: number; othersPercent: number }
  /** The fleet connected and quiet (status and telemetry only) before its sales, when asked for. */
  idle?: { durationS: number; processes: Processes }
  /** Mean sales per fiscalization batch during the step (gateway only). */
  fiscalBatchMean?: number
  /** Of the batches that took sales, the share signed from the sales the broker's kick carried, without a claim. */
  kickedBatchShare?: number
  /** The gateway's own view, ms on average: sale stored → receipt committed, → display acknowledged by the broker. */
  gatewayMeanMs?: { commit: number; display: number }
  /**
   * Displays the gateway's sweeper published again during the step (gateway only): receipts
   * whose acknowledgement was not recorded within 5 s. Each reached its machine twice.
   */
  displaysResent?: number
  /** A burst (every sale sent at once): receipts per second from the first sale made to the last receipt. */
  burst?: { sales: number; receiptsPerS: number; lastReceiptMs: number }
  /** Where the slowest 1% of the step's sales fell in time (tail.ts); not for a burst, sent at once. */
  tail?: TailFigures
  /**
   * PostgreSQL's own counters for the bench's database (pg_stat_database, pg_stat_user_tables)
   * over the step, per sale sent: transactions committed, rows inserted / updated. Backends report
   * them when idle (within 1 s), so a step's figures may miss its last second.
   */
  postgresPerSale?: { commits: number; inserted: number; updated: number; byTable: Record<string, { ins: number; upd: number }> }
  connectionErrors: Record<string, number>
}

export interface StepOptions {
  name: string
  against: 'echo' | 'gateway'
  machines: readonly FleetMachine[]
  rate: number
  durationS: number
  /** s connected and quiet before the first sale; default 0. */
  idleS?: number
  rampPerS: number
  drainS: number
  /** ms a machine waits for CONNACK before it retries (device-sim's default is 10 s). */
  connectTimeoutMs?: number
  /** `rate` sales made at once (within 1 ms) instead of `rate` a second for `durationS`. */
  burst?: boolean
}

export async function runStep(services: BenchServices, o: StepOptions, log: (line: string) => void): Promise<StepResult> {
  const idleMs = (o.idleS ?? 0) * 1000
  const before = o.against === 'gateway' ? await gatewayCounters(services) : null
  const dbBefore = o.against === 'gateway' ? await services.databaseCounters() : null
  // A burst: the first sale made and the last receipt, ms (performance.now) on the simulator's clock.
  let firstMadeAt = Infinity
  let lastReceiptAt = 0
  // Each receipted sale's send time and latency (two numbers a sale), for where its slowest fell.
  const sentAt: number[] = []
  const latencies: number[] = []
  const onReceipt = (_machineId: string, _display: unknown, latencyMs: number) => {
    const t = performance.now()
    firstMadeAt = Math.min(firstMadeAt, t - latencyMs)
    lastReceiptAt = Math.max(lastReceiptAt, t)
    if (o.burst) return // sent at once: no tail figures
    sentAt.push(t - latencyMs)
    latencies.push(latencyMs)
  }
  let connectS: number | null = null
  let connectedAt = 0
  const idle: Sample[] = []
  const selling: Sample[] = []
  const progress = (s: FleetSnapshot) => {
    if (s.phase === 'selling') {
      if (connectS === null) {
        connectS = s.elapsedS
        connectedAt = performance.now()
      }
      // First and latest reading of each window is all that is kept.
      const window = performance.now() - connectedAt < idleMs ? idle : selling
      const reading = sample(services)
      if (window.length < 2) window.push(reading)
      else window[1] = reading
    }
    log(`${o.name.padEnd(22)} ${s.phase.padEnd(10)} ${String(s.elapsedS).padStart(5)}s online ${s.online}/${s.machines} ` +
      `sent ${s.sent} receipted ${s.receipted} in-flight ${s.inFlight} ${s.ratePerSecond}/s p99 ${s.p99Ms.toFixed(1)} ms`)
  }
  const beforeRun = o.burst ? sample(services) : null
  const report = await runFleet({
    url: services.mqttUrl, machines: o.machines, idleS: o.idleS ?? 0,
    // A burst: every sale scheduled within the first ms, so the simulator sends them as fast as it can.
    ...(o.burst ? { rate: o.rate * 1000, durationS: 0.001 } : { rate: o.rate, durationS: o.durationS }), onReceipt,
    rampUpPerSecond: o.rampPerS, drainTimeoutS: o.drainS, progressIntervalMs: 500, onProgress: progress, seed: 1,
    ...(o.connectTimeoutMs !== undefined ? { connectTimeoutMs: o.connectTimeoutMs } : {}),
  })
  const end = sample(services)
  const after = before ? await gatewayCounters(services) : null
  const dbAfter = dbBefore ? await services.databaseCounters() : null
  const tail = tailFigures(sentAt, latencies)
  const burst = o.burst && lastReceiptAt > firstMadeAt
    ? { sales: report.sent, receiptsPerS: Math.round(report.receipted / ((lastReceiptAt - firstMadeAt) / 1000)), lastReceiptMs: Math.round(lastReceiptAt - firstMadeAt) }
    : undefined
  const [i0, i1] = idle
  // A burst's selling phase lasts a millisecond: its window is the whole run (20 logins are
  // negligible beside its sales), from before the fleet connects to the end of the drain.
  const [s0, s1] = o.burst && beforeRun ? [beforeRun, end] : selling
  const processes = s0 && s1 ? await windowFigures(s0, s1, end, report.sent, services.combined) : {}
  const host = s0 && s1 ? hostFigures(s0, s1, processes) : undefined
  return {
    name: o.name, against: o.against, targetRate: o.rate, machines: report.machines, connected: report.connected,
    connectS, durationS: report.durationS, sent: report.sent, receipted: report.receipted, rejected: report.rejected,
    lost: report.unanswered, duplicates: report.duplicates, conflicts: report.conflicts, republished: report.republished,
    achievedRate: report.ratePerSecond, latencyMs: report.latencyMs, scheduleLagP99Ms: report.scheduleLagMs.p99,
    processes, ...(host ? { host } : {}),
    ...(i0 && i1 ? { idle: { durationS: Math.round(i1.at - i0.at) / 1000, processes: await windowFigures(i0, i1, i1, 0, services.combined) } } : {}),
    ...(before && after ? gatewayFigures(before, after) : {}),
    ...(burst ? { burst } : {}),
    ...(tail ? { tail } : {}),
    ...(dbBefore && dbAfter && report.sent > 0 ? { postgresPerSale: perSale(dbBefore, dbAfter, report.sent) } : {}),
    connectionErrors: report.connectionErrors,
  }
}

function perSale(a: DatabaseCounters, b: DatabaseCounters, sent: number): NonNullable<StepResult['postgresPerSale']> {
  const r = (n: number) => Math.round((n / sent) * 100) / 100
  const byTable: Record<string, { ins: number; upd: number }> = {}
  for (const [table, t] of Object.entries(b.tables)) {
    const ins = t.ins - (a.tables[table]?.ins ?? 0)
    const upd = t.upd - (a.tables[table]?.upd ?? 0)
    if (ins > 0 || upd > 0) byTable[table] = { ins: r(ins), upd: r(upd) }
  }
  return { commits: r(b.commits - a.commits), inserted: r(b.inserted - a.inserted), updated: r(b.updated - a.updated), byTable }
}
