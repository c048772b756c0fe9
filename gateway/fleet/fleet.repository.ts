import { randomBytes } from 'node:crypto'
import { sql, type Kysely } from 'kysely'
import type { Database, KassaRow } from '../db/schema.js'
import type { FnModel } from '../fiscal/fn.types.js'

export class FleetError extends Error {}

export interface NewKassa {
  id: string; name: string; inn: string; reg: string; sno: string; tz: string
  /** The emulated FN; a cloud kassa (provider other than 'emulated') has none of ours. */
  fn?: string; fnModel: FnModel; docLimit: number
  provider?: string; providerConfig?: unknown
}

/** A kassa and its first FN, registered now with a fresh signing key (an emulated kassa's). */
export async function addKassa(db: Kysely<Database>, k: NewKassa, now: Date): Promise<void> {
  await db.transaction().execute(async (tx) => {
    if (await tx.selectFrom('kassas').select('id').where('id', '=', k.id).executeTakeFirst()) {
      throw new FleetError(`kassa ${k.id} already exists`)
    }
    if (k.fn !== undefined && await tx.selectFrom('fiscal_drives').select('fn').where('fn', '=', k.fn).executeTakeFirst()) {
      throw new FleetError(`FN ${k.fn} is already registered`)
    }
    await tx.insertInto('kassas').values({
      id: k.id, name: k.name, inn: k.inn, reg_number: k.reg, sno: k.sno, time_zone: k.tz,
      provider: k.provider ?? 'emulated',
      provider_config: k.providerConfig === undefined ? null : JSON.stringify(k.providerConfig),
    }).execute()
    if (k.fn !== undefined) await insertDrive(tx, k.id, k.fn, k.fnModel, k.docLimit, now)
  })
}

async function insertDrive(db: Kysely<Database>, kassaId: string, fn: string, model: FnModel, docLimit: number, now: Date) {
  await db.insertInto('fiscal_drives').values({
    fn, kassa_id: kassaId, model, secret: randomBytes(32), registered_at: now, doc_limit: docLimit,
  }).execute()
}

export async function findKassaOrFail(db: Kysely<Database>, id: string): Promise<KassaRow> {
  const kassa = await db.selectFrom('kassas').selectAll().where('id', '=', id).executeTakeFirst()
  if (!kassa) throw new FleetError(`kassa ${id} does not exist`)
  return kassa
}

export interface NewMachine { id: string; kassaId: string; number: string; address: string; place: string; tz: string; secretHash: string }

export async function addMachine(db: Kysely<Database>, m: NewMachine): Promise<void> {
  const inserted = await db.insertInto('machines').values({
    id: m.id, kassa_id: m.kassaId, number: m.number, address: m.address, place: m.place,
    time_zone: m.tz, secret_hash: m.secretHash,
  }).onConflict((oc) => oc.column('id').doNothing()).returning('id').executeTakeFirst()
  if (!inserted) throw new FleetError(`machine ${m.id} already exists`)
}

/** Changes a machine's credentials; the broker notices `credentials_at` and drops live sessions. */
export async function updateCredentials(db: Kysely<Database>, id: string, change: { secretHash?: string; disabled?: boolean }): Promise<void> {
  const updated = await db.updateTable('machines').set({
    ...(change.secretHash !== undefined ? { secret_hash: change.secretHash } : {}),
    ...(change.disabled !== undefined ? { disabled: change.disabled } : {}),
    credentials_at: sql`now()`,
  }).where('id', '=', id).returning('id').executeTakeFirst()
  if (!updated) throw new FleetError(`machine ${id} does not exist`)
}

/**
 * Maps a machine to another kassa; its pending sales follow it (they have no receipt yet).
 *
 * A batch of the old kassa may hold some of those sales at this moment, so the move first takes
 * what every signer of that kassa takes: its FN row, with an update that gives the row a new
 * version, and the kassa row a cloud kassa's submission claims. A locked batch in flight is
 * waited for, and the move then leaves the sales it receipted where they are; a checked batch
 * signed before the move finds the FN moved and writes nothing (batch-commit.repository.ts). Without
 * this, a batch that had read a sale before the move committed could still receipt it on the old
 * kassa's FN while its row said the new kassa (test/integration/move-machine.test.ts).
 */
export async function moveMachine(db: Kysely<Database>, id: string, kassa: KassaRow): Promise<number> {
  return db.transaction().execute(async (tx) => {
    const machine = await tx.selectFrom('machines').select(['id', 'kassa_id', 'time_zone']).where('id', '=', id).forUpdate().executeTakeFirst()
    if (!machine) throw new FleetError(`machine ${id} does not exist`)
    if (machine.time_zone !== kassa.time_zone) {
      throw new FleetError(`machine ${id} is in ${machine.time_zone} but kassa ${kassa.id} is in ${kassa.time_zone}: receipts must carry the local time of the place of settlement`)
    }
    // The emulated FN's signers: its row lock orders them, its version (xmin) checks them.
    await sql`update fiscal_drives set next_fd = next_fd where kassa_id = ${machine.kassa_id} and active`.execute(tx)
    // A cloud kassa's submission claims the kassa row (atol.repository.ts, claimAtolKassa).
    await tx.selectFrom('kassas').select('id').where('id', '=', machine.kassa_id).forNoKeyUpdate().execute()
    await tx.updateTable('machines').set({ kassa_id: kassa.id }).where('id', '=', id).execute()
    const moved = await tx.updateTable('sales').set({ kassa_id: kassa.id, run_at: sql`now()` })
      .where('machine_id', '=', id).where('state', '=', 'pending').executeTakeFirst()
    return Number(moved.numUpdatedRows)
  })
}

/** Retires the kassa's FN (kept for verify and receipt pages) and registers a new one, numbering from 1. */
export async function replaceFn(db: Kysely<Database>, kassaId: string, fn: string, model: FnModel, docLimit: number, now: Date): Promise<string | null> {
  return db.transaction().execute(async (tx) => {
    // Waits for a batch in flight on the old FN: its row lock is the fiscalizer's claim.
    const old = await tx.selectFrom('fiscal_drives').select('fn').where('kassa_id', '=', kassaId).where('active', '=', true).forUpdate().executeTakeFirst()
    if (await tx.selectFrom('fiscal_drives').select('fn').where('fn', '=', fn).executeTakeFirst()) {
      throw new FleetError(`FN ${fn} is already registered`)
    }
    if (old) await tx.updateTable('fiscal_drives').set({ active: false, replaced_at: now }).where('fn', '=', old.fn).execute()
    await insertDrive(tx, kassaId, fn, model, docLimit, now)
    await tx.updateTable('sales').set({ run_at: sql`now()` }).where('kassa_id', '=', kassaId).where('state', '=', 'pending').execute()
    return old?.fn ?? null
  })
}

export async function listFleet(db: Kysely<Database>) {
  const kassas = await db.selectFrom('kassas as k')
    .leftJoin('fiscal_drives as f', (j) => j.onRef('f.kassa_id', '=', 'k.id').on('f.active', '=', true))
    .select(['k.id', 'k.name', 'k.inn', 'k.reg_number', 'k.sno', 'k.time_zone', 'k.provider',
      'f.fn', 'f.model', 'f.next_fd', 'f.shift_number', 'f.shift_opened_at', 'f.doc_limit', 'f.blocked_reason'])
    .orderBy('k.id').execute()
  const machines = await db.selectFrom('machines')
    .select(['id', 'kassa_id', 'number', 'address', 'place', 'time_zone', 'disabled', 'online', 'last_seen_at'])
    .orderBy('id').execute()
  return { kassas, machines }
}
