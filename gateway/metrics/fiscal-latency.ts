import { sql, type Kysely } from 'kysely'
import type { Histogram } from 'prom-client'
import type { Database } from '../db/schema.js'
import type { OutboxEntry } from '../display/outbox.repository.js'

export interface FiscalLatencyDeps {
  db: Kysely<Database>
  /** receive → the batch's commit (s). */
  commit: Histogram
  /** receive → the broker's PUBACK of the display (s). */
  display: Histogram
  onError: (err: unknown) => void
  /** Monotonic ms clock (tests may replace it). */
  clock?: () => number
}

/** Displays tracked at once; a display whose PUBACK never comes is forgotten oldest first. */
const MAX_TRACKED = 50_000
/** ms committed batches wait to share one read of their sales' ages. */
const AGES_EVERY_MS = 50

/**
 * Latency from a sale's `received_at` to its commit and to its display PUBACK. `received_at` is
 * the database's clock, the hooks run on ours: rather than compare two clocks (a skew of a few ms
 * would swamp a 1 ms latency), one query after the commit asks the database how old each sale is
 * *now*, and that age is placed on our monotonic clock. The error is at most that query's round
 * trip. The query runs after the displays are published, off the sale's path.
 */
export function createFiscalLatency(deps: FiscalLatencyDeps) {
  const clock = deps.clock ?? (() => performance.now())
  /** Receipt (machine and sale) → the sale's receipt instant on our clock, once known. */
  const receivedAt = new Map<string, number>()
  /** Receipts committed whose received_at is being read; PUBACKs that beat the read wait here. */
  const awaiting = new Map<string, number | null>()
  const keyOf = (d: OutboxEntry) => `${d.machineId}\u0000${d.saleId}`
  /** A committed receipt: an outbox row's or the emulated FN's (no row, a range); not a direct answer. */
  const committedReceipt = (d: OutboxEntry) => d.payload.type === 'receipt' && (d.id >= 0 || d.range !== undefined)

  /** Batches committed since the last read of their sales' ages: one query serves them all. */
  let queue: { committedAt: number; receipts: OutboxEntry[] }[] = []
  let timer: NodeJS.Timeout | null = null

  function committed(displays: readonly OutboxEntry[]): void {
    const committedAt = clock()
    let receipts = displays.filter(committedReceipt)
    // Ages read by the statement that wrote the receipts: observed now, no query of their own.
    // The error is the rest of that statement (its commit) and the answer's way back.
    const aged = receipts.filter((d) => d.ageMs !== undefined)
    for (const d of aged) {
      deps.commit.observe(d.ageMs! / 1000)
      remember(keyOf(d), committedAt - d.ageMs!)
    }
    if (aged.length > 0) receipts = receipts.filter((d) => d.ageMs === undefined)
    if (receipts.length === 0 || awaiting.size > MAX_TRACKED) return
    for (const d of receipts) awaiting.set(keyOf(d), null)
    queue.push({ committedAt, receipts })
    // A query per batch was a sixth of the fiscalizer's statements (scripts/bench); each age is
    // still read on the database's clock, so waiting to share the query costs no accuracy.
    timer ??= setTimeout(readAges, AGES_EVERY_MS)
    timer.unref()
  }

  function readAges(): void {
    timer = null
    const batches = queue
    queue = []
    const all = batches.flatMap((b) => b.receipts)
    void ages(all).then((byKey) => {
      const answeredAt = clock()
      for (const { committedAt, receipts } of batches) {
        for (const d of receipts) {
          const sentAt = awaiting.get(keyOf(d))
          awaiting.delete(keyOf(d))
          const ageMs = byKey.get(keyOf(d))
          if (ageMs === undefined) continue
          const received = answeredAt - ageMs
          deps.commit.observe(Math.max(0, committedAt - received) / 1000)
          if (sentAt !== null && sentAt !== undefined) deps.display.observe(Math.max(0, sentAt - received) / 1000)
          else remember(keyOf(d), received)
        }
      }
    }, (err: unknown) => {
      for (const d of all) awaiting.delete(keyOf(d))
      deps.onError(err)
    })
  }

  function sent(entry: OutboxEntry): void {
    if (!committedReceipt(entry)) return
    const t = clock()
    const key = keyOf(entry)
    const received = receivedAt.get(key)
    if (received !== undefined) {
      receivedAt.delete(key)
      deps.display.observe(Math.max(0, t - received) / 1000)
    } else if (awaiting.get(key) === null) {
      awaiting.set(key, t)
    }
  }

  function remember(key: string, received: number): void {
    receivedAt.set(key, received)
    // Maps iterate in insertion order: the first key is the oldest.
    if (receivedAt.size > MAX_TRACKED) receivedAt.delete(receivedAt.keys().next().value!)
  }

  async function ages(displays: readonly OutboxEntry[]): Promise<Map<string, number>> {
    const rows = await sql<{ machine_id: string; sale_id: string; age_ms: number }>`
      select s.machine_id, s.sale_id, extract(epoch from clock_timestamp() - s.received_at)::float8 * 1000 as age_ms
      from unnest(${displays.map((d) => d.machineId)}::text[], ${displays.map((d) => d.saleId)}::text[]) as v(m, s)
      join sales s on s.machine_id = v.m and s.sale_id = v.s`.execute(deps.db)
    return new Map(rows.rows.map((r) => [`${r.machine_id}\u0000${r.sale_id}`, Number(r.age_ms)]))
  }

  return { committed, sent, tracked: () => receivedAt.size + awaiting.size }
}
export type FiscalLatency = ReturnType<typeof createFiscalLatency>
