import pg from 'pg'
import { startFleet, type FleetMachine } from '../../device-sim/index.js'
import { ChaosCluster } from '../chaos/cluster.js'
import { freePort } from '../lib/database-admin.js'
import { startPrivateRedis, type PrivateRedis } from '../lib/redis-server.js'
import { readProcStats } from './child.js'

// The cost of the cluster: the same fleet at the same rate through 1 broker × 1 gateway and through
// 3 brokers × 3 gateways on a private Redis, both storing sales in the brokers (the default). The
// figure is CPU ms per receipted sale of the whole system, brokers + gateways + Redis + the
// PostgreSQL backends serving the bench's database, over the selling window only (logins excluded).

export interface Topology { brokers: number; gateways: number }

export interface ClusterFigures extends Topology {
  rate: number
  sent: number
  receipted: number
  lost: number
  /** s of CPU in the selling window, by part. */
  cpuS: { brokers: number; gateways: number; redis: number; postgres: number }
  cpuMsPerSale: number
  /**
   * PostgreSQL transactions (committed and rolled back, every process) per receipted sale: the
   * work the CPU figure pays for, counted, so that it can be compared on a machine whose CPU
   * time is shared with other work.
   */
  pgTransactionsPerSale: number
  p50Ms: number
  p99Ms: number
}

export interface ClusterStep { single: ClusterFigures; cluster: ClusterFigures; ratio: number }

export interface ClusterStepOptions {
  databaseUrl: string
  machines: readonly FleetMachine[]
  rate: number
  durationS: number
  log: (line: string) => void
}

const CHILD_ENV = { BROKER_RATE_PER_S: '1000', BROKER_RATE_BURST: '2000' }

async function measure(t: Topology, o: ClusterStepOptions): Promise<ClusterFigures> {
  let redis: PrivateRedis | null = null
  let cluster: ChaosCluster | null = null
  const observer = new pg.Client({ connectionString: o.databaseUrl })
  await observer.connect()
  try {
    if (t.brokers > 1) redis = await startPrivateRedis()
    cluster = new ChaosCluster({
      brokerDatabaseUrl: o.databaseUrl, gatewayDatabaseUrl: o.databaseUrl,
      mqttPorts: await Promise.all(Array.from({ length: t.brokers }, () => freePort())),
      httpPorts: await Promise.all(Array.from({ length: t.gateways }, () => freePort())),
      ...(redis ? { redisUrl: redis.url } : {}), brokerEnv: CHILD_ENV,
    })
    for (let i = 0; i < t.brokers; i++) await cluster.startBroker(i)
    for (let i = 0; i < t.gateways; i++) cluster.startGateway(i)
    await cluster.waitAllReady(120_000)

    const c = cluster
    const postgresPids = async () => (await observer.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()')).rows.map((r) => r.pid)
    const cpu = async () => {
      const of = (pids: (number | null | undefined)[]) => pids.reduce<number>((s, pid) => s + (pid ? readProcStats(pid)?.cpuS ?? 0 : 0), 0)
      return {
        brokers: of(c.brokers.map((b) => b?.pid)), gateways: of(c.gateways.map((g) => g?.pid)),
        redis: of([redis?.pid()]), postgres: of(await postgresPids()),
      }
    }
    const transactions = async () => Number((await observer.query<{ n: string }>(
      'select xact_commit + xact_rollback as n from pg_stat_database where datname = current_database()')).rows[0]?.n ?? 0)
    let start: { at: Awaited<ReturnType<typeof cpu>>; receipted: number; transactions: number } | null = null
    let starting: Promise<void> | null = null
    const fleet = startFleet({
      url: cluster.mqttUrl, machines: o.machines, rate: o.rate, durationS: o.durationS, idleS: 2, drainTimeoutS: 30, telemetryIntervalS: 0,
      onProgress: (s) => {
        if (s.phase === 'selling' && !starting) {
          starting = Promise.all([cpu(), transactions()]).then(([at, n]) => { start = { at, receipted: s.receipted, transactions: n } })
        }
      },
    })
    const report = await fleet.done
    await starting
    const end = await cpu()
    const from = start ?? { at: { brokers: 0, gateways: 0, redis: 0, postgres: 0 }, receipted: 0, transactions: 0 }
    const cpuS = {
      brokers: end.brokers - from.at.brokers, gateways: end.gateways - from.at.gateways,
      redis: end.redis - from.at.redis, postgres: Math.max(0, end.postgres - from.at.postgres),
    }
    // A backend reports its counters at most once a second, or 10 s after it went idle, and when it
    // exits: read once every process has stopped (the seconds of stopping add a few idle polls).
    await cluster.stop()
    await new Promise((r) => setTimeout(r, 500))
    const endTransactions = await transactions()
    const sales = Math.max(1, report.receipted - from.receipted)
    const total = cpuS.brokers + cpuS.gateways + cpuS.redis + cpuS.postgres
    const figures: ClusterFigures = {
      ...t, rate: o.rate, sent: report.sent, receipted: report.receipted, lost: report.unanswered,
      cpuS: Object.fromEntries(Object.entries(cpuS).map(([k, v]) => [k, Math.round(v * 100) / 100])) as ClusterFigures['cpuS'],
      cpuMsPerSale: Math.round((total * 1000 / sales) * 1000) / 1000,
      pgTransactionsPerSale: Math.round(((endTransactions - from.transactions) / sales) * 100) / 100,
      p50Ms: report.latencyMs.p50, p99Ms: report.latencyMs.p99,
    }
    o.log(`cluster ${t.brokers}×${t.gateways} at ${o.rate}/s: ${figures.cpuMsPerSale} ms CPU per sale ${JSON.stringify(figures.cpuS)}, ${figures.pgTransactionsPerSale} PostgreSQL transactions per sale, p50 ${figures.p50Ms} p99 ${figures.p99Ms} ms, lost ${figures.lost}`)
    return figures
  } finally {
    cluster?.killAll()
    await redis?.stop()
    await observer.end()
  }
}

/** 1 × 1, then 3 × 3, at the same rate; ratio = 3 × 3 CPU per sale over 1 × 1. */
export async function runClusterStep(o: ClusterStepOptions): Promise<ClusterStep> {
  const single = await measure({ brokers: 1, gateways: 1 }, o)
  const cluster = await measure({ brokers: 3, gateways: 3 }, o)
  return { single, cluster, ratio: Math.round((cluster.cpuMsPerSale / single.cpuMsPerSale) * 100) / 100 }
}
