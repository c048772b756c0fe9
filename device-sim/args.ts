import { parseArgs } from 'node:util'
import { z } from 'zod'
import { MqttUrlSchema, TopicPrefixSchema, type SimEnv } from './config.js'

// `npm run sim -- …` arguments: node:util parseArgs reads them, zod checks them, and every problem
// names its flag so a bad run stops before it connects anything.

export const USAGE = `usage: npm run sim -- --machines N --rate R --duration S [options]

  --machines N        machines to simulate (default: all in --credentials, else 10)
  --rate R            sales per second across the fleet, open loop (default 10)
  --duration S        seconds of sales; 0 runs until Ctrl-C (default 60)
  --url URL           broker (default $MQTT_URL, else a running npm start's, else mqtt://127.0.0.1:1883)
  --prefix P          topic prefix (default $MQTT_TOPIC_PREFIX or vending)
  --credentials F     JSON array of {"id","secret"} (as printed by npm run fleet -- add-machine)
  --id-prefix P       machine ids without --credentials: P001, P002 … (default VM-), empty password
  --state-file F      keep unanswered sales here across restarts
  --catalogue F       JSON array of {"sku","name","price","vat"} (price in kopecks)
  --seed N            reproducible sale contents
  --ramp N            machines connected per second (default 500)
  --drain S           seconds to wait for outstanding answers after the run (default 10)
  --retry-initial MS  first republish after MS (default 2000); doubles up to --retry-max
  --retry-max MS      longest wait between copies (default 30000)
  --telemetry S       seconds between telemetry readings per machine, 0 for none (default 60)
  --audit S           EVA-DTS audits: each machine uploads one at start, every S seconds (0: only
                      at start, at the end and on SIGUSR2), and after the drain (default: none)
  --offline-vends N   N of the sales are "offline" cash vends: counted in the audit, never published
  --offline-machines A,B  the machines that make them (default: the first three)
  --json              progress lines as JSON; the final report is always JSON on stdout
  --help`

const int = (min: number) => z.coerce.number({ error: 'must be a number' }).int('must be a whole number').min(min, `must be at least ${min}`)
const num = (min: number) => z.coerce.number({ error: 'must be a number' }).min(min, `must be at least ${min}`)

const ArgsSchema = z.object({
  machines: int(1).optional(),
  rate: num(0).default(10),
  duration: num(0).default(60),
  url: MqttUrlSchema.optional(),
  prefix: TopicPrefixSchema.optional(),
  credentials: z.string().min(1).optional(),
  'id-prefix': z.string().regex(/^[A-Za-z0-9_-]{0,58}$/, 'must be at most 58 of [A-Za-z0-9_-]').default('VM-'),
  'state-file': z.string().min(1).optional(),
  catalogue: z.string().min(1).optional(),
  seed: int(0).optional(),
  ramp: num(1).default(500),
  drain: num(0).default(10),
  'retry-initial': num(1).default(2_000),
  'retry-max': num(1).default(30_000),
  telemetry: num(0).default(60),
  audit: num(0).optional(),
  'offline-vends': int(0).default(0),
  'offline-machines': z.string().regex(/^[A-Za-z0-9_-]+(,[A-Za-z0-9_-]+)*$/, 'must be machine ids separated by commas').optional(),
  json: z.boolean().default(false),
  help: z.boolean().default(false),
})

export interface SimArgs {
  machines: number | undefined
  rate: number
  /** s; Infinity when --duration 0 */
  durationS: number
  url: string
  /** Where url came from; 'default' lets the CLI look for a running `npm start` first. */
  urlSource: 'flag' | 'env' | 'default'
  prefix: string
  credentials: string | undefined
  idPrefix: string
  stateFile: string | undefined
  catalogue: string | undefined
  seed: number | undefined
  rampUpPerSecond: number
  drainTimeoutS: number
  retryInitialMs: number
  retryMaxMs: number
  telemetryIntervalS: number
  /** s between audits; undefined: no audits. */
  auditIntervalS: number | undefined
  offlineVends: number
  offlineMachines: string[] | undefined
  json: boolean
  help: boolean
}

export type ParsedArgs = { ok: true; args: SimArgs } | { ok: false; problems: string[] }

const FLAGS = Object.keys(ArgsSchema.shape) as (keyof typeof ArgsSchema.shape)[]

export function parseSimArgs(argv: readonly string[], env: SimEnv): ParsedArgs {
  let values: Record<string, unknown>
  try {
    const options = Object.fromEntries(
      FLAGS.map((flag) => [flag, { type: flag === 'json' || flag === 'help' ? ('boolean' as const) : ('string' as const) }]),
    )
    values = parseArgs({ args: [...argv], options, strict: true, allowPositionals: false }).values
  } catch (err) {
    return { ok: false, problems: [(err as Error).message] }
  }
  const parsed = ArgsSchema.safeParse(values)
  if (!parsed.success) {
    return { ok: false, problems: parsed.error.issues.map((i) => `--${i.path.join('.')}: ${i.message}`) }
  }
  const a = parsed.data
  const problems: string[] = []
  if (a['retry-max'] < a['retry-initial']) problems.push('--retry-max: must not be below --retry-initial')
  if (problems.length) return { ok: false, problems }
  return {
    ok: true,
    args: {
      machines: a.machines,
      rate: a.rate,
      durationS: a.duration === 0 ? Infinity : a.duration,
      url: a.url ?? env.mqttUrl,
      urlSource: a.url !== undefined ? 'flag' : env.mqttUrlGiven ? 'env' : 'default',
      prefix: a.prefix ?? env.topicPrefix,
      credentials: a.credentials,
      idPrefix: a['id-prefix'],
      stateFile: a['state-file'],
      catalogue: a.catalogue,
      seed: a.seed,
      rampUpPerSecond: a.ramp,
      drainTimeoutS: a.drain,
      retryInitialMs: a['retry-initial'],
      retryMaxMs: a['retry-max'],
      telemetryIntervalS: a.telemetry,
      auditIntervalS: a.audit,
      offlineVends: a['offline-vends'],
      offlineMachines: a['offline-machines']?.split(','),
      json: a.json,
      help: a.help,
    },
  }
}
