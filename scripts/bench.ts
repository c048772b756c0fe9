// `npm run bench`: the system under load, measured against the transport's own ceiling. One run
// starts the broker (and later the gateway) as child processes on a fresh database, runs the echo
// baseline, fixed-rate, step-up and scale steps with a simulated fleet in this process, and prints
// one JSON document on stdout; progress and a Markdown table go to stderr, and both are written
// to <out>/<date>.json and .md. See scripts/bench/args.ts for the flags.
import { mkdirSync, writeFileSync } from 'node:fs'
import { cpus, loadavg } from 'node:os'
import { join, resolve } from 'node:path'
import { hashSecret, newSecret, verifySecret } from '../protocol/index.js'
import { BenchArgsError, parseBenchArgs, USAGE } from './bench/args.js'
import { createBenchDatabase, provisionBench } from './bench/database.js'
import { markdown, summarize } from './bench/report.js'
import { runPlan } from './bench/run.js'
import { startServices } from './bench/services.js'
import { runClusterStep } from './bench/cluster-step.js'
import { runFailoverStep } from './bench/failover-step.js'
import { runStormStep } from './bench/storm-step.js'

/** ms of CPU one first login costs the broker at the production scrypt cost (the bench provisions cheaper hashes). */
async function loginKdfMs(): Promise<number> {
  const secret = newSecret()
  const hash = await hashSecret(secret)
  const t0 = performance.now()
  await verifySecret(secret, hash)
  return Math.round((performance.now() - t0) * 10) / 10
}

async function main(): Promise<number> {
  let plan
  try {
    plan = parseBenchArgs(process.argv.slice(2))
  } catch (err) {
    if (!(err instanceof BenchArgsError)) throw err
    process.stderr.write(`bench: ${err.message}\n${USAGE}\n`)
    return 2
  }
  if (plan === 'help') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const log = (line: string) => process.stderr.write(`${line}\n`)
  const startedAt = new Date()
  const loadAtStart = loadavg().map((l) => Math.round(l * 100) / 100)
  const outDir = resolve(plan.outDir)
  const db = await createBenchDatabase(process.env.DATABASE_URL)
  let services
  try {
    const count = Math.max(plan.machines, plan.only.has('scale') ? plan.scaleMachines : 0, plan.only.has('failover') ? plan.failoverMachines : 0,
      plan.only.has('storm') ? plan.stormMachines : 0)
    log(`bench: ${db.kind === 'postgres' ? 'PostgreSQL (fresh database)' : 'embedded PGlite'}; provisioning ${count} machines, ${Math.ceil(count / plan.machinesPerKassa)} kassas`)
    const machines = await provisionBench(db, count, plan.machinesPerKassa)
    const kdfMs = await loginKdfMs()
    services = await startServices(db, { ingest: plan.ingest, ...(plan.profile ? { profileDir: join(outDir, 'profiles') } : {}) })
    const running = services
    const { steps, warmups } = await runPlan(plan, services, machines, log).catch((err: unknown) => {
      log(`bench: a step failed; the system's last output:\n${running.tails()}`)
      throw err
    })
    const summary = summarize(plan, steps, services.combined)
    // The cluster step starts its own processes: the single-broker services stop first.
    await services.stop()
    services = undefined
    const cluster = plan.only.has('cluster') && db.url
      ? await runClusterStep({ databaseUrl: db.url, machines: machines.slice(0, plan.machines), rate: plan.clusterRate, durationS: plan.durationS, log })
      : null
    const failover = plan.only.has('failover') && db.url
      ? await runFailoverStep({ databaseUrl: db.url, machines: machines.slice(0, plan.failoverMachines), rate: plan.failoverRate, log })
      : null
    const storm = plan.only.has('storm') && db.url
      ? await runStormStep({ databaseUrl: db.url, machines: machines.slice(0, plan.stormMachines), rate: plan.stormRate, rampPerS: plan.scaleRampPerS, windowS: plan.quick ? 15 : 40, log,
        ...(plan.profile ? { profileDir: join(outDir, 'profiles', 'storm') } : {}) })
      : null
    if ((plan.only.has('cluster') || plan.only.has('failover') || plan.only.has('storm')) && !db.url) log('bench: the cluster, failover and storm steps need PostgreSQL (DATABASE_URL); skipped')
    const report = {
      bench: 'vending-telemetry-gateway', version: 1, startedAt: startedAt.toISOString(), finishedAt: new Date().toISOString(),
      quick: plan.quick, database: db.kind, ingest: db.kind === 'postgres' ? plan.ingest : 'gateway',
      // PGlite: broker and gateway share one process, so "broker" figures include the gateway.
      combinedProcesses: db.kind === 'pglite',
      host: { cpus: cpus().length, node: process.version, loadAvgAtStart: loadAtStart, loadAvgAtEnd: loadavg().map((l) => Math.round(l * 100) / 100) },
      plan: { machines: plan.machines, machinesPerKassa: plan.machinesPerKassa, durationS: plan.durationS, warmupS: plan.warmupS, fixedRates: plan.fixedRates,
        stepRates: plan.stepRates, oneKassaMachines: plan.oneKassaMachines, oneKassaRate: plan.oneKassaRate, burstSales: plan.burstSales, scaleMachines: plan.scaleMachines, scaleRate: plan.scaleRate, clusterRate: plan.clusterRate, p99LimitMs: plan.p99LimitMs },
      loginKdfMs: kdfMs,
      summary,
      warmups,
      steps,
      cluster,
      failover,
      storm,
    }
    const json = JSON.stringify(report, null, 2)
    const table = markdown(steps, summary, `### npm run bench${plan.quick ? ' -- --quick' : ''}, ${startedAt.toISOString().slice(0, 16)} (${db.kind}, ${cpus().length} cores, load ${loadAtStart[0]})` +
      (warmups.length > 0 ? `\n\nNot measured, right after the processes started: ${warmups.map((w) => `${w.against} warm-up ${w.durationS} s at ${w.targetRate}/s (p50 ${w.latencyMs.p50} ms, p99 ${w.latencyMs.p99} ms, lost ${w.lost})`).join('; ')}.` : ''), db.kind === 'pglite') +
      (cluster ? `\n| cluster step at ${cluster.single.rate}/s | CPU ms per sale (brokers + gateways + Redis + PostgreSQL) | p50 / p99 ms | lost |\n| --- | ---: | ---: | ---: |\n${[cluster.single, cluster.cluster].map((f) => `| ${f.brokers} broker(s) × ${f.gateways} gateway(s) | ${f.cpuMsPerSale} | ${f.p50Ms} / ${f.p99Ms} | ${f.lost} |`).join('\n')}\n| ratio 3 × 3 / 1 × 1 | ${cluster.ratio} | | |\n` : '')
    mkdirSync(outDir, { recursive: true })
    const stamp = `${startedAt.toISOString().slice(0, 19).replace(/:/g, '-')}${plan.quick ? '-quick' : ''}`
    writeFileSync(join(outDir, `${stamp}.json`), `${json}\n`)
    writeFileSync(join(outDir, `${stamp}.md`), table)
    process.stderr.write(`\n${table}\nwritten to ${join(outDir, `${stamp}.json`)} and .md\n`)
    process.stdout.write(`${json}\n`)
    return 0
  } finally {
    await services?.stop()
    await db.drop()
  }
}

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`bench: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
