import { sql, type Kysely } from 'kysely'
import type { Telemetry } from '../../protocol/index.js'
import type { Database } from '../db/schema.js'

export interface TelemetrySample {
  machineId: string
  telemetry: Telemetry
}

/** One statement per flush; a sample another gateway already stored (same machine and `at`) is skipped. */
export async function insertTelemetrySamples(db: Kysely<Database>, samples: readonly TelemetrySample[]): Promise<void> {
  if (samples.length === 0) return
  await sql`
    insert into telemetry_history (machine_id, at, telemetry)
    select v.machine_id, v.at, v.telemetry
    from jsonb_to_recordset(${JSON.stringify(samples.map((s) => ({ machine_id: s.machineId, at: s.telemetry.at, telemetry: s.telemetry })))}::jsonb)
      as v(machine_id text, at timestamptz, telemetry jsonb)
    join machines m on m.id = v.machine_id and m.id = any(${[...new Set(samples.map((s) => s.machineId))]}::text[]) -- the index, not a scan of the fleet
    on conflict (machine_id, at) do nothing`.execute(db)
}

/** Keeps the window: samples received within `days`, and at most `rowsPerMachine` newest per machine. */
export async function pruneTelemetryHistory(db: Kysely<Database>, now: Date, days: number, rowsPerMachine: number): Promise<number> {
  const old = await sql`delete from telemetry_history where received_at < ${now}::timestamptz - make_interval(days => ${days})`.execute(db)
  const extra = await sql`
    delete from telemetry_history t using (
      select machine_id, at from (
        select machine_id, at, row_number() over (partition by machine_id order by at desc) as n from telemetry_history
      ) r where r.n > ${rowsPerMachine}
    ) x
    where t.machine_id = x.machine_id and t.at = x.at`.execute(db)
  return Number(old.numAffectedRows ?? 0n) + Number(extra.numAffectedRows ?? 0n)
}

export async function recentTelemetry(db: Kysely<Database>, machineId: string, limit: number): Promise<{ at: Date; receivedAt: Date; telemetry: Telemetry }[]> {
  const rows = await db.selectFrom('telemetry_history').select(['at', 'received_at', 'telemetry'])
    .where('machine_id', '=', machineId).orderBy('at', 'desc').limit(limit).execute()
  return rows.map((r) => ({ at: r.at, receivedAt: r.received_at, telemetry: r.telemetry as Telemetry }))
}
