import { randomBytes } from 'node:crypto'
import { mkdirSync } from 'node:fs'
import { join } from 'node:path'
import pg from 'pg'
import { readProcStats, ROOT, startChild, type Child, type ProcStats } from './child.js'
import type { BenchDatabase } from './database.js'
import { freePort } from '../lib/database-admin.js'

// The system under test as child processes. With PostgreSQL: broker and gateway each their own
// process (`npm run broker`, `npm run gateway`), so each has its own RSS and CPU. With PGlite: both
// in one (system.ts), since only one process can open the embedded database. The echo responder,
// when running, is a third process on the same broker.

export interface ServiceStats { broker: ProcStats | null; gateway: ProcStats | null; echo: ProcStats | null }

/** PostgreSQL's cumulative counters for the bench's database: transactions committed, rows written (all tables, and by table). */
export interface DatabaseCounters { commits: number; inserted: number; updated: number; tables: Record<string, { ins: number; upd: number }> }

export interface BenchServices {
  mqttUrl: string
  /** True when broker and gateway share a process (PGlite): their figures are one process's. */
  combined: boolean
  gatewayPassword: string
  startEcho(): Promise<void>
  stopEcho(): Promise<void>
  startGateway(): Promise<void>
  gatewayRunning(): boolean
  /** The gateway's Prometheus text (no METRICS_TOKEN is set for the bench). */
  metrics(): Promise<string>
  stats(): ServiceStats
  /** Names of the parts that have ended although the run did not stop them (a crash). */
  dead(): string[]
  /** The last output lines of each child, for a failure message. */
  tails(): string
  /** s of CPU by backend pid of the PostgreSQL server serving the bench's database; null on PGlite. */
  databaseCpu(): Promise<Map<number, number> | null>
  /** PostgreSQL's statistics for the bench's database; null on PGlite. */
  databaseCounters(): Promise<DatabaseCounters | null>
  stop(): Promise<void>
}

async function waitReady(url: string, child: Child, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs
  while (Date.now() < deadline) {
    if (child.stats() === null) throw new Error(`${child.name} ended while starting\n${child.tail()}`)
    const ok = await fetch(url).then((r) => r.ok, () => false)
    if (ok) return
    await new Promise((r) => setTimeout(r, 100))
  }
  throw new Error(`${child.name} not ready at ${url} within ${timeoutMs} ms\n${child.tail()}`)
}

/**
 * `ingest`: who stores the sales in the gateway steps. 'broker' (the default deployment): the echo
 * baseline runs on a routing broker, which is then restarted on the same port as a broker that
 * stores its machines' sales and kicks the gateway. 'gateway': one routing broker throughout, the
 * gateway subscribes and stores (GATEWAY_INGEST=gateway). With PGlite, always 'gateway'.
 */
export async function startServices(db: BenchDatabase, options: { profileDir?: string; ingest?: 'broker' | 'gateway' }): Promise<BenchServices> {
  const [mqttPort, httpPort] = [await freePort(), await freePort()]
  const gatewayPassword = randomBytes(12).toString('base64url')
  const mqttUrl = `mqtt://127.0.0.1:${mqttPort}`
  const httpUrl = `http://127.0.0.1:${httpPort}`
  const env = {
    MQTT_HOST: '127.0.0.1', MQTT_PORT: String(mqttPort), MQTT_URL: mqttUrl, GATEWAY_MQTT_PASSWORD: gatewayPassword,
    HTTP_PORT: String(httpPort), HTTP_HOST: '127.0.0.1', PUBLIC_URL: httpUrl, LOG_LEVEL: 'info',
    // The per-machine limit (20/s by default) guards against a runaway machine; the bench's random
    // pick gives one machine bursts above it at thousands of sales/s, which would measure the limiter.
    BROKER_RATE_PER_S: '1000', BROKER_RATE_BURST: '2000',
    // The echo baseline needs the broker to route sales to a subscriber; startGateway() makes it
    // a broker that stores them unless the gateway's own ingest is measured (`ingest`).
    BROKER_INGEST: 'off', GATEWAY_INGEST: 'gateway',
    ...(db.url ? { DATABASE_URL: db.url } : { DATA_DIR: db.dataDir! }),
  }
  if (options.profileDir) mkdirSync(options.profileDir, { recursive: true })
  const profileArgs = options.profileDir ? ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`] : []

  let broker: Child
  let gateway: Child | null = null
  let echo: Child | null = null
  // Reads which server processes serve the bench's database (the server's other databases are other people's).
  const observer = db.url ? new pg.Client({ connectionString: db.url }) : null
  await observer?.connect()
  if (db.kind === 'postgres') {
    broker = startChild('broker', join(ROOT, 'scripts/broker.ts'), env, { nodeArgs: profileArgs })
    await broker.waitForLine(/broker listening/)
  } else {
    broker = startChild('system', join(ROOT, 'scripts/bench/system.ts'), env, { nodeArgs: profileArgs, ipc: true })
    await broker.waitForLine(/^broker ready/)
  }

  return {
    mqttUrl, gatewayPassword, combined: db.kind === 'pglite',
    async startEcho() {
      echo = startChild('echo', join(ROOT, 'scripts/bench/echo.ts'), env)
      await echo.waitForLine(/^echo ready/)
    },
    async stopEcho() {
      await echo?.stop()
      echo = null
    },
    async startGateway() {
      if (db.kind === 'postgres') {
        let gatewayEnv = env
        if ((options.ingest ?? 'broker') === 'broker') {
          // The same port, so the steps' machines find it where the echo steps found the routing broker.
          await broker.stop()
          const ingesting = { ...env, BROKER_INGEST: 'on', GATEWAY_INGEST: 'broker' }
          broker = startChild('broker', join(ROOT, 'scripts/broker.ts'), ingesting, { nodeArgs: profileArgs })
          await broker.waitForLine(/broker listening/)
          gatewayEnv = ingesting
        }
        gateway = startChild('gateway', join(ROOT, 'gateway/main.ts'), gatewayEnv, { nodeArgs: profileArgs })
      } else {
        broker.proc.send('start-gateway')
        gateway = broker
      }
      await waitReady(`${httpUrl}/readyz`, gateway)
    },
    gatewayRunning: () => gateway !== null,
    metrics: async () => (await fetch(`${httpUrl}/metrics`)).text(),
    stats: () => ({ broker: broker.stats(), gateway: gateway?.stats() ?? null, echo: echo?.stats() ?? null }),
    dead: () => [broker, gateway, echo].flatMap((c) => (c && c.stats() === null ? [c.name] : [])),
    tails: () => [broker, gateway !== broker ? gateway : null, echo]
      .flatMap((c) => (c ? [`--- ${c.name} (pid ${c.pid}${c.stats() ? '' : ', exited'}):\n${c.tail(40)}`] : [])).join('\n'),
    async databaseCpu() {
      if (!observer) return null
      const rows = await observer.query<{ pid: number }>('select pid from pg_stat_activity where datname = current_database() and pid <> pg_backend_pid()')
      return new Map(rows.rows.flatMap((r) => { const s = readProcStats(r.pid); return s ? [[r.pid, s.cpuS] as const] : [] }))
    },
    async databaseCounters() {
      if (!observer) return null
      const [d, t] = await Promise.all([
        observer.query<{ commits: string; inserted: string; updated: string }>(
          'select xact_commit as commits, tup_inserted as inserted, tup_updated as updated from pg_stat_database where datname = current_database()'),
        observer.query<{ relname: string; ins: string; upd: string }>('select relname, n_tup_ins as ins, n_tup_upd as upd from pg_stat_user_tables'),
      ])
      const row = d.rows[0]
      return {
        commits: Number(row?.commits ?? 0), inserted: Number(row?.inserted ?? 0), updated: Number(row?.updated ?? 0),
        tables: Object.fromEntries(t.rows.map((r) => [r.relname, { ins: Number(r.ins), upd: Number(r.upd) }])),
      }
    },
    async stop() {
      await echo?.stop()
      if (gateway !== broker) await gateway?.stop()
      await broker.stop()
      await observer?.end()
    },
  }
}
