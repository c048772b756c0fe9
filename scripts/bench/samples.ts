import { readFileSync } from 'node:fs'
import type { ProcStats } from './child.js'
import type { BenchServices, ServiceStats } from './services.js'

// Readings of every process of the system under test, and the figures between two of them.

export interface ProcessFigures {
  rssMiB: number
  hwmMiB: number
  /** % of one core over the window (200 = both cores of this machine). */
  cpuPercent: number
  /** ms of CPU per sale sent, from the start of sales to the end of the drain: robust to a noisy machine, unlike latency. */
  cpuMsPerSale?: number
}

/** postgres: the backends serving the bench's database (CPU only; their memory is mostly shared buffers). */
export type Processes = Partial<Record<'broker' | 'gateway' | 'echo' | 'simulator' | 'postgres', ProcessFigures>>

export interface Sample {
  at: number
  /** s of CPU the whole machine spent busy (all processes, ours and others'), from /proc/stat. */
  hostBusyS: number
  services: ServiceStats
  simulator: ProcStats
  /** s of CPU by backend pid (PostgreSQL only); read asynchronously. */
  database: Promise<Map<number, number> | null>
}

export function sample(services: BenchServices): Sample {
  const cpu = process.cpuUsage()
  const rssMiB = Math.round(process.memoryUsage().rss / 104857.6) / 10
  return {
    at: performance.now(), hostBusyS: hostBusyS(), services: services.stats(), database: services.databaseCpu(),
    simulator: { rssMiB, hwmMiB: rssMiB, cpuS: (cpu.user + cpu.system) / 1e6 },
  }
}

function hostBusyS(): number {
  try {
    // cpu  user nice system idle iowait irq softirq steal … in USER_HZ (1/100 s)
    const [user, nice, system, , , irq, softirq, steal] = readFileSync('/proc/stat', 'utf8').split('\n')[0]!.trim().split(/\s+/).slice(1).map(Number)
    return ((user ?? 0) + (nice ?? 0) + (system ?? 0) + (irq ?? 0) + (softirq ?? 0) + (steal ?? 0)) / 100
  } catch {
    return NaN
  }
}

/**
 * The machine's busy CPU over a window and the part of it that was none of the bench's processes
 * (other people's work on a shared machine), % of one core.
 */
export function hostFigures(a: Sample, b: Sample, ours: Processes): { busyPercent: number; othersPercent: number } | undefined {
  const wallS = (b.at - a.at) / 1000
  if (!(wallS > 0) || Number.isNaN(a.hostBusyS)) return undefined
  const busy = ((b.hostBusyS - a.hostBusyS) / wallS) * 100
  const mine = Object.values(ours).reduce((n, f) => n + (f?.cpuPercent ?? 0), 0)
  return { busyPercent: Math.round(busy), othersPercent: Math.max(0, Math.round(busy - mine)) }
}

function figures(a: ProcStats | null, b: ProcStats | null, wallS: number, end: ProcStats | null, sent: number): ProcessFigures | undefined {
  if (!a || !b) return undefined
  const perSale = end && sent > 0 ? { cpuMsPerSale: Math.round(((end.cpuS - a.cpuS) / sent) * 1e5) / 100 } : {}
  return { rssMiB: b.rssMiB, hwmMiB: b.hwmMiB, cpuPercent: Math.round(((b.cpuS - a.cpuS) / wallS) * 100), ...perSale }
}

/**
 * Figures over the window a → b (CPU %, memory at b) and, per sale, over a → end. With PGlite
 * the gateway shares the broker's process, so only `broker` is given.
 */
export async function windowFigures(a: Sample, b: Sample, end: Sample, sent: number, combined: boolean): Promise<Processes> {
  const wallS = (b.at - a.at) / 1000
  if (!(wallS > 0)) return {}
  const out: Processes = {}
  for (const name of ['broker', 'gateway', 'echo'] as const) {
    const f = figures(a.services[name], b.services[name], wallS, end.services[name], sent)
    if (f && !(name === 'gateway' && combined)) out[name] = f
  }
  const sim = figures(a.simulator, b.simulator, wallS, end.simulator, sent)
  if (sim) out.simulator = sim
  const [da, db, de] = await Promise.all([a.database, b.database, end.database])
  if (da && db && de) {
    // Per backend, so one that the pool opened meanwhile counts from zero.
    const cpu = (to: Map<number, number>) => [...to].reduce((n, [pid, s]) => n + s - (da.get(pid) ?? 0), 0)
    out.postgres = { rssMiB: 0, hwmMiB: 0, cpuPercent: Math.round((cpu(db) / wallS) * 100), ...(sent > 0 ? { cpuMsPerSale: Math.round((cpu(de) / sent) * 1e5) / 100 } : {}) }
  }
  return out
}
