import { existsSync } from 'node:fs'
import { rename, rm, writeFile } from 'node:fs/promises'
import type { Kysely } from 'kysely'
import { newSecret } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'
import { parseCsv } from './csv.js'
import { UsageError, validateFleetArgs } from './fleet.args.js'
import { FleetError } from './fleet.repository.js'

// `fleet import machines.csv`: thousands of machines in one command. Every row is checked before
// anything is written; the rows go in one transaction as multi-row inserts; the secrets are
// written to the credentials file the simulator reads (device-sim/credentials.ts).

const COLUMNS = ['id', 'kassa', 'address', 'place', 'tz', 'number'] as const
const REQUIRED = ['id', 'address', 'place'] as const
/** Rows per INSERT: 7 parameters each, well under PostgreSQL's 65,535. */
const CHUNK = 1000
/** Problems named before giving up on a file. */
const MAX_PROBLEMS = 20

export interface ImportResult { imported: number; out: string; kassas: string[] }

type MachineRow = { id: string; kassa_id: string; number: string; address: string; place: string; time_zone: string; secret_hash: string }

export function defaultCredentialsPath(csvPath: string): string {
  return `${csvPath.replace(/\.csv$/i, '')}.credentials.json`
}

export async function importMachines(db: Kysely<Database>, options: { csv: string; out: string; kassa?: string | undefined; hashOf: (secret: string) => string }): Promise<ImportResult> {
  const [header, ...records] = parseCsv(options.csv)
  if (!header) throw new UsageError('import: the file is empty')
  const names = header.fields.map((f) => f.trim().toLowerCase())
  const unknown = names.filter((n) => !(COLUMNS as readonly string[]).includes(n))
  const missing = [...REQUIRED, ...(options.kassa ? [] : ['kassa'] as const)].filter((n) => !names.includes(n))
  if (unknown.length > 0 || missing.length > 0) {
    throw new UsageError(`import: header must name the columns ${COLUMNS.join(',')} (tz and number optional)` +
      `${missing.length ? `; missing: ${missing.join(', ')}` : ''}${unknown.length ? `; unknown: ${unknown.join(', ')}` : ''}`)
  }
  if (records.length === 0) throw new UsageError('import: no machines after the header')

  const problems: string[] = []
  const seen = new Set<string>()
  const rows = records.map(({ line, fields }) => {
    const raw = Object.fromEntries(names.map((n, i) => [n, fields[i]?.trim() ?? '']).filter(([, v]) => v !== ''))
    if (fields.length !== names.length) problems.push(`line ${line}: ${fields.length} fields, the header has ${names.length}`)
    try {
      const a = validateFleetArgs('add-machine', { kassa: options.kassa, ...raw }) as { id: string; kassa: string; address: string; place: string; tz?: string; number?: string }
      if (seen.has(a.id)) problems.push(`line ${line}: machine ${a.id} appears twice`)
      seen.add(a.id)
      return { line, ...a }
    } catch (err) {
      problems.push(`line ${line}: ${(err as Error).message.replace(/^add-machine: /, '')}`)
      return null
    }
  })
  const fail = () => {
    const more = problems.length > MAX_PROBLEMS ? `\n  … and ${problems.length - MAX_PROBLEMS} more` : ''
    throw new FleetError(`import: nothing imported, ${problems.length} problem(s):\n  ${problems.slice(0, MAX_PROBLEMS).join('\n  ')}${more}`)
  }
  if (problems.length > 0) fail()
  const valid = rows.filter((r) => r !== null)

  const kassaIds = [...new Set(valid.map((r) => r.kassa))]
  const kassas = new Map((await db.selectFrom('kassas').select(['id', 'time_zone']).where('id', 'in', kassaIds).execute()).map((k) => [k.id, k.time_zone]))
  const existing = new Set<string>()
  for (let i = 0; i < valid.length; i += CHUNK) {
    const ids = valid.slice(i, i + CHUNK).map((r) => r.id)
    for (const m of await db.selectFrom('machines').select('id').where('id', 'in', ids).execute()) existing.add(m.id)
  }
  const machines: MachineRow[] = []
  const credentials: { id: string; secret: string }[] = []
  for (const r of valid) {
    const zone = kassas.get(r.kassa)
    const tz = r.tz ?? zone
    const number = r.number ?? r.id
    if (zone === undefined) problems.push(`line ${r.line}: kassa ${r.kassa} does not exist`)
    else if (tz !== zone) problems.push(`line ${r.line}: machine ${r.id} is in ${tz} but kassa ${r.kassa} is in ${zone}`)
    if (existing.has(r.id)) problems.push(`line ${r.line}: machine ${r.id} already exists`)
    if (number.length > 20) problems.push(`line ${r.line}: machine id ${r.id} is longer than the 20 characters of tag 1036: give a number`)
    const secret = newSecret()
    credentials.push({ id: r.id, secret })
    machines.push({ id: r.id, kassa_id: r.kassa, number, address: r.address, place: r.place, time_zone: tz ?? '', secret_hash: options.hashOf(secret) })
  }
  if (problems.length > 0) fail()

  // The secrets exist nowhere else: the file is written before the commit and renamed after it.
  if (existsSync(options.out)) throw new UsageError(`import: ${options.out} exists; give another --out (it may hold secrets of an earlier import)`)
  const pending = `${options.out}.partial`
  await writeFile(pending, `[\n${credentials.map((c) => JSON.stringify(c)).join(',\n')}\n]\n`, { mode: 0o600 })
  try {
    await db.transaction().execute(async (tx) => {
      for (let i = 0; i < machines.length; i += CHUNK) await tx.insertInto('machines').values(machines.slice(i, i + CHUNK)).execute()
    })
  } catch (err) {
    await rm(pending, { force: true })
    if ((err as { code?: string }).code === '23505') throw new FleetError('import: nothing imported: a machine in the file was added meanwhile; run it again')
    throw err
  }
  await rename(pending, options.out)
  return { imported: machines.length, out: options.out, kassas: kassaIds }
}
