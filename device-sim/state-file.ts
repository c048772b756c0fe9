import { open, readFile, rename, rm } from 'node:fs/promises'
import { z } from 'zod'
import type { PendingSale } from './machine.js'

// `--state-file`: the fleet's unanswered sales, so that they survive a restart of the simulator
// as they would survive a reboot of a real machine. One file for the whole fleet.

export type StoredSale = Omit<PendingSale, 'restored'>

const StoredSaleSchema = z.strictObject({
  saleId: z.string().min(1).max(64),
  payload: z.string().min(1),
  createdAt: z.number(),
  firstSentAt: z.number().nullable(),
  attempts: z.int().min(0),
  nextRetryAt: z.number(),
})

const StateSchema = z.strictObject({
  v: z.literal(1),
  savedAt: z.iso.datetime(),
  machines: z.record(z.string(), z.array(StoredSaleSchema)),
})

/** The stored sales by machine id; an absent file is an empty state. */
export async function readStateFile(path: string): Promise<Map<string, StoredSale[]>> {
  let text: string
  try {
    text = await readFile(path, 'utf8')
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return new Map()
    throw new Error(`state file ${path}: ${(err as Error).message}`, { cause: err })
  }
  let json: unknown
  try {
    json = JSON.parse(text)
  } catch (err) {
    throw new Error(`state file ${path}: not JSON: ${(err as Error).message}`, { cause: err })
  }
  const parsed = StateSchema.safeParse(json)
  if (!parsed.success) throw new Error(`state file ${path}: ${parsed.error.issues[0]?.path.join('.')}: ${parsed.error.issues[0]?.message}`)
  return new Map(Object.entries(parsed.data.machines))
}

export interface StateWriter {
  /** Something changed: a write follows within the debounce interval. */
  touch(): void
  /** Writes now if anything changed and waits for it. */
  flush(): Promise<void>
  /** Flushes and stops the timer. */
  close(): Promise<void>
}

/**
 * Debounced, atomic writes: the whole state goes to a temporary file that is synced and renamed
 * over the old one, so a crash leaves either the previous state or the new one, never half.
 * Writes are debounced (`debounceMs`) because a fleet answers thousands of sales a second and
 * each answer changes the state; a sale answered between two writes may be sent once more after
 * a restart, which the gateway answers with the same receipt.
 */
export function createStateWriter(
  path: string,
  snapshot: () => Record<string, StoredSale[]>,
  debounceMs = 500,
): StateWriter {
  let dirty = false
  let timer: NodeJS.Timeout | null = null
  let writing: Promise<void> = Promise.resolve()

  const write = async (): Promise<void> => {
    if (!dirty) return
    dirty = false
    const text = JSON.stringify({ v: 1, savedAt: new Date().toISOString(), machines: snapshot() })
    const temp = `${path}.${process.pid}.tmp`
    const file = await open(temp, 'w')
    try {
      await file.writeFile(text, 'utf8')
      await file.sync()
    } finally {
      await file.close()
    }
    try {
      await rename(temp, path)
    } catch (err) {
      await rm(temp, { force: true })
      throw err
    }
  }
  // Writes run one after another; a failed write leaves the state dirty for the next one.
  const enqueue = (): Promise<void> => {
    writing = writing.then(write).catch((err: unknown) => {
      dirty = true
      throw err
    })
    const result = writing
    writing = writing.catch(() => undefined)
    return result
  }

  return {
    touch() {
      dirty = true
      timer ??= setTimeout(() => {
        timer = null
        enqueue().catch(() => undefined) // retried at the next touch or flush
      }, debounceMs)
    },
    async flush() {
      if (timer) clearTimeout(timer)
      timer = null
      await writing
      await enqueue()
    },
    async close() {
      await this.flush()
    },
  }
}
