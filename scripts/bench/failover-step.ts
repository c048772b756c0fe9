import { firstBroker, startFleet, type FleetMachine } from '../../device-sim/index.js'
import { ChaosCluster } from '../chaos/cluster.js'
import { freePort } from '../lib/database-admin.js'
import { startPrivateRedis } from '../lib/redis-server.js'

// Broker failover: 3 brokers on a private Redis, 3 gateways, the fleet selling; the broker holding
// a third of the machines is SIGKILLed (and stays down). Its machines move to the other two. Measured:
// how long until all but 1% of them are connected again, how long until every sale they sent
// before the kill is receipted, and the other machines' p99 sale → QR in the 30 s after the kill.

export interface FailoverFigures {
  machines: number
  victims: number
  rate: number
  /** ms from the kill until at most 1% of the victims were still offline; null if not within the window. */
  backMs: number | null
  /** ms from the kill until the last of the victims' pending sales (sent before they were back) was receipted. */
  pendingReceiptedMs: number | null
  pendingSales: number
  /** The other machines' receipts in the 30 s after the kill. */
  othersReceipts: number
  othersP99Ms: number
  sent: number
  receipted: number
  lost: number
}

const WINDOW_MS = 30_000

export async function runFailoverStep(o: { databaseUrl: string; machines: readonly FleetMachine[]; rate: number; log: (line: string) => void }): Promise<FailoverFigures> {
  const redis = await startPrivateRedis()
  const cluster = new ChaosCluster({
    brokerDatabaseUrl: o.databaseUrl, gatewayDatabaseUrl: o.databaseUrl, redisUrl: redis.url,
    mqttPorts: await Promise.all([0, 1, 2].map(() => freePort())), httpPorts: await Promise.all([0, 1, 2].map(() => freePort())),
    // The simulated machines share 127.0.0.1; real ones each have their address: the per-address
    // bound on sockets not logged in yet is lifted to the fleet's size (the total bound stays).
    brokerEnv: { BROKER_RATE_PER_S: '1000', BROKER_RATE_BURST: '2000', BROKER_PRELOGIN_PER_ADDRESS: String(Math.max(64, o.machines.length)) },
  })
  try {
    for (let i = 0; i < 3; i++) await cluster.startBroker(i)
    for (let i = 0; i < 3; i++) cluster.startGateway(i)
    await cluster.waitAllReady(120_000)
    const victims = new Set(o.machines.filter((m) => firstBroker(m.id, 3) === 0).map((m) => m.id))
    let killedAt = Infinity
    let backAt: number | null = null
    /** Victims' receipts after the kill: when their sale was sent, when it was answered. */
    const victimReceipts: { sentAt: number; at: number }[] = []
    const others: number[] = []
    const fleet = startFleet({
      url: cluster.mqttUrl, machines: o.machines, rate: o.rate, durationS: 15 + WINDOW_MS / 1000, idleS: 2, drainTimeoutS: 60,
      telemetryIntervalS: 0, rampUpPerSecond: 500, connectTimeoutMs: 30_000,
      onReceipt: (machineId, _display, latencyMs) => {
        const now = Date.now()
        if (now < killedAt) return
        if (victims.has(machineId)) victimReceipts.push({ sentAt: now - latencyMs, at: now })
        else if (now <= killedAt + WINDOW_MS) others.push(latencyMs)
      },
      onProgress: (s) => {
        if (backAt === null && Date.now() > killedAt && s.machines - s.online <= Math.floor(victims.size * 0.01)) backAt = Date.now()
        if (s.phase === 'selling' && s.elapsedS >= 10 && killedAt === Infinity) {
          killedAt = Date.now()
          o.log(`failover: SIGKILL broker1 (${victims.size} of ${s.machines} machines)`)
          void cluster.killBroker(0)
        }
      },
    })
    const report = await fleet.done
    others.sort((a, b) => a - b)
    // Pending: sent before its machine was back (at the latest when all but 1% were), answered after the kill.
    const pending = victimReceipts.filter((r) => r.sentAt < (backAt ?? Infinity))
    const lastPendingAt = pending.length > 0 ? Math.max(...pending.map((r) => r.at)) : null
    const figures: FailoverFigures = {
      machines: o.machines.length, victims: victims.size, rate: o.rate,
      backMs: backAt === null ? null : backAt - killedAt,
      pendingReceiptedMs: lastPendingAt === null ? null : lastPendingAt - killedAt, pendingSales: pending.length,
      othersReceipts: others.length, othersP99Ms: Math.round(others[Math.floor(others.length * 0.99)] ?? 0),
      sent: report.sent, receipted: report.receipted, lost: report.unanswered,
    }
    o.log(`failover: ${JSON.stringify(figures)}`)
    return figures
  } finally {
    cluster.killAll()
    await redis.stop()
  }
}
