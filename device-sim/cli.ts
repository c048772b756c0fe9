import { parseSimArgs, USAGE, type SimArgs } from './args.js'
import { loadCatalogue, type Catalogue } from './catalogue.js'
import { loadSimEnv } from './config.js'
import { numberedMachines, readCredentials } from './credentials.js'
import { describeBroker, explainNoConnection, explainSilence, type BrokerChoice } from './diagnosis.js'
import { startFleet, type FleetMachine, type FleetReport, type FleetSnapshot } from './fleet.js'

// `npm run sim`: a fleet against any broker. Progress goes to stderr about once a second, the
// final report to stdout as one JSON object. Exit 0: every sale answered once; 1: sales lost,
// duplicate or conflicting receipts, or no connection; 2: bad arguments.

/** Finds a running `npm start` by its data directory (scripts/sim.ts passes the rendezvous in). */
export type FindRunningDemo = (dataDir: string) => Promise<{ mqttUrl: string } | null>

/** s without any answer after which the simulator says what it sees, while it keeps running. */
const SILENCE_WARNING_S = 15

export async function runSimCli(argv: readonly string[], findRunningDemo: FindRunningDemo = async () => null): Promise<number> {
  let env
  try {
    env = loadSimEnv()
  } catch (err) {
    return usageError([(err as Error).message])
  }
  const parsed = parseSimArgs(argv, env)
  if (!parsed.ok) return usageError(parsed.problems)
  const args = parsed.args
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const demo = args.urlSource === 'default' ? await findRunningDemo(env.dataDir) : null
  const broker: BrokerChoice = { url: demo?.mqttUrl ?? args.url, source: demo ? 'demo' : args.urlSource, dataDir: env.dataDir }
  process.stderr.write(`device-sim: ${describeBroker(broker)}\n`)
  const withCredentials = args.credentials !== undefined
  let warned = false
  let machines: FleetMachine[]
  let catalogue: Catalogue | undefined
  try {
    machines = await chooseMachines(args)
    catalogue = args.catalogue === undefined ? undefined : await loadCatalogue(args.catalogue)
  } catch (err) {
    return usageError([(err as Error).message])
  }

  const fleet = startFleet({
    url: broker.url,
    prefix: args.prefix,
    machines,
    rate: args.rate,
    durationS: args.durationS,
    rampUpPerSecond: args.rampUpPerSecond,
    drainTimeoutS: args.drainTimeoutS,
    retry: { initialMs: args.retryInitialMs, maxMs: args.retryMaxMs },
    telemetryIntervalS: args.telemetryIntervalS,
    ...(args.auditIntervalS !== undefined && { audits: { intervalS: args.auditIntervalS } }),
    ...(args.offlineVends > 0 && { offline: { machines: args.offlineMachines ?? machines.slice(0, 3).map((m) => m.id), vends: args.offlineVends } }),
    ...(catalogue && { catalogue }),
    ...(args.seed !== undefined && { seed: args.seed }),
    ...(args.stateFile !== undefined && { stateFile: args.stateFile }),
    onProgress: (s) => {
      process.stderr.write(args.json ? `${JSON.stringify(s)}\n` : progressLine(s))
      const silent = explainSilence(broker, { connected: s.online, sent: s.sent, receipted: s.receipted, rejected: s.rejected }, SILENCE_WARNING_S, withCredentials)
      if (!warned && s.phase === 'selling' && s.elapsedS >= SILENCE_WARNING_S && silent) {
        warned = true
        process.stderr.write(`\ndevice-sim: ${silent} (still waiting)\n`)
      }
    },
    signal: onSecondInterrupt(() => void fleet.stop()),
  })
  // An audit on demand: `kill -USR2 <pid>` has every machine upload one now.
  if (args.auditIntervalS !== undefined) process.on('SIGUSR2', () => process.stderr.write(`\naudits uploaded: ${fleet.uploadAudits()}\n`))
  let report: FleetReport
  try {
    report = await fleet.done
  } catch (err) {
    const reasons = (err as { reasons?: string[] }).reasons
    process.stderr.write(`\ndevice-sim: ${reasons ? explainNoConnection(broker, reasons, withCredentials) : (err as Error).message}\n`)
    return 1
  }
  if (!args.json) process.stderr.write(`\n${summary(report)}\n`)
  const silence = explainSilence(broker, report, Math.round(report.durationS + args.drainTimeoutS), withCredentials)
  if (silence) process.stderr.write(`device-sim: ${silence}\n`)
  process.stdout.write(`${JSON.stringify(report)}\n`)
  return report.unanswered + report.duplicates + report.conflicts > 0 ? 1 : 0
}

async function chooseMachines(args: SimArgs): Promise<FleetMachine[]> {
  if (args.credentials === undefined) return numberedMachines(args.idPrefix, args.machines ?? 10)
  const all = await readCredentials(args.credentials).catch((err: Error) => {
    throw new Error(`--credentials: ${err.message}`)
  })
  if (args.machines !== undefined && args.machines > all.length) {
    throw new Error(`--machines: ${args.machines} asked, but --credentials has only ${all.length}`)
  }
  return all.slice(0, args.machines ?? all.length)
}

/** First Ctrl-C (or SIGTERM): end the sales and drain. Second: abort at once. */
function onSecondInterrupt(first: () => void): AbortSignal {
  const controller = new AbortController()
  let count = 0
  const handler = () => {
    count += 1
    if (count === 1) {
      process.stderr.write('\nstopping: waiting for outstanding answers (Ctrl-C again to quit now)\n')
      first()
    } else controller.abort()
  }
  process.on('SIGINT', handler)
  process.on('SIGTERM', handler)
  return controller.signal
}

function progressLine(s: FleetSnapshot): string {
  const line =
    `[${s.elapsedS.toFixed(0)}s ${s.phase}] ${s.online}/${s.machines} online · ${s.ratePerSecond} sales/s · ` +
    `sent ${s.sent} · receipted ${s.receipted} · in flight ${s.inFlight} · p99 ${s.p99Ms} ms` +
    (s.duplicates ? ` · DUPLICATES ${s.duplicates}` : '')
  // On a terminal the line rewrites itself; in a log file each reading is a line.
  return process.stderr.isTTY ? `\r${line}\x1b[K` : `${line}\n`
}

function summary(r: FleetReport): string {
  const l = r.latencyMs
  return (
    `${r.connected}/${r.machines} machines, ${r.durationS} s at ${r.ratePerSecond} sales/s: sent ${r.sent}, ` +
    `receipted ${r.receipted}, rejected ${r.rejected}, lost ${r.unanswered}, duplicates ${r.duplicates}, ` +
    `republished ${r.republished}` + (r.offline.vends ? `, offline vends ${r.offline.vends}` : '') +
    (r.audits.uploaded ? `, audits ${r.audits.stored}/${r.audits.uploaded} stored` : '') + `; latency p50 ${l.p50} ms, p95 ${l.p95} ms, p99 ${l.p99} ms, max ${l.max} ms`
  )
}

function usageError(problems: string[]): number {
  process.stderr.write(`device-sim: ${problems.join('\n  ')}\n(see --help)\n`)
  return 2
}

