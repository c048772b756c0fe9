import { sql, type Kysely } from 'kysely'
import type { Database } from './schema.js'

export interface DatabaseProbeOptions {
  db: Kysely<Database>
  /** Called with each verdict: true when `select 1` answered within `timeoutMs`. */
  onHealth: (healthy: boolean) => void
  /** ms between probes (default 2,000). */
  intervalMs?: number
  /** ms a probe may take before the database counts as away (default 3,000). */
  timeoutMs?: number
}

/**
 * Readiness when no sales arrive: ingest reports the database's health on every write, but a quiet
 * gateway writes nothing, so without this a partition would leave /readyz saying ready. One probe
 * at a time: a probe that hangs (a partition answers nothing) holds one pooled connection until
 * keepalive ends it, and no second one starts behind it.
 */
export function createDatabaseProbe(o: DatabaseProbeOptions) {
  const intervalMs = o.intervalMs ?? 2_000
  const timeoutMs = o.timeoutMs ?? 3_000
  let timer: NodeJS.Timeout | null = null
  let running = false

  async function probe(): Promise<boolean> {
    let late: NodeJS.Timeout | undefined
    const deadline = new Promise<boolean>((resolve) => { late = setTimeout(() => resolve(false), timeoutMs) })
    const answer = sql`select 1`.execute(o.db).then(() => true, () => false)
    const healthy = await Promise.race([answer, deadline])
    clearTimeout(late)
    if (!healthy) {
      // Report the hang now, but keep this probe the only one until its query settles.
      o.onHealth(false)
      await answer
      return false
    }
    o.onHealth(true)
    return true
  }

  function tick(): void {
    if (running) return
    running = true
    void probe().finally(() => { running = false })
  }

  return {
    probe,
    start(): void {
      timer ??= setInterval(tick, intervalMs)
      timer.unref()
    },
    stop(): void {
      if (timer) clearInterval(timer)
      timer = null
    },
  }
}
