import { join } from 'node:path'
import { startService, type ServiceExit, type ServiceProcess } from './service-process.js'

// The brokers and the gateways as processes on fixed ports, so that each can be killed and started
// again where the machines and the other parts expect it (an orchestrator's restart). Several
// brokers share a Redis (REDIS_URL); the machines know every broker and move on when theirs dies.

export const CHAOS_GATEWAY_PASSWORD = 'chaos-gateway-password'

export interface ClusterOptions {
  /** The brokers' database (they store their machines' sales). */
  brokerDatabaseUrl: string
  /** The gateways' database (through the harness's proxy). */
  gatewayDatabaseUrl: string
  /** One port per broker. */
  mqttPorts: readonly number[]
  /** Redis between the brokers; required with more than one. */
  redisUrl?: string
  httpPorts: readonly number[]
  logLevel?: string
  /** Extra environment for the broker (limits). */
  brokerEnv?: Record<string, string>
  gatewayEnv?: Record<string, string>
  /** Directory for each process's full output (broker.log, gw1.log …); none by default. */
  logDir?: string
  /** The broker's entry point; default scripts/broker.ts (another one lets a broker variant be tried). */
  brokerScript?: string
  /** Node's flags for every broker and gateway process (`--cpu-prof` …). */
  nodeArgs?: readonly string[]
  /** Progress lines (a gateway's time from start to ready, its exits). */
  log?: (line: string) => void
}

export interface GatewayExit extends ServiceExit {
  gateway: string
  /** ms epoch */
  at: number
  /** It had started (printed "gateway started") before it exited: a crash, not a refused start. */
  afterStart: boolean
}

export class ChaosCluster {
  readonly brokers: (ServiceProcess | null)[]
  readonly gateways: (ServiceProcess | null)[]
  /** Exits the harness did not cause (crashes, a refused start during a database cut). */
  readonly unexpectedExits: GatewayExit[] = []
  /** Broker exits the harness did not cause, with the broker's last lines. */
  readonly brokerCrashes: (ServiceExit & { tail: string })[] = []
  readonly #expected = new WeakSet<ServiceProcess>()
  /** Per gateway process: resolves once its own code runs (its "gateway starting" line), or it ended. */
  readonly #running = new WeakMap<ServiceProcess, Promise<void>>()
  #closing = false

  constructor(readonly o: ClusterOptions) {
    this.gateways = o.httpPorts.map(() => null)
    this.brokers = o.mqttPorts.map(() => null)
    if (o.mqttPorts.length > 1 && !o.redisUrl) throw new Error('several brokers need a redisUrl')
  }

  #logOptions(name: string) {
    return { ...(this.o.logDir ? { logFile: join(this.o.logDir, `${name}.log`) } : {}), ...(this.o.nodeArgs ? { nodeArgs: this.o.nodeArgs } : {}) }
  }

  /** Every broker, comma-separated, as the simulated machines take it. */
  get mqttUrl(): string {
    return this.o.mqttPorts.map((_, i) => this.brokerUrl(i)).join(',')
  }

  brokerUrl(i: number): string {
    return `mqtt://127.0.0.1:${this.o.mqttPorts[i]}`
  }

  brokerId(i: number): string {
    return this.o.mqttPorts.length === 1 ? 'broker' : `broker${i + 1}`
  }

  gatewayId(i: number): string {
    return `gw${i + 1}`
  }

  async startBroker(i = 0): Promise<void> {
    const name = this.brokerId(i)
    const broker = startService(name, this.o.brokerScript ?? 'scripts/broker.ts', {
      DATABASE_URL: this.o.brokerDatabaseUrl, MQTT_HOST: '127.0.0.1', MQTT_PORT: String(this.o.mqttPorts[i]),
      GATEWAY_MQTT_PASSWORD: CHAOS_GATEWAY_PASSWORD, LOG_LEVEL: this.o.logLevel ?? 'info',
      ...(this.o.redisUrl ? { REDIS_URL: this.o.redisUrl } : {}), ...this.o.brokerEnv,
    }, this.#logOptions(name))
    this.brokers[i] = broker
    void broker.exited.then((exit) => {
      if (this.#expected.has(broker)) return
      // A broker that dies on its own is a finding (the run fails); it is restarted so the run goes on.
      this.brokerCrashes.push({ ...exit, tail: broker.tail(15) })
      this.o.log?.(`${name} exited on its own (${exit.code ?? exit.signal}); restarting it\n${broker.tail(15)}`)
      if (this.brokers[i] === broker) setTimeout(() => { if (!this.#closing && this.brokers[i] === broker) void this.startBroker(i) }, 1000)
    })
    await broker.waitForLine(/broker listening/)
  }

  /** SIGKILL, and the broker stays down (its machines move to the others). */
  async killBroker(i: number): Promise<void> {
    const broker = this.brokers[i]
    if (!broker) return
    this.#expected.add(broker)
    broker.kill('SIGKILL')
    await broker.exited
  }

  /** SIGKILL, then (after `downMs`, while its machines move to the other brokers) the same broker again on the same port. */
  async restartBroker(i = 0, downMs = 0): Promise<void> {
    const old = this.brokers[i]
    if (old) {
      this.#expected.add(old)
      old.kill('SIGKILL')
      await old.exited
    }
    if (downMs > 0) await new Promise((r) => setTimeout(r, downMs))
    await this.startBroker(i)
  }

  startGateway(i: number): ServiceProcess {
    const gateway = startService(this.gatewayId(i), 'gateway/main.ts', {
      DATABASE_URL: this.o.gatewayDatabaseUrl, MQTT_URL: this.brokerUrl(i % this.o.mqttPorts.length), GATEWAY_ID: this.gatewayId(i),
      GATEWAY_MQTT_PASSWORD: CHAOS_GATEWAY_PASSWORD, HTTP_PORT: String(this.o.httpPorts[i]), HTTP_HOST: '127.0.0.1',
      PUBLIC_URL: 'http://receipts.chaos', OPERATOR_TOKEN: 'chaos-operator-token-0123456789',
      LOG_LEVEL: this.o.logLevel ?? 'info', ...this.o.gatewayEnv,
    }, this.#logOptions(this.gatewayId(i)))
    this.gateways[i] = gateway
    this.#running.set(gateway, gateway.waitForLine(/"gateway starting"/, 120_000).then(() => undefined, () => undefined))
    const t0 = Date.now()
    let started = false
    void gateway.waitForLine(/"gateway started"/, 120_000).then(() => {
      started = true
      this.o.log?.(`${gateway.name} started in ${Date.now() - t0} ms`)
    }, () => undefined)
    void gateway.exited.then((exit) => {
      this.o.log?.(`${gateway.name} exited (${exit.code ?? exit.signal})`)
      if (this.#expected.has(gateway) || this.#closing) return
      this.unexpectedExits.push({ ...exit, gateway: gateway.name, at: Date.now(), afterStart: started })
      // An orchestrator restarts a gateway that exited (e.g. it could not reach the database to start).
      if (this.gateways[i] === gateway) setTimeout(() => { if (!this.#closing && this.gateways[i] === gateway) this.startGateway(i) }, 1000)
    })
    return gateway
  }

  async killGateway(i: number): Promise<void> {
    const gateway = this.gateways[i]
    if (gateway) {
      this.#expected.add(gateway)
      gateway.kill('SIGKILL')
      await gateway.exited
    }
    this.startGateway(i)
  }

  /** GET /readyz of gateway i: true (200), false (503) or null (not answering). */
  async ready(i: number): Promise<boolean | null> {
    try {
      const res = await fetch(`http://127.0.0.1:${this.o.httpPorts[i]}/readyz`, { signal: AbortSignal.timeout(1000) })
      await res.arrayBuffer()
      return res.status === 200
    } catch {
      return null
    }
  }

  async waitAllReady(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs
    for (;;) {
      const states = await Promise.all(this.gateways.map((_, i) => this.ready(i)))
      if (states.every((s) => s === true)) return
      if (Date.now() > deadline) throw new Error(`gateways not ready within ${timeoutMs} ms: ${JSON.stringify(states)}\n${this.gateways.map((g) => g?.tail(20)).join('\n')}`)
      await new Promise((r) => setTimeout(r, 100))
    }
  }

  rssBytes(): number[] {
    return this.gateways.map((g) => g?.rss() ?? 0)
  }

  /**
   * SIGTERM to every gateway (they must exit 0 within `boundMs`), then the brokers. A gateway
   * restarted a moment ago gets it once its own code runs ("gateway starting", at most 10 s): until
   * node and the tsx loader have loaded it, SIGTERM ends any Node program by the signal.
   */
  async stop(boundMs = 25_000): Promise<{ gateway: string; exit: ServiceExit | 'timeout'; ms: number }[]> {
    this.#closing = true
    const results = await Promise.all(this.gateways.map(async (g) => {
      if (!g?.alive) return null
      this.#expected.add(g)
      await Promise.race([this.#running.get(g), new Promise((r) => setTimeout(r, 10_000).unref())])
      const t0 = Date.now()
      g.kill('SIGTERM')
      const exit = await Promise.race([g.exited, new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), boundMs).unref())])
      if (exit === 'timeout') g.kill('SIGKILL')
      return { gateway: g.name, exit, ms: Date.now() - t0 }
    }))
    await Promise.all(this.brokers.map(async (broker) => {
      if (!broker?.alive) return
      this.#expected.add(broker)
      broker.kill('SIGTERM')
      await Promise.race([broker.exited, new Promise((r) => setTimeout(r, 5000).unref())])
      broker.kill('SIGKILL')
    }))
    return results.filter((r) => r !== null)
  }

  /** Whatever is still running dies now (cleanup after a failure). */
  killAll(): void {
    this.#closing = true
    for (const g of this.gateways) g?.kill('SIGKILL')
    for (const b of this.brokers) {
      if (b) this.#expected.add(b)
      b?.kill('SIGKILL')
    }
  }
}
