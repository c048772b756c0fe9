import { parseArgs } from 'node:util'

// `npm run bench -- …` flags and the plan they select. The full plan is the one the issue asks
// for; --quick is the same steps, small and short, for the smoke test.

export const STEPS = ['baseline', 'fixed', 'stepup', 'onekassa', 'burst', 'scale', 'cluster', 'failover', 'storm'] as const
export type StepName = (typeof STEPS)[number]

export const USAGE = `usage: npm run bench -- [--quick] [--only baseline,fixed,stepup,onekassa,burst,scale,cluster,failover,storm] [--duration S] [--warmup S] [--profile]

  --quick        a few seconds, small fleet (the smoke test)
  --only LIST    steps to run (default all): baseline = the same fleet against the echo responder
                 onekassa = 20 machines of one kassa at 500 sales/s; burst = 5,000 sales at once from
                 them (each against the echo responder too, in the same run)
                 cluster = 1 broker × 1 gateway vs 3 × 3 on a private Redis, CPU per sale (PostgreSQL only)
                 failover = SIGKILL of the broker holding a third of the fleet (3 × 3, PostgreSQL only)
                 storm = restart of one broker holding the scale fleet: all back and selling (PostgreSQL only)
  --duration S   seconds of sales per step (default 10; quick 2)
  --warmup S     seconds of sales at the first fixed rate right after the echo responder and after the
                 gateway start, not measured: the steps find the processes in steady operation (default
                 3; quick 1; 0: none). Reported apart; a sale lost there fails the run
  --profile      node --cpu-prof on the broker and gateway processes; .cpuprofile files in <out>/profiles
  --ingest WHO   who stores sales in the gateway steps: broker (default, as deployed: the broker holding
                 the machine stores and kicks the gateway) or gateway (GATEWAY_INGEST=gateway)
  --out DIR      where <date>.json and <date>.md go (default bench/results)
  --help

DATABASE_URL set: a fresh database on that server for the run, dropped after; unset: embedded
PGlite in a temp dir (broker and gateway then share one child process).`

export interface BenchPlan {
  quick: boolean
  only: ReadonlySet<StepName>
  durationS: number
  /** s of unmeasured sales after the echo responder and after the gateway start (0: none). */
  warmupS: number
  profile: boolean
  ingest: 'broker' | 'gateway'
  outDir: string
  /** Machines of the baseline, fixed and step-up runs. */
  machines: number
  /** Machines served by one kassa (a real kassa serves ~20–100), so fiscalization runs per kassa in parallel. */
  machinesPerKassa: number
  fixedRates: readonly number[]
  /** sales/s tried in order until one misses p99 < 100 ms with 0 lost. */
  stepRates: readonly number[]
  scaleMachines: number
  scaleRate: number
  /** sales/s of both topologies of the cluster step. */
  clusterRate: number
  /** Machines of one kassa selling at `oneKassaRate` (the FN signs serially: the hard case), and all at once `burstSales`. */
  oneKassaMachines: number
  oneKassaRate: number
  burstSales: number
  /** Machines and sales/s of the failover step. */
  failoverMachines: number
  failoverRate: number
  /** Machines and sales/s of the reconnect storm (one broker restarted). */
  stormMachines: number
  stormRate: number
  /** Machines connected per second in the scale steps: each login is a directory lookup in the database. */
  scaleRampPerS: number
  /** Machines connected per second. */
  rampPerS: number
  /** s to wait for outstanding answers after a step's sales. */
  drainS: number
  /** A step passes with every sale answered and p99 below this (ms). */
  p99LimitMs: number
}

export class BenchArgsError extends Error {}

export function parseBenchArgs(argv: readonly string[]): BenchPlan | 'help' {
  let values
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      options: {
        quick: { type: 'boolean', default: false },
        only: { type: 'string' },
        duration: { type: 'string' },
        warmup: { type: 'string' },
        profile: { type: 'boolean', default: false },
        ingest: { type: 'string', default: 'broker' },
        out: { type: 'string', default: 'bench/results' },
        help: { type: 'boolean', default: false },
      },
      strict: true,
    }))
  } catch (err) {
    throw new BenchArgsError((err as Error).message)
  }
  if (values.help) return 'help'
  const only = new Set<StepName>()
  for (const name of (values.only ?? STEPS.join(',')).split(',').map((s) => s.trim()).filter(Boolean)) {
    if (!(STEPS as readonly string[]).includes(name)) throw new BenchArgsError(`--only: unknown step ${name} (one of ${STEPS.join(', ')})`)
    only.add(name as StepName)
  }
  if (only.size === 0) throw new BenchArgsError('--only: no step named')
  const durationS = values.duration === undefined ? (values.quick ? 2 : 10) : Number(values.duration)
  if (!(durationS > 0 && durationS <= 3600)) throw new BenchArgsError('--duration: must be a number of seconds in (0, 3600]')
  const warmupS = values.warmup === undefined ? (values.quick ? 1 : 3) : Number(values.warmup)
  if (!(warmupS >= 0 && warmupS <= 600)) throw new BenchArgsError('--warmup: must be a number of seconds in [0, 600]')
  if (values.ingest !== 'broker' && values.ingest !== 'gateway') throw new BenchArgsError('--ingest: broker or gateway')
  const ingest: BenchPlan['ingest'] = values.ingest
  const common = { only, durationS, warmupS, profile: values.profile, ingest, outDir: values.out, p99LimitMs: 100 }
  if (values.quick) {
    return {
      ...common, quick: true, machines: 40, machinesPerKassa: 10, fixedRates: [20, 50], stepRates: [50, 100],
      oneKassaMachines: 10, oneKassaRate: 100, burstSales: 500,
      scaleMachines: 200, scaleRate: 50, clusterRate: 50, failoverMachines: 60, failoverRate: 30,
      stormMachines: 200, stormRate: 50, scaleRampPerS: 500, rampPerS: 1000, drainS: 15,
    }
  }
  return {
    ...common, quick: false, machines: 1000, machinesPerKassa: 100, fixedRates: [500, 1000],
    stepRates: [250, 500, 1000, 2000, 3000, 4000, 5000, 6000, 8000, 10_000, 12_000, 15_000, 20_000],
    oneKassaMachines: 20, oneKassaRate: 500, burstSales: 5000,
    scaleMachines: 10_000, scaleRate: 1000, clusterRate: 500, failoverMachines: 3000, failoverRate: 300,
    stormMachines: 10_000, stormRate: 300, scaleRampPerS: 500, rampPerS: 1000, drainS: 30,
  }
}
