import { killAllServices, startService, type ServiceExit, type ServiceProcess } from '../../scripts/chaos/service-process.js'
import { waitFor } from './wait.js'

// Gateways and brokers as real processes for e2e tests (crashes, signals, RSS): the same
// supervisor the chaos harness uses. Every test file calls `killAllProcesses` in afterAll/afterEach,
// so a failing test leaves nothing running.

import { ChaosCluster } from '../../scripts/chaos/cluster.js'
import { freePort } from '../../scripts/lib/database-admin.js'

export { freePort, ChaosCluster }
export { CHAOS_GATEWAY_PASSWORD } from '../../scripts/chaos/cluster.js'
export type { ServiceExit, ServiceProcess }

export interface GatewayProcessOptions {
  databaseUrl: string
  mqttUrl: string
  httpPort: number
  gatewayId?: string
  password: string
  env?: Record<string, string>
}

export function startGatewayProcess(o: GatewayProcessOptions): ServiceProcess {
  return startService(o.gatewayId ?? 'gw', 'gateway/main.ts', {
    DATABASE_URL: o.databaseUrl, MQTT_URL: o.mqttUrl, GATEWAY_ID: o.gatewayId ?? 'gw', GATEWAY_MQTT_PASSWORD: o.password,
    HTTP_PORT: String(o.httpPort), HTTP_HOST: '127.0.0.1', PUBLIC_URL: 'http://receipts.test',
    OPERATOR_TOKEN: 'test-operator-token-0123456789', LOG_LEVEL: 'info', ...o.env,
  })
}

/** GET /readyz: true (200), false (503), null (no answer). */
export async function readyz(port: number): Promise<boolean | null> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}/readyz`, { signal: AbortSignal.timeout(1000) })
    await res.arrayBuffer()
    return res.status === 200
  } catch {
    return null
  }
}

export async function waitReady(port: number, what: string, timeoutMs = 60_000): Promise<void> {
  await waitFor(async () => (await readyz(port)) === true, what, timeoutMs)
}

/** Sends `signal` and waits at most `ms` for the exit; 'timeout' if it is still running. */
export async function signalAndWait(p: ServiceProcess, signal: NodeJS.Signals, ms: number): Promise<ServiceExit | 'timeout'> {
  p.kill(signal)
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'timeout'>((resolve) => { timer = setTimeout(() => resolve('timeout'), ms) })
  const result = await Promise.race([p.exited, late])
  clearTimeout(timer)
  return result
}

/** SIGKILLs every process this test file started and waits until they are gone. */
export async function killAllProcesses(all: readonly (ServiceProcess | null | undefined)[] = []): Promise<void> {
  killAllServices()
  await Promise.all(all.map((p) => p?.exited))
}

export interface TestClusterOptions {
  /** The test database, for the broker and (unless `gatewayDatabaseUrl` is set) the gateways. */
  databaseUrl: string
  /** The gateways' database URL when it differs (through a TCP proxy). */
  gatewayDatabaseUrl?: string
  gateways?: number
  logDir?: string
  /** Extra environment for every gateway. */
  gatewayEnv?: Record<string, string>
}

/**
 * A broker and its gateway processes on free ports, all ready: the chaos harness's cluster as the
 * e2e tests use it. The per-machine rate limit is raised: these tests replay backlogs, not floods.
 */
export async function startTestCluster(o: TestClusterOptions): Promise<ChaosCluster> {
  const gateways = o.gateways ?? 1
  const cluster = new ChaosCluster({
    brokerDatabaseUrl: o.databaseUrl, gatewayDatabaseUrl: o.gatewayDatabaseUrl ?? o.databaseUrl, mqttPorts: [await freePort()],
    httpPorts: await Promise.all(Array.from({ length: gateways }, () => freePort())),
    brokerEnv: { BROKER_RATE_PER_S: '1000', BROKER_RATE_BURST: '5000' },
    ...(o.logDir ? { logDir: o.logDir } : {}),
    ...(o.gatewayEnv ? { gatewayEnv: o.gatewayEnv } : {}),
  })
  await cluster.startBroker()
  for (let i = 0; i < gateways; i++) cluster.startGateway(i)
  await cluster.waitAllReady(90_000)
  return cluster
}
