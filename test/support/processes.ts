import { killAllServices, startService, type ServiceExit, type ServiceProcess } from '../../scripts/chaos/service-process.js'
import { waitFor } from './wait.js'

// Gateways and brokers as real processes for e2e tests (crashes, signals, RSS): the same
// supervisor the chaos harness uses. Every test file calls `killAllProcesses` in afterAll/afterEach,
// so a failing test leaves nothing running.

export { freePort } from '../../scripts/chaos/chaos-database.js'
export { ChaosCluster, CHAOS_GATEWAY_PASSWORD } from '../../scripts/chaos/cluster.js'
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
