import { parseArgs } from 'node:util'
import { z } from 'zod'
import { MACHINE_ID_PATTERN, formatIssues } from '../../protocol/index.js'
import { FN_MODELS, TAX_SYSTEMS } from '../fiscal/fn.types.js'

/** INN check digits (10 digits for an organisation, 12 for a sole proprietor). */
export function isValidInn(inn: string): boolean {
  const d = [...inn].map(Number)
  const check = (weights: number[]) => (weights.reduce((s, w, i) => s + w * d[i]!, 0) % 11) % 10
  if (/^\d{10}$/.test(inn)) return check([2, 4, 10, 3, 5, 9, 4, 6, 8]) === d[9]
  if (/^\d{12}$/.test(inn)) {
    return check([7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) === d[10] && check([3, 7, 2, 4, 10, 3, 5, 9, 4, 6, 8]) === d[11]
  }
  return false
}

export function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

const machineId = z.string().regex(MACHINE_ID_PATTERN, 'must be 1–64 of A-Z a-z 0-9 _ -')
  // The broker reserves client ids starting with "gateway" for the gateway's own connections.
  .refine((id) => !/^gateway/i.test(id), 'must not start with "gateway" (reserved for the gateway)')
const timeZone = z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Moscow')
const fnNumber = z.string().regex(/^9999\d{12}$/, 'must be 16 digits starting with 9999 (the emulated FN uses the test range)')

export const KASSA_PROVIDERS = ['emulated', 'atol-v5'] as const
const ATOL_ONLY = ['base-url', 'login', 'group', 'password-env', 'password-file', 'client-email', 'client-phone', 'company-email', 'timeout-ms'] as const

const SCHEMAS = {
  'add-kassa': z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 of A-Z a-z 0-9 _ -'),
    name: z.string().min(1).max(256),
    inn: z.string().refine(isValidInn, 'must be a valid INN (10 or 12 digits with correct check digits)'),
    // Required for the emulated FN; a cloud kassa's registration and FN numbers come back with each receipt.
    reg: z.string().regex(/^\d{16}$/, 'must be the 16-digit KKT registration number').optional(),
    fn: fnNumber.optional(),
    sno: z.enum(TAX_SYSTEMS),
    tz: timeZone,
    'fn-model': z.enum(Object.keys(FN_MODELS) as [keyof typeof FN_MODELS]).default('fn-36'),
    'doc-limit': z.coerce.number().int().min(10).max(10_000_000).default(250_000),
    provider: z.enum(KASSA_PROVIDERS).default('emulated'),
    // atol-v5 (ATOL Online, Ecom Kassa): kassas.provider_config, checked again by AtolSignerConfigSchema.
    'base-url': z.url({ protocol: /^https?$/ }).optional(),
    login: z.string().min(1).max(100).optional(),
    group: z.string().min(1).max(100).optional(),
    // The password is never an option: only where to read it, so it stays out of the database and shell history.
    'password-env': z.string().regex(/^[A-Z_][A-Z0-9_]*$/, 'must be an environment variable name such as ATOL_PASSWORD').optional(),
    'password-file': z.string().min(1).optional(),
    'client-email': z.email().max(64).optional(),
    'client-phone': z.string().regex(/^\+?\d{1,18}$/).optional(),
    'company-email': z.email().max(64).optional(),
    'timeout-ms': z.coerce.number().int().min(100).max(120_000).optional(),
  }).superRefine((a, ctx) => {
    const issue = (key: string, message: string) => ctx.addIssue({ code: 'custom', path: [key], message })
    if (a.provider === 'emulated') {
      if (a.fn === undefined) issue('fn', 'required for an emulated kassa')
      if (a.reg === undefined) issue('reg', 'required for an emulated kassa')
      for (const key of ATOL_ONLY) if (a[key] !== undefined) issue(key, 'only for --provider atol-v5')
      return
    }
    for (const key of ['base-url', 'login', 'group'] as const) if (a[key] === undefined) issue(key, `required for --provider ${a.provider}`)
    if ((a['password-env'] === undefined) === (a['password-file'] === undefined)) issue('password-env', 'give exactly one of --password-env and --password-file')
    if (a.fn !== undefined) issue('fn', "a cloud kassa has no emulated FN: the provider's FN numbers come back with each receipt")
  }),
  'add-machine': z.strictObject({
    id: machineId,
    kassa: z.string().min(1),
    address: z.string().min(1).max(256),
    place: z.string().min(1).max(256),
    tz: timeZone.optional(),
    // FFD 1.2 tag 1036 holds at most 20 characters.
    number: z.string().min(1).max(20).optional(),
  }),
  'rotate-secret': z.strictObject({ id: machineId }),
  'disable-machine': z.strictObject({ id: machineId }),
  'enable-machine': z.strictObject({ id: machineId }),
  // The CSV is the positional argument (`import machines.csv`); its rows are checked as add-machine's options.
  import: z.strictObject({
    file: z.string().min(1),
    out: z.string().min(1).optional(),
    kassa: z.string().min(1).optional(),
  }),
  'move-machine': z.strictObject({ id: machineId, kassa: z.string().min(1) }),
  'replace-fn': z.strictObject({
    kassa: z.string().min(1),
    fn: fnNumber,
    'fn-model': z.enum(Object.keys(FN_MODELS) as [keyof typeof FN_MODELS]).default('fn-36'),
    'doc-limit': z.coerce.number().int().min(10).max(10_000_000).default(250_000),
  }),
  // An operator console user. The password is read from a file (its first line), never taken as an
  // option (shell history); without --password-file one is generated and printed once.
  'add-user': z.strictObject({
    username: z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1–64 of A-Z a-z 0-9 . _ @ -'),
    role: z.enum(['admin', 'operator', 'viewer']).default('admin'),
    'password-file': z.string().min(1).optional(),
  }),
  list: z.strictObject({}),
  verify: z.strictObject({}),
  correct: z.strictObject({
    machine: machineId,
    // An interval is named by the id of the audit that closes it (GET /api/machines/{id}/reconciliation).
    interval: z.coerce.number().int().min(1),
    // s after the closing audit before its sales are taken as complete (the gateway's AUDIT_SETTLE_S).
    'settle-s': z.coerce.number().int().min(0).max(86_400).default(300),
  }),
} as const

export type FleetCommand = keyof typeof SCHEMAS
export type FleetArgs<C extends FleetCommand> = z.infer<(typeof SCHEMAS)[C]>
export const FLEET_COMMANDS = Object.keys(SCHEMAS) as FleetCommand[]

export class UsageError extends Error {}

/** The `--options` a command accepts (its positional argument, if any, excluded). */
export function commandOptions(command: FleetCommand): string[] {
  return Object.keys(SCHEMAS[command].shape).filter((name) => !(command === 'import' && name === 'file'))
}

/** What a command line asks for: help (on the tool or one command), or a command to run. */
export type CommandLine =
  | { help: true; command: FleetCommand | undefined }
  | { help: false; command: FleetCommand; args: Record<string, unknown>; json: boolean }

/** Like parseFleetArgs, and also `--help` (anywhere), `help [command]` and `--json`. */
export function parseCommandLine(argv: readonly string[]): CommandLine {
  const json = argv.includes('--json')
  const rest = argv.filter((a) => a !== '--json')
  const [first, second] = rest
  const known = (c: string | undefined) => (FLEET_COMMANDS as (string | undefined)[]).includes(c) ? c as FleetCommand : undefined
  if (first === 'help') return { help: true, command: known(second) }
  if (rest.includes('--help') || rest.includes('-h')) return { help: true, command: known(first) }
  return { help: false, json, ...parseFleetArgs(rest) }
}

/** `add-kassa --id K1 …` → the command and its validated options; a UsageError names what is wrong. */
export function parseFleetArgs(argv: readonly string[]): { command: FleetCommand; args: Record<string, unknown> } {
  const [command, ...rest] = argv
  if (!command || !(FLEET_COMMANDS as string[]).includes(command)) {
    throw new UsageError(`unknown command ${command ?? '(none)'}; expected one of: ${FLEET_COMMANDS.join(', ')}`)
  }
  const schema = SCHEMAS[command as FleetCommand]
  const positional = command === 'import' ? 'file' : undefined
  const options = Object.fromEntries(commandOptions(command as FleetCommand).map((name) => [name, { type: 'string' as const }]))
  let values: Record<string, unknown>
  try {
    const parsed = parseArgs({ args: [...rest], options, strict: true, allowPositionals: positional !== undefined })
    values = parsed.values
    if (positional !== undefined) {
      if (parsed.positionals.length !== 1) throw new Error(`give one ${positional}`)
      values = { ...values, [positional]: parsed.positionals[0] }
    }
  } catch (err) {
    // node:util's messages name the option: "Unknown option '--colour'", "Option '--id <value>' argument missing".
    throw new UsageError(`${command}: ${(err as Error).message.split('. ')[0]}`)
  }
  return { command: command as FleetCommand, args: validateFleetArgs(command as FleetCommand, values) }
}

/** Checks a command's options (from the command line or from code) and fills in the defaults. */
export function validateFleetArgs(command: FleetCommand, values: Record<string, unknown>): Record<string, unknown> {
  const result = SCHEMAS[command].safeParse(values)
  if (!result.success) {
    throw new UsageError(`${command}: ${formatIssues(result.error.issues).replace(/(^|; )([a-z-]+):/g, '$1--$2:')}`)
  }
  return result.data as Record<string, unknown>
}
