import type { ReceiptDisplay } from '../protocol/index.js'
import type { Catalogue } from './catalogue.js'
import type { FleetReport, FleetSnapshot } from './fleet-report.js'
import { FleetRun } from './fleet.run.js'
import type { RetryPolicy } from './machine.js'
import type { SimMachineOptions } from './machine.client.js'

// The fleet's programmatic API, used by `npm run sim`, `npm start`, the benchmark and the tests.

export type { FleetReport, FleetSnapshot } from './fleet-report.js'

export interface FleetMachine {
  id: string
  secret: string
}

export interface FleetOptions {
  url: string
  /** Topic prefix; default 'vending'. */
  prefix?: string
  machines: readonly FleetMachine[]
  /** Sales per second across the fleet, open loop: each sale starts on schedule whether or not earlier ones were answered. */
  rate: number
  /** s of sales; Infinity runs until stop(). */
  durationS: number
  /** s connected and quiet before the first sale (the phase is already 'selling', with nothing due yet); default 0. */
  idleS?: number
  /** Machines connected per second, so that thousands can connect from one process; default 500. */
  rampUpPerSecond?: number
  /** s to wait after the sales phase for outstanding answers; default 10. */
  drainTimeoutS?: number
  retry?: Partial<RetryPolicy>
  catalogue?: Catalogue
  /** Makes the sales' contents and their machines reproducible (saleIds stay random). */
  seed?: number
  /** Unanswered sales are kept here and sent again by the next run. */
  stateFile?: string
  /** s between a machine's telemetry readings; 0 sends none; default 60. */
  telemetryIntervalS?: number
  keepaliveS?: number
  connectTimeoutMs?: number
  /** ms before a machine's first reconnect attempt; each machine takes 1–5× it, so they do not come back at once; default 1000. */
  reconnectPeriodMs?: number
  progressIntervalMs?: number
  /** EVA-DTS audits: each machine uploads one when connected, every `intervalS` (0: none on a schedule), and after the drain. */
  audits?: { intervalS?: number }
  /**
   * "Offline" vends: `vends` of the run's sales, spread evenly over it, go to these machines (in turn)
   * as one-item cash vends that are counted in the machine's audit and never published.
   */
  offline?: { machines: readonly string[]; vends: number }
  onReceipt?: (machineId: string, display: ReceiptDisplay, latencyMs: number) => void
  onProgress?: (snapshot: FleetSnapshot) => void
  /** Each machine's connection attempts, logins, losses and errors (machine.client.ts). */
  onLink?: SimMachineOptions['onLink']
  /** Aborting ends the run at once: no drain; unanswered sales are reported (and kept in the state file). */
  signal?: AbortSignal
}

export interface FleetHandle {
  /** The report, once the run has ended and every connection is closed. */
  readonly done: Promise<FleetReport>
  /** Ends the sales phase now; outstanding sales drain as they would after the duration. */
  stop(): Promise<FleetReport>
  snapshot(): FleetSnapshot
  /** Every machine uploads an audit now (connected ones at once, the others once connected); returns how many. */
  uploadAudits(): number
}

/** Runs a fleet for `durationS`, drains, closes, and reports; bad options reject. */
export async function runFleet(options: FleetOptions): Promise<FleetReport> {
  return startFleet(options).done
}

/** Starts a fleet; the handle stops it (for a run until Ctrl-C). Bad options (machine ids, rate) throw here. */
export function startFleet(options: FleetOptions): FleetHandle {
  const run = new FleetRun(options)
  const done = run.run()
  return { done, stop: () => (run.stop(), done), snapshot: () => run.snapshot(), uploadAudits: () => run.uploadAudits() }
}

