import { readFile } from 'node:fs/promises'
import { z } from 'zod'
import { MACHINE_ID_PATTERN } from '../protocol/index.js'
import type { FleetMachine } from './fleet.js'

// `--credentials`: the machines' logins, as `npm run fleet -- add-machine` prints them, collected
// into one JSON array. Other fields (kassa, address …) are allowed and ignored.
const CredentialsSchema = z
  .array(z.object({ id: z.string().regex(MACHINE_ID_PATTERN, 'must be 1–64 of [A-Za-z0-9_-]'), secret: z.string() }))
  .min(1)
  .refine((list) => new Set(list.map((m) => m.id)).size === list.length, 'every id must be unique')

export async function readCredentials(path: string): Promise<FleetMachine[]> {
  let json: unknown
  try {
    json = JSON.parse(await readFile(path, 'utf8'))
  } catch (err) {
    throw new Error(`${path}: ${(err as Error).message}`, { cause: err })
  }
  const parsed = CredentialsSchema.safeParse(json)
  if (!parsed.success) {
    const issue = parsed.error.issues[0]
    throw new Error(`${path}: ${issue?.path.join('.') || '(root)'}: ${issue?.message}`)
  }
  return parsed.data.map(({ id, secret }) => ({ id, secret }))
}

/** VM-001 … VM-N (wider when N needs it), with an empty password: for brokers without auth. */
export function numberedMachines(idPrefix: string, count: number): FleetMachine[] {
  const width = Math.max(3, String(count).length)
  return Array.from({ length: count }, (_, i) => ({ id: `${idPrefix}${String(i + 1).padStart(width, '0')}`, secret: '' }))
}
