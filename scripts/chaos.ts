// `npm run chaos -- --duration S --rate R [--machines N] [--kills K] [--json]`: the whole system as
// real processes (brokers, gateways, both behind a database proxy, a simulated fleet), faults on a
// random schedule, and a verdict: every sale exactly one receipt, gapless and correctly signed.
// Exit 0 when the verdict is clean, 1 when it is not, 2 for bad arguments.
import { parseArgs } from 'node:util'
import { z } from 'zod'
import { runChaos } from './chaos/run-chaos.js'
import { killAllServices } from './chaos/service-process.js'

const USAGE = `usage: npm run chaos -- --duration S --rate R [options]
  --duration S        seconds of sales (default 60)
  --rate R            sales per second across the fleet (default 200)
  --machines N        simulated machines (default 50)
  --kills K           gateway SIGKILLs at random moments, each restarted (default 5)
  --broker-restarts B broker SIGKILLs, restarted on the same port (default 1)
  --db-cuts C         database cuts through the proxy, alternating reset and blackhole (default 1)
  --db-cut-ms MS      length of each cut (default 6000)
  --gateways G        gateway processes on the one database (default 2)
  --brokers N         broker processes (default 1); more share a private redis-server on a free port
  --broker-down-ms MS how long a killed broker stays down before it starts again (default 0)
  --redis-stops S     stops of that Redis during the run (default 0)
  --redis-stop-ms MS  length of each Redis stop (default 5000)
  --drain S           seconds to wait for every sale to be answered after the sales (default 90)
  --retry-max-ms MS   longest wait between a machine's copies of an unanswered sale (default 30000,
                      the simulator's own default)
  --seed N            reproduces the schedule and the sales (default: random)
  --keep              keep the database instead of dropping it
  --logs DIR          write each process's full output to DIR (broker.log, gw1.log …)
  --json              print only the JSON verdict on stdout (progress still goes to stderr)
DATABASE_URL names the PostgreSQL server (default postgres://postgres@127.0.0.1:5432/postgres);
the run creates its own database there and drops it at the end.`

const int = (min: number) => z.coerce.number().int().min(min)
const ArgsSchema = z.strictObject({
  duration: int(1).default(60),
  rate: z.coerce.number().positive().default(200),
  machines: int(1).max(10_000).default(50),
  kills: int(0).default(5),
  'broker-restarts': int(0).default(1),
  'db-cuts': int(0).default(1),
  'db-cut-ms': int(0).default(6000),
  gateways: int(1).max(8).default(2),
  brokers: int(1).max(8).default(1),
  'broker-down-ms': int(0).default(0),
  'redis-stops': int(0).default(0),
  'redis-stop-ms': int(0).default(5000),
  drain: int(1).default(90),
  'retry-max-ms': int(500).default(30_000),
  seed: int(0).default(() => Math.floor(Math.random() * 2 ** 31)),
  keep: z.boolean().default(false),
  logs: z.string().min(1).optional(),
  json: z.boolean().default(false),
  help: z.boolean().default(false),
})

async function main(): Promise<number> {
  let args: z.infer<typeof ArgsSchema>
  try {
    const flags = new Set(['keep', 'json', 'help'])
    const options = Object.fromEntries(Object.keys(ArgsSchema.shape).map((k) => [k, { type: flags.has(k) ? 'boolean' as const : 'string' as const }]))
    const { values } = parseArgs({ args: process.argv.slice(2), strict: true, allowPositionals: false, options })
    args = ArgsSchema.parse(values)
  } catch (err) {
    const message = err instanceof z.ZodError ? err.issues.map((i) => `--${i.path.join('.')}: ${i.message}`).join('; ') : (err as Error).message
    process.stderr.write(`chaos: ${message}\n${USAGE}\n`)
    return 2
  }
  if (args.help) {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  const t0 = Date.now()
  const say = (line: string) => process.stderr.write(`chaos ${((Date.now() - t0) / 1000).toFixed(1)}s: ${line}\n`)
  const result = await runChaos({
    durationS: args.duration, rate: args.rate, machines: args.machines, kills: args.kills,
    brokerRestarts: args['broker-restarts'], dbCuts: args['db-cuts'], dbCutMs: args['db-cut-ms'],
    gateways: args.gateways, brokers: args.brokers, brokerDownMs: args['broker-down-ms'],
    redisStops: args['redis-stops'], redisStopMs: args['redis-stop-ms'], drainS: args.drain, retryMaxMs: args['retry-max-ms'], seed: args.seed,
    keep: args.keep, log: say, ...(args.logs ? { logDir: args.logs } : {}), ...(process.env.DATABASE_URL ? { serverUrl: process.env.DATABASE_URL } : {}),
  })
  const wallS = Math.round((Date.now() - t0) / 100) / 10
  if (args.json) process.stdout.write(`${JSON.stringify({ ...result, wallS })}\n`)
  else process.stdout.write(`${JSON.stringify({ ...result, wallS }, null, 2)}\n`)
  if (!result.ok) say(`NOT CLEAN: ${result.problems.join('; ')}`)
  return result.ok ? 0 : 1
}

// Ctrl-C or SIGTERM: the children die with the harness (their 'exit' hook runs on process.exit).
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => { killAllServices(); process.exit(130) })

main().then((code) => process.exit(code), (err: unknown) => {
  process.stderr.write(`chaos: ${err instanceof Error ? err.stack : String(err)}\n`)
  process.exit(1)
})
