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
const timeZone = z.string().refine(isTimeZone, 'must be an IANA time zone such as Europe/Moscow')
const fnNumber = z.string().regex(/^9999\d{12}$/, 'must be 16 digits starting with 9999 (the emulated FN uses the test range)')

const SCHEMAS = {
  'add-kassa': z.strictObject({
    id: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'must be 1–64 of A-Z a-z 0-9 _ -'),
    name: z.string().min(1).max(256),
    inn: z.string().refine(isValidInn, 'must be a valid INN (10 or 12 digits with correct check digits)'),
    reg: z.string().regex(/^\d{16}$/, 'must be the 16-digit KKT registration number'),
    fn: fnNumber,
    sno: z.enum(TAX_SYSTEMS),
    tz: timeZone,
    'fn-model': z.enum(Object.keys(FN_MODELS) as [keyof typeof FN_MODELS]).default('fn-36'),
    'doc-limit': z.coerce.number().int().min(10).max(10_000_000).default(250_000),
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
  'move-machine': z.strictObject({ id: machineId, kassa: z.string().min(1) }),
  'replace-fn': z.strictObject({
    kassa: z.string().min(1),
    fn: fnNumber,
    'fn-model': z.enum(Object.keys(FN_MODELS) as [keyof typeof FN_MODELS]).default('fn-36'),
    'doc-limit': z.coerce.number().int().min(10).max(10_000_000).default(250_000),
  }),
  list: z.strictObject({}),
  verify: z.strictObject({}),
} as const

export type FleetCommand = keyof typeof SCHEMAS
export type FleetArgs<C extends FleetCommand> = z.infer<(typeof SCHEMAS)[C]>
export const FLEET_COMMANDS = Object.keys(SCHEMAS) as FleetCommand[]

export class UsageError extends Error {}

/** `add-kassa --id K1 …` → the command and its validated options; a UsageError names what is wrong. */
export function parseFleetArgs(argv: readonly string[]): { command: FleetCommand; args: Record<string, unknown> } {
  const [command, ...rest] = argv
  if (!command || !(FLEET_COMMANDS as string[]).includes(command)) {
    throw new UsageError(`unknown command ${command ?? '(none)'}; expected one of: ${FLEET_COMMANDS.join(', ')}`)
  }
  let values: Record<string, unknown>
  try {
    const parsed = parseArgs({ args: [...rest], strict: false, allowPositionals: false })
    values = parsed.values
  } catch (err) {
    throw new UsageError((err as Error).message)
  }
  for (const [k, v] of Object.entries(values)) {
    if (v === true) throw new UsageError(`--${k} needs a value`)
  }
  const schema = SCHEMAS[command as FleetCommand]
  const result = schema.safeParse(values)
  if (!result.success) {
    const unknown = result.error.issues.find((i) => i.code === 'unrecognized_keys')
    if (unknown && 'keys' in unknown) throw new UsageError(`unknown option ${unknown.keys.map((k) => `--${k}`).join(', ')} for ${command}`)
    throw new UsageError(`${command}: ${formatIssues(result.error.issues).replace(/(^|; )([a-z-]+):/g, '$1--$2:')}`)
  }
  return { command: command as FleetCommand, args: result.data as Record<string, unknown> }
}
