import { sql, type Kysely } from 'kysely'
import type { Logger } from 'pino'
import { collectDefaultMetrics, Counter, Gauge, Histogram, type Registry } from 'prom-client'
import type { Alert } from '../alerts/alert.types.js'
import type { Database } from '../db/schema.js'
import { unacknowledgedDisplays, type OutboxEntry } from '../display/outbox.repository.js'
import type { RejectedMessage } from '../ingest/sale.repository.js'
import { createFiscalLatency } from './fiscal-latency.js'
import { fiscalRejectClass, ingestRejectClass } from './reject-reason.js'

export interface GatewayMetricsDeps {
  /** Made by the composition root: never prom-client's global registry, so gateways in one process stay apart. */
  registry: Registry
  db: Kysely<Database>
  logger: Logger
  mqtt: () => { ingest: boolean; publisher: boolean; subscribed: boolean }
  /** Displays this process published and the broker has not acknowledged yet. */
  displaysInFlight?: () => number
  alerts?: () => readonly Alert[]
}

// Seconds: a sale is signed in about a millisecond when idle and in tens under a burst; the
// display adds a broker round trip. Above 5 s something is wrong (FN blocked, database away).
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60]

/** The gateway's Prometheus metrics and the hooks that move them. */
export function createGatewayMetrics(deps: GatewayMetricsDeps) {
  const registers = [deps.registry]
  collectDefaultMetrics({ register: deps.registry })
  const received = new Counter({ name: 'gateway_sales_received_total', help: 'Sale messages read, by what ingest did with them', labelNames: ['outcome'], registers })
  const rejected = new Counter({ name: 'gateway_sales_rejected_total', help: 'Sales refused, by stage and reason class', labelNames: ['stage', 'reason'], registers })
  const receipts = new Counter({ name: 'gateway_receipts_issued_total', help: 'Receipts signed and committed', labelNames: ['kind'], registers })
  const resent = new Counter({
    name: 'gateway_displays_resent_total', registers,
    help: 'Displays published again by this gateway\'s sweeper because no acknowledgement of them was recorded in time (a gateway that died, a broker away)',
  })
  const batchSize = new Histogram({
    name: 'gateway_fiscal_batch_size', help: 'Sales taken per fiscalization batch', registers,
    buckets: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000],
  })
  const batches = new Counter({
    name: 'gateway_fiscal_batches_total', registers, labelNames: ['read'],
    help: 'Fiscalization batches that took sales: read by a claim, or signed from the sales a kick carried',
  })
  const latency = createFiscalLatency({
    db: deps.db,
    commit: new Histogram({ name: 'gateway_fiscalization_commit_seconds', help: 'Sale received → its receipt committed', buckets: LATENCY_BUCKETS, registers }),
    display: new Histogram({ name: 'gateway_fiscalization_display_seconds', help: 'Sale received → its display acknowledged by the broker', buckets: LATENCY_BUCKETS, registers }),
    onError: (err) => deps.logger.debug({ err }, 'could not read sale ages for the latency metrics'),
  })
  const log = deps.logger

  new Gauge({
    name: 'gateway_sales_pending', help: 'Sales without a receipt yet (pending or submitted), per kassa', labelNames: ['kassa'], registers,
    async collect() {
      const rows = await query(() => sql<{ id: string; n: number }>`
        select k.id, (select count(*)::int from sales s where s.kassa_id = k.id and s.state = 'pending')
                   + (select count(*)::int from sales s where s.kassa_id = k.id and s.state = 'submitted') as n
        from kassas k`.execute(deps.db))
      this.reset()
      for (const r of rows ?? []) this.set({ kassa: r.id }, r.n)
    },
  })
  new Gauge({
    name: 'gateway_machines_online', help: 'Machines whose last status is online', registers,
    async collect() {
      const rows = await query(() => sql<{ n: number }>`select count(*)::int as n from machines where online and not disabled`.execute(deps.db))
      if (rows) this.set(rows[0]?.n ?? 0)
    },
  })
  new Gauge({
    name: 'gateway_mqtt_connected', help: '1 when the connection to the broker is up (subscribed: ingest subscriptions granted)', labelNames: ['client'], registers,
    collect() {
      const s = deps.mqtt()
      this.set({ client: 'ingest' }, Number(s.ingest))
      this.set({ client: 'publisher' }, Number(s.publisher))
      this.set({ client: 'subscribed' }, Number(s.subscribed))
    },
  })
  new Gauge({
    name: 'gateway_display_outbox_unsent', help: 'Receipt and rejection displays committed but not yet acknowledged by the broker, all gateways', registers,
    async collect() {
      const rows = await query(() => unacknowledgedDisplays(deps.db))
      if (rows) this.set(rows[0]?.n ?? 0)
    },
  })
  if (deps.displaysInFlight) {
    const inFlight = deps.displaysInFlight
    new Gauge({
      name: 'gateway_displays_in_flight', help: 'Displays this gateway published that await the broker\'s PUBACK', registers,
      collect() { this.set(inFlight()) },
    })
  }
  if (deps.alerts) {
    const alerts = deps.alerts
    new Gauge({
      name: 'gateway_alerts_active', help: 'Active fleet-health alerts, by rule and severity', labelNames: ['rule', 'severity'], registers,
      collect() {
        this.reset()
        for (const a of alerts()) this.inc({ rule: a.rule, severity: a.severity })
      },
    })
  }

  /** A scrape must not fail because the database is away: those gauges are left out instead. */
  async function query<T>(run: () => Promise<{ rows: T[] }>): Promise<T[] | null> {
    try {
      return (await run()).rows
    } catch (err) {
      log.warn({ err }, 'metrics: database query failed; gauges left out of this scrape')
      return null
    }
  }

  return {
    /** Ingest wrote a chunk: the sale consumer's hook. */
    salesWritten(w: { stored: number; repeated: number; rejected: readonly RejectedMessage[]; conflicts?: number }): void {
      const conflicts = w.conflicts ?? 0
      if (w.stored > 0) received.inc({ outcome: 'stored' }, w.stored)
      if (w.repeated > 0) received.inc({ outcome: 'repeated' }, w.repeated)
      if (w.rejected.length + conflicts > 0) received.inc({ outcome: 'rejected' }, w.rejected.length + conflicts)
      for (const r of w.rejected) rejected.inc({ stage: 'ingest', reason: ingestRejectClass(r.reason) })
      if (conflicts > 0) rejected.inc({ stage: 'ingest', reason: 'conflict' }, conflicts)
    },
    /** A fiscalization batch committed: the fiscalizer's hook, called before its displays are published. */
    committed(displays: readonly OutboxEntry[], batch: { taken: number; kicked?: boolean }): void {
      if (batch.taken > 0) {
        batchSize.observe(batch.taken)
        batches.inc({ read: batch.kicked ? 'kick' : 'claim' })
      }
      for (const d of displays) {
        if (d.payload.type === 'receipt') receipts.inc({ kind: d.payload.fiscal.kind })
        else rejected.inc({ stage: 'fiscal', reason: fiscalRejectClass(d.payload.reason) })
      }
      latency.committed(displays)
    },
    /** The broker acknowledged a display: the publisher's hook. */
    displaySent(entry: OutboxEntry): void {
      latency.sent(entry)
    },
    /** The sweeper published displays again: the publisher's hook. */
    displaysResent(count: number): void {
      resent.inc(count)
    },
  }
}
export type GatewayMetrics = ReturnType<typeof createGatewayMetrics>
