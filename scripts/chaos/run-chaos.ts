import { startFleet } from '../../device-sim/fleet.js'
import { seededRandom } from '../../device-sim/random.js'
import { freePort } from '../lib/database-admin.js'
import { startPrivateRedis, type PrivateRedis } from '../lib/redis-server.js'
import { createChaosDatabase, DEFAULT_SERVER_URL, provisionChaosFleet } from './chaos-database.js'
import { ChaosCluster } from './cluster.js'
import { chaosSchedule, type ChaosEvent } from './schedule.js'
import { createTcpProxy, type TcpProxy } from './tcp-proxy.js'
import { chaosVerdict, inspectDatabase, type ChaosVerdict, type SeenReceipt } from './verdict.js'

export interface ChaosOptions {
  durationS: number
  /** Sales per second across the fleet. */
  rate: number
  machines: number
  kills: number
  brokerRestarts: number
  dbCuts: number
  /** ms each database cut lasts. */
  dbCutMs: number
  gateways: number
  /** Broker processes; more than one share a private redis-server the run starts (default 1). */
  brokers?: number
  /** Stops of that Redis, each `redisStopMs` long (default none, 5000 ms). */
  redisStops?: number
  redisStopMs?: number
  /** ms a killed broker stays down before it starts again (default 0; its machines move to the others meanwhile). */
  brokerDownMs?: number
  /** s to wait after the sales phase for every sale to be answered. */
  drainS: number
  /** ms, the longest wait between two copies of an unanswered sale on a machine. */
  retryMaxMs: number
  seed: number
  serverUrl?: string
  /** Keep the database (its name is in the result) instead of dropping it. */
  keep?: boolean
  /** Directory for the processes' full logs. */
  logDir?: string
  /** The broker's entry point, default scripts/broker.ts. */
  brokerScript?: string
  log?: (line: string) => void
}

export interface ChaosResult extends ChaosVerdict {
  database: string
  durationS: number
  rate: number
  machines: number
  seed: number
  drainS: number
  stops: { gateway: string; exit: unknown; ms: number }[]
  unexpectedExits: unknown[]
  brokerCrashes: number
}

/** One chaos run: fresh database, real processes, faults on schedule, a verdict at the end. */
export async function runChaos(o: ChaosOptions): Promise<ChaosResult> {
  const log = o.log ?? (() => undefined)
  const serverUrl = o.serverUrl ?? DEFAULT_SERVER_URL
  const database = await createChaosDatabase(serverUrl)
  let proxy: TcpProxy | null = null
  let cluster: ChaosCluster | null = null
  let redis: PrivateRedis | null = null
  const brokers = o.brokers ?? 1
  try {
    if (brokers > 1) redis = await startPrivateRedis()
    const credentials = await provisionChaosFleet(database.handle, o.machines)
    const server = new URL(serverUrl)
    proxy = await createTcpProxy({ host: server.hostname, port: Number(server.port || 5432) })
    const viaProxy = new URL(database.url)
    viaProxy.hostname = '127.0.0.1'
    viaProxy.port = String(proxy.port)
    const httpPorts = await Promise.all(Array.from({ length: o.gateways }, () => freePort()))
    cluster = new ChaosCluster({
      // The brokers store sales too: they reach the database through the proxy, as the gateways do.
      brokerDatabaseUrl: viaProxy.toString(), gatewayDatabaseUrl: viaProxy.toString(),
      mqttPorts: await Promise.all(Array.from({ length: brokers }, () => freePort())), httpPorts,
      ...(redis ? { redisUrl: redis.url } : {}),
      // The per-machine rate limit is not under test here: a machine replaying its backlog after an
      // outage must not be slowed into the drain deadline.
      brokerEnv: { BROKER_RATE_PER_S: '1000', BROKER_RATE_BURST: '5000' },
      ...(o.logDir ? { logDir: o.logDir } : {}), ...(o.brokerScript ? { brokerScript: o.brokerScript } : {}), log,
    })
    for (let i = 0; i < brokers; i++) await cluster.startBroker(i)
    for (let i = 0; i < o.gateways; i++) cluster.startGateway(i)
    await cluster.waitAllReady(60_000)
    log(`database ${database.name}, broker ${cluster.mqttUrl}, ${o.gateways} gateways ready; selling`)

    const random = seededRandom(o.seed)
    const events = chaosSchedule({
      durationS: o.durationS, kills: o.kills, gateways: o.gateways, brokerRestarts: o.brokerRestarts, dbCuts: o.dbCuts, dbCutMs: o.dbCutMs,
      brokers, redisStops: o.redisStops ?? 0, redisStopMs: o.redisStopMs ?? 5000, random,
    })
    const seen: SeenReceipt[] = []
    const fleet = startFleet({
      url: cluster.mqttUrl, machines: credentials, rate: o.rate, durationS: o.durationS, drainTimeoutS: o.drainS,
      seed: o.seed, telemetryIntervalS: 30, retry: { initialMs: 2000, maxMs: o.retryMaxMs },
      onReceipt: (machineId, d) => seen.push({ machineId, saleId: d.saleId, fn: d.fiscal.fn, fd: d.fiscal.fd, fp: d.fiscal.fp }),
      onProgress: (s) => log(`[${s.elapsedS}s ${s.phase}] sent ${s.sent} receipted ${s.receipted} in flight ${s.inFlight} republished ${s.republished} online ${s.online}/${s.machines}`),
    })
    const counts = { gatewayKills: 0, brokerRestarts: 0, dbCuts: 0, redisStops: 0, notReadyDuringCut: null as boolean | null, maxGatewayRssMb: 0, gatewayCrashes: 0 }
    const rssTimer = setInterval(() => {
      const mb = Math.max(...cluster!.rssBytes()) / 2 ** 20
      counts.maxGatewayRssMb = Math.max(counts.maxGatewayRssMb, Math.round(mb))
    }, 1000)
    const cutWindows: { from: number; to: number }[] = []
    const t0 = Date.now()
    const act = async (e: ChaosEvent): Promise<void> => {
      await new Promise((r) => setTimeout(r, Math.max(0, t0 + e.atMs - Date.now())))
      if (e.kind === 'kill-gateway') {
        log(`SIGKILL ${cluster!.gatewayId(e.gateway)}`)
        counts.gatewayKills++
        await cluster!.killGateway(e.gateway)
      } else if (e.kind === 'restart-broker') {
        log(`SIGKILL ${cluster!.brokerId(e.broker)}, starting it again on the same port`)
        counts.brokerRestarts++
        await cluster!.restartBroker(e.broker, o.brokerDownMs ?? 0)
      } else if (e.kind === 'stop-redis') {
        log(`Redis stopped for ${e.forMs} ms`)
        counts.redisStops++
        await redis!.stop()
        await new Promise((r) => setTimeout(r, e.forMs))
        await redis!.start()
        log('Redis back')
      } else {
        log(`database cut (${e.mode}) for ${e.forMs} ms`)
        counts.dbCuts++
        const window = { from: Date.now(), to: Date.now() + e.forMs }
        cutWindows.push(window)
        proxy!.cut(e.mode)
        counts.notReadyDuringCut ??= false
        // Readiness must drop while the database is away (the gateways notice on their next write).
        while (Date.now() < window.to) {
          const states = await Promise.all(cluster!.gateways.map((_, i) => cluster!.ready(i)))
          if (states.includes(false)) counts.notReadyDuringCut = true
          await new Promise((r) => setTimeout(r, 250))
        }
        proxy!.heal()
        window.to = Date.now()
        log('database back')
      }
    }
    // Events run one after another in time order; one that overruns (a slow broker start) delays the next.
    const schedule = events.reduce<Promise<void>>((p, e) => p.then(() => act(e)), Promise.resolve())
    const report = await fleet.done
    await schedule
    clearInterval(rssTimer)
    log(`fleet done: ${JSON.stringify({ sent: report.sent, receipted: report.receipted, unanswered: report.unanswered, duplicates: report.duplicates })}`)

    const stops = await cluster.stop()
    // A gateway that could not start while the database was cut exits and is restarted, as an
    // orchestrator would; any other exit the harness did not cause is a crash.
    const inCut = (at: number) => cutWindows.some((w) => at >= w.from && at <= w.to + 10_000)
    counts.gatewayCrashes = cluster.unexpectedExits.filter((x) => x.afterStart || !inCut(x.at)).length
    const findings = await inspectDatabase(database.handle.db, seen)
    const verdict = chaosVerdict(report, findings, counts)
    if (cluster.brokerCrashes.length > 0) verdict.problems.push(`a broker crashed ${cluster.brokerCrashes.length} time(s): ${cluster.brokerCrashes[0]!.tail.split('\n').find((l) => /Error/.test(l)) ?? 'see its log'}`)
    const badStops = stops.filter((s) => s.exit === 'timeout' || (s.exit as { code: number | null }).code !== 0)
    if (badStops.length > 0) verdict.problems.push(`SIGTERM did not end ${badStops.map((s) => `${s.gateway} (${s.exit === 'timeout' ? 'still running' : JSON.stringify(s.exit)} after ${s.ms} ms)`).join(', ')} with exit 0`)
    verdict.ok = verdict.problems.length === 0
    // The gateways at fault first and short, so that a test's cut of stderr still shows them.
    const atFault = new Set(badStops.map((s) => s.gateway))
    if (!verdict.ok) {
      for (const g of cluster.gateways) if (g && !atFault.has(g.name)) log(`--- ${g.name} (last lines)\n${g.tail(30)}`)
      for (const g of cluster.gateways) if (g && atFault.has(g.name)) log(`--- ${g.name}, stopped badly (last lines)\n${g.tail(10).split('\n').map((l) => l.slice(0, 300)).join('\n')}`)
    }
    return {
      ...verdict, database: database.name, durationS: o.durationS, rate: o.rate, machines: o.machines, seed: o.seed, drainS: o.drainS,
      stops, unexpectedExits: cluster.unexpectedExits, brokerCrashes: cluster.brokerCrashes.length,
    }
  } finally {
    cluster?.killAll()
    await redis?.stop()
    await proxy?.close()
    if (o.keep) await database.handle.close()
    else await database.drop()
  }
}
