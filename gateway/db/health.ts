import pg from 'pg'

export interface DatabaseProbeOptions {
  /** The PostgreSQL server the gateway uses. */
  url: string
  /** Called with each verdict: true when `select 1` answered within `timeoutMs`. */
  onHealth: (healthy: boolean) => void
  /** ms between probes (default 2,000). */
  intervalMs?: number
  /** ms a probe may take, connecting included, before the database counts as away (default 3,000). */
  timeoutMs?: number
}

/**
 * Readiness when no sales arrive: ingest reports the database's health on every write, but a quiet
 * gateway writes nothing, so without this a partition would leave /readyz saying ready. The probe
 * has a connection of its own, outside the pool the sales need: one that does not answer in time
 * is destroyed (a query sent into a partition waits on TCP retransmission for many minutes) and
 * the next probe connects afresh.
 */
export function createDatabaseProbe(o: DatabaseProbeOptions) {
  const intervalMs = o.intervalMs ?? 2_000
  const timeoutMs = o.timeoutMs ?? 3_000
  let timer: NodeJS.Timeout | null = null
  let client: pg.Client | null = null
  let running: Promise<boolean> | null = null
  let stopped = false

  function discard(c: pg.Client): void {
    if (client === c) client = null
    // end() waits for the server to see the Terminate; a partitioned socket is destroyed instead.
    ;(c as unknown as { connection?: { stream?: { destroy(): void } } }).connection?.stream?.destroy()
    c.end().catch(() => undefined)
  }

  async function attempt(): Promise<boolean> {
    let c = client
    if (!c) {
      c = new pg.Client({ connectionString: o.url, connectionTimeoutMillis: timeoutMs, keepAlive: true })
      c.on('error', () => undefined) // reported by the next probe
      client = c
      await c.connect()
    }
    await c.query('select 1')
    return true
  }

  async function probe(): Promise<boolean> {
    let late: NodeJS.Timeout | undefined
    const deadline = new Promise<false>((resolve) => { late = setTimeout(() => resolve(false), timeoutMs) })
    const healthy = await Promise.race([attempt().catch(() => false as const), deadline])
    clearTimeout(late)
    if (!healthy && client) discard(client)
    if (!stopped) o.onHealth(healthy)
    return healthy
  }

  function tick(): void {
    if (running) return
    running = probe().finally(() => { running = null })
  }

  return {
    probe,
    start(): void {
      timer ??= setInterval(tick, intervalMs)
    },
    async stop(): Promise<void> {
      stopped = true
      if (timer) clearInterval(timer)
      timer = null
      await running
      if (client) discard(client)
    },
  }
}
