import { startFleet, type FleetMachine } from '../../device-sim/index.js'
import { ChaosCluster } from '../chaos/cluster.js'
import { buildBroker } from '../lib/build.js'
import { freePort } from '../lib/database-admin.js'
import { readProcStats } from './child.js'

// The reconnect storm: one broker holding the whole fleet (and one gateway) is SIGKILLed and started
// again on the same port, while the fleet sells; every machine logs in again at once, give or take
// its reconnect jitter. Measured from the kill: how long until every machine is connected again,
// and until every sale sent before that is receipted (the machines are selling again). The broker
// starts cold: no session, no retained message, its credentials read once before it listens.

export interface StormFigures {
  machines: number
  rate: number
  /** ms from the kill until the broker listened again (a process start). */
  restartMs: number
  /** ms from the kill until every machine was connected again; null if not within the window. */
  backMs: number | null
  /** ms from the kill until the last sale sent before every machine was back was receipted. */
  sellingMs: number | null
  /** Sales sent after the kill and before every machine was back (they waited for the storm). */
  stormSales: number
  /** p99 sale → QR of the sales sent in the window after the kill, ms. */
  stormP99Ms: number
  /**
   * s of CPU from the kill until every machine was back (or the end): the new broker's start (to
   * listening) and its work after, the gateway, the simulated fleet (the bench's own process).
   */
  cpuS: { brokerStart: number; broker: number; gateway: number; fleet: number }
  /** ms of the new broker's CPU per machine logged in again. */
  brokerCpuMsPerLogin: number
  sent: number
  receipted: number
  lost: number
  /** Connection attempts of the fleet after the kill, and logins after the kill. */
  attempts: number
  logins: number
  /** Connections lost again after their machine had logged in to the new broker. */
  dropsAfterBack: number
  /** Errors the machines saw after the kill, by message (ECONNREFUSED while the broker was down …). */
  linkErrors: Record<string, number>
  /** Per second from the kill: machines connected at its end, attempts, logins and losses during it. */
  timeline: StormSecond[]
}

export interface StormSecond { s: number; online: number; attempts: number; logins: number; drops: number }

export async function runStormStep(o: {
  databaseUrl: string; machines: readonly FleetMachine[]; rate: number; rampPerS: number
  /** s of sales after the kill. */
  windowS: number
  /** node --cpu-prof on the broker and gateway: .cpuprofile files here (the killed broker writes none). */
  profileDir?: string
  log: (line: string) => void
}): Promise<StormFigures> {
  // The broker as deployed for a fast start: compiled (npm run build), not loaded through tsx.
  const brokerScript = await buildBroker()
  const cluster = new ChaosCluster({
    brokerScript,
    brokerDatabaseUrl: o.databaseUrl, gatewayDatabaseUrl: o.databaseUrl,
    mqttPorts: [await freePort()], httpPorts: [await freePort()],
    ...(o.profileDir ? { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${o.profileDir}`] } : {}),
    // The simulated machines all come from 127.0.0.1; real ones each have their address (behind the
    // load balancer too), so the per-address bound on sockets not logged in yet is lifted to the
    // fleet's size here. The bound on all of them (BROKER_PRELOGIN_MAX) stays the default.
    brokerEnv: { BROKER_RATE_PER_S: '1000', BROKER_RATE_BURST: '2000', BROKER_PRELOGIN_PER_ADDRESS: String(Math.max(64, o.machines.length)) },
  })
  try {
    await cluster.startBroker(0)
    cluster.startGateway(0)
    await cluster.waitAllReady(120_000)
    let killedAt = Infinity
    let restartMs = 0
    let backAt: number | null = null
    let dropped = false
    let loggedAt = 0
    const cpuNow = () => ({
      broker: readProcStats(cluster.brokers[0]?.pid ?? 0)?.cpuS ?? 0, gateway: readProcStats(cluster.gateways[0]?.pid ?? 0)?.cpuS ?? 0,
      fleet: process.cpuUsage().user / 1e6 + process.cpuUsage().system / 1e6,
    })
    let cpuAtKill = { broker: 0, gateway: 0, fleet: 0 }
    let cpuAtBack: ReturnType<typeof cpuNow> | null = null
    /** The new broker's CPU by the time it listened (its start: loading, the credentials read). */
    let brokerAtListen = 0
    /** Receipts of sales sent after the kill: when sent, when answered. */
    const after: { sentAt: number; at: number; latencyMs: number }[] = []
    // The link events of every machine after the kill, per second.
    const timeline: StormSecond[] = []
    const linkErrors: Record<string, number> = {}
    const second = (): StormSecond | null => {
      if (killedAt === Infinity) return null
      const s = Math.floor((Date.now() - killedAt) / 1000)
      while (timeline.length <= s) timeline.push({ s: timeline.length, online: -1, attempts: 0, logins: 0, drops: 0 })
      return timeline[s]!
    }
    const relogged = new Set<string>()
    let dropsAfterBack = 0
    const fleet = startFleet({
      url: cluster.mqttUrl, machines: o.machines, rate: o.rate, durationS: 5 + o.windowS, idleS: 2, drainTimeoutS: 60,
      telemetryIntervalS: 0, rampUpPerSecond: o.rampPerS, connectTimeoutMs: 30_000, progressIntervalMs: 250,
      onReceipt: (_machineId, _display, latencyMs) => {
        const now = Date.now()
        if (now - latencyMs >= killedAt) after.push({ sentAt: now - latencyMs, at: now, latencyMs })
      },
      onLink: (event, machine) => {
        const at = second()
        if (!at) return
        if (event.kind === 'attempt') at.attempts++
        else if (event.kind === 'up') {
          at.logins++
          relogged.add(machine.id)
        } else if (event.kind === 'down' && event.wasUp) {
          at.drops++
          if (relogged.has(machine.id)) dropsAfterBack++
        } else if (event.kind === 'error') {
          // Messages carry addresses and ports: the kind of error is enough.
          const key = event.message.replace(/\d+\.\d+\.\d+\.\d+:\d+/g, 'ADDR')
          linkErrors[key] = (linkErrors[key] ?? 0) + 1
        }
      },
      onProgress: (s) => {
        const at = second()
        if (at) at.online = s.online
        if (Date.now() > killedAt && backAt === null && Date.now() - loggedAt >= 2000) {
          loggedAt = Date.now()
          o.log(`storm: +${((loggedAt - killedAt) / 1000).toFixed(1)} s: ${s.online} of ${s.machines} connected, ${s.receipted} receipted, ${s.inFlight} waiting`)
        }
        // Back: every machine connected again, once the fleet has seen its connections drop.
        if (Date.now() > killedAt && s.online < s.machines) dropped = true
        if (backAt === null && dropped && s.online === s.machines) {
          backAt = Date.now()
          cpuAtBack = cpuNow()
        }
        if (s.phase === 'selling' && s.elapsedS >= 5 && killedAt === Infinity) {
          killedAt = Date.now()
          cpuAtKill = cpuNow()
          o.log(`storm: SIGKILL and restart of the broker holding ${s.online} of ${s.machines} machines`)
          void cluster.restartBroker(0).then(() => {
            restartMs = Date.now() - killedAt
            brokerAtListen = readProcStats(cluster.brokers[0]?.pid ?? 0)?.cpuS ?? 0
          })
        }
      },
    })
    const report = await fleet.done
    const cpuEnd = (cpuAtBack as ReturnType<typeof cpuNow> | null) ?? cpuNow()
    // The broker restarted: its CPU counts from its listening (its start apart).
    const cpuS = {
      brokerStart: Math.round(brokerAtListen * 100) / 100, broker: Math.round((cpuEnd.broker - brokerAtListen) * 100) / 100, gateway: Math.round((cpuEnd.gateway - cpuAtKill.gateway) * 100) / 100,
      fleet: Math.round((cpuEnd.fleet - cpuAtKill.fleet) * 100) / 100,
    }
    // Set in the fleet's callbacks: read through a wider type than the narrowing of `let` gives.
    const back = backAt as number | null
    const stormed = after.filter((r) => r.sentAt < (back ?? Infinity))
    const latencies = after.map((r) => r.latencyMs).sort((a, b) => a - b)
    const figures: StormFigures = {
      machines: o.machines.length, rate: o.rate, restartMs,
      backMs: back === null ? null : back - killedAt,
      sellingMs: back === null ? null : stormed.reduce((last, r) => Math.max(last, r.at), back) - killedAt,
      stormSales: stormed.length, stormP99Ms: Math.round(latencies[Math.floor(latencies.length * 0.99)] ?? 0),
      cpuS, brokerCpuMsPerLogin: Math.round((cpuS.broker * 1000 / o.machines.length) * 100) / 100,
      sent: report.sent, receipted: report.receipted, lost: report.unanswered,
      attempts: timeline.reduce((n, t) => n + t.attempts, 0), logins: timeline.reduce((n, t) => n + t.logins, 0),
      dropsAfterBack, linkErrors, timeline: fillOnline(timeline),
    }
    o.log(`storm: ${JSON.stringify({ ...figures, timeline: undefined })}`)
    o.log(`storm: per second from the kill, connected / attempts / logins / losses: ${figures.timeline.map((t) => `${t.s}:${t.online}/${t.attempts}/${t.logins}/${t.drops}`).join(' ')}`)
    await cluster.stop()
    return figures
  } finally {
    cluster.killAll()
  }
}

/** Seconds without a progress report keep the count of the one before. */
function fillOnline(timeline: readonly StormSecond[]): StormSecond[] {
  let online = 0
  return timeline.map((t) => {
    if (t.online >= 0) online = t.online
    return { ...t, online }
  })
}
